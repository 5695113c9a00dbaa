"""`groupmsg store copy FROM TO`: move the registry (secrets included) and the form records between
the file store and Redis, either way.

FROM and TO name a store without ever putting a password on the command line: `files` (the home),
`files:PATH`, `redis` (the Redis that GROUPMSG_STORE names, password and all), or a
`redis://host:port/db` URL whose password comes from GROUPMSG_REDIS_PASSWORD. Groups already in the
target are refused (nothing copied) unless replacing; records already there (same id) are skipped,
so a copy can be run again. Runs, dedupe keys, rate-limit windows, tokens and scheduled flows'
marks are not copied: they belong to what each store saw (a scheduled flow new to a store runs from
its next occurrence, never from the past).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..errors import BadInput, ConfigError

if TYPE_CHECKING:
    from ..settings import Settings
    from ..state.base import State


@dataclass
class CopyReport:
    source: str
    target: str
    groups: int = 0
    records: dict[str, int] = field(default_factory=dict)  # form → records added

    def to_doc(self) -> dict[str, object]:
        return {"from": self.source, "to": self.target, "groups": self.groups, "records": self.records}


def resolve(spec: str, settings: Settings) -> Settings:
    """The settings of the store `spec` names (see the module's docstring)."""
    from ..state import STORE_FORMS, is_redis

    spec = spec.strip()
    if spec == "redis":
        if not is_redis(settings.store):
            raise ConfigError(
                "`redis` names the Redis of GROUPMSG_STORE, which is not set to a redis:// URL",
                hint="export GROUPMSG_STORE=redis://host:6379/0 (or give the URL, password in GROUPMSG_REDIS_PASSWORD)",
            )
        return settings
    if spec == "files" or spec.startswith("files:") or is_redis(spec):
        from ..masking import mask_store_url

        if mask_store_url(spec) != spec:
            raise ConfigError(
                "a store on the command line must not carry a password (it shows in `ps` and shell history)",
                hint="use `redis` for the Redis of GROUPMSG_STORE, or set GROUPMSG_REDIS_PASSWORD",
            )
        return replace(settings, store=spec)
    raise BadInput(f"unknown store {spec!r}", hint=f"give one of: redis (GROUPMSG_STORE), {STORE_FORMS}")


def copy_state(source: State, target: State, *, replace_groups: bool = False) -> CopyReport:
    """Copy every group (as one step: all or none) then every form's records, oldest first."""
    report = CopyReport(source.describe()["store"], target.describe()["store"])
    groups = source.registry.list()
    if groups:
        report.groups = target.registry.add_many(groups, replace_existing=replace_groups)
    for form in source.records.forms():
        records = list(reversed(list(source.records.iter(form))))
        report.records[form] = target.records.restore(form, records)
    return report


def copy(settings: Settings, source_spec: str, target_spec: str, *, replace_groups: bool = False) -> CopyReport:
    from ..state import open_state

    source_settings, target_settings = resolve(source_spec, settings), resolve(target_spec, settings)
    source, target = open_state(source_settings), open_state(target_settings)
    try:
        if source.describe() == target.describe():
            raise BadInput(f"{source_spec} and {target_spec} are the same store")
        return copy_state(source, target, replace_groups=replace_groups)
    finally:
        source.close()
        target.close()
