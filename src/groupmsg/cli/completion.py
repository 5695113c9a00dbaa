"""Shell completion of group and form names (Typer's completion calls these while you type)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..app import App


def _complete(names: Callable[[], list[str]], incomplete: str) -> list[str]:
    try:
        found = names()
    except Exception:  # noqa: BLE001 — completion must never print a traceback into the shell
        return []
    from ..masking import UNSAFE

    # A name stored by an older groupmsg may hold a control character: never typed into a shell.
    return [n for n in found if n.startswith(incomplete) and not UNSAFE.search(n)]


def _app() -> App:
    from ..app import App
    from ..settings import Settings

    return App(Settings.load())


def group_names(incomplete: str) -> list[str]:
    return _complete(lambda: _app().groups.names(), incomplete)  # noqa: PLW0108 — built only when completing


def form_names(incomplete: str) -> list[str]:
    return _complete(lambda: [row["form"] for row in _app().forms.list_forms()], incomplete)
