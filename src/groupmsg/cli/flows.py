"""`groupmsg submit`, `groupmsg forms …`, `groupmsg flows …` (forms and flows)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Forms and flows commands are added here."""
