"""Everything groupmsg remembers, behind one seam: the registry, runs, form records, dedupe keys,
rate-limit windows and the token cache.

`open_state(settings)` is the one place a backend is chosen. The interfaces are in `state.base`,
the values they store in `state.model`; `state.files` keeps them in TinyDB files in the home,
`state.redis` in a Redis (or Valkey) server shared by many hosts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..settings import Settings
    from .base import State
    from .registry_file import Parser

REDIS_SCHEMES = ("redis://", "rediss://")
STORE_FORMS = "files, files:PATH, redis://[user[:password]@]host:port/db or rediss://… (TLS)"


def is_redis(spec: str | None) -> bool:
    return bool(spec) and str(spec).startswith(REDIS_SCHEMES)


def open_state(
    settings: Settings, *, notify: Callable[[str], None] | None = None, registry_parser: Parser | None = None
) -> State:
    """The state backend the settings name (imported only then: the cron path stays lean).

    `settings.store`: unset or `files` → files in the home; `files:PATH` → files in PATH;
    `redis://…` / `rediss://…` → that Redis. Anything else is a ConfigError (exit 2): a typo
    must never quietly fall back to local files. `notify` is told, in a sentence, when the file
    store moved a damaged derived file aside and rebuilt it.

    With `settings.registry_file` and a `registry_parser` (the app's import path), the file's groups
    are laid over the backend's registry, read-only (`state.registry_file`).
    """
    state = _backend(settings, notify)
    if settings.registry_file is None or registry_parser is None:
        return state
    from .registry_file import RegistryFile, WithRegistryFile

    return WithRegistryFile(state, RegistryFile(settings.registry_file, registry_parser))


def _backend(settings: Settings, notify: Callable[[str], None] | None) -> State:
    spec = (settings.store or "").strip()
    if is_redis(spec):
        from .redis import RedisState

        return RedisState(
            spec,
            prefix=settings.redis_prefix,
            password=settings.redis_password,
            retention_s=retention_s(settings),
        )
    from .files import FileState

    if spec in ("", "files"):
        return FileState(settings.home, notify=notify)
    if spec.startswith("files:") and spec[6:].strip():
        return FileState(Path(spec[6:].strip()).expanduser(), notify=notify)
    from ..masking import mask_store_url

    raise ConfigError(
        f"unknown state store {mask_store_url(spec)!r}",
        hint=f"GROUPMSG_STORE / --store takes {STORE_FORMS}",
    )


def retention_s(settings: Settings) -> float:
    """How long finished runs are kept: at least as long as a dedupe key points at its run."""
    from ..settings import ENV_RUNS_RETENTION
    from .model import DEDUPE_RETENTION_S

    try:
        seconds = settings.retention_s()
    except ValueError:
        seconds = 0.0
    if seconds < DEDUPE_RETENTION_S:
        raise ConfigError(
            f"{ENV_RUNS_RETENTION} must be a number of days, at least {DEDUPE_RETENTION_S // 86400} "
            f"(got {settings.runs_retention_days!r})",
            hint="a dedupe key points at its run for 7 days; a run forgotten sooner would let a repeat send again",
        )
    return seconds
