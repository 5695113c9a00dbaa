"""Shell completion of group and form names (Typer's completion calls these while you type)."""

from __future__ import annotations


def group_names(incomplete: str) -> list[str]:
    try:
        from ..registry import Registry
        from ..settings import Settings

        names = Registry(Settings.load().registry_dir).names()
    except Exception:  # completion must never print a traceback into the shell
        return []
    return [n for n in names if n.startswith(incomplete)]


def form_names(incomplete: str) -> list[str]:
    try:
        from ..flows.loader import load
        from ..settings import Settings

        names = [form.name for form in load(Settings.load().flows_file).forms]
    except Exception:
        return []
    return [n for n in names if n.startswith(incomplete)]
