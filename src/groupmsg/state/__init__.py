"""Everything groupmsg remembers, behind one seam: the registry, runs, form records, dedupe keys,
rate-limit windows and the token cache.

`open_state(settings)` is the one place a backend is chosen. The interfaces are in `state.base`,
the values they store in `state.model`; `state.files` keeps them in TinyDB files in the home.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..settings import Settings
    from .base import State


def open_state(settings: Settings, *, notify: Callable[[str], None] | None = None) -> State:
    """The state backend the settings name (imported only then: the cron path stays lean).
    `notify` is told, in a sentence, when a damaged derived file was moved aside and rebuilt."""
    from .files import FileState

    return FileState(settings.home, notify=notify)
