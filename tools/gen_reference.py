"""Write docs/commands.md from the CLI's own --help (tests/test_docs.py fails when it drifts).

    python tools/gen_reference.py > docs/commands.md
"""

from __future__ import annotations

import io
import os
import sys
from contextlib import redirect_stdout


def help_text(args: list[str]) -> str:
    from groupmsg.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        main([*args, "--help"])
    return buf.getvalue().rstrip()


def commands() -> list[list[str]]:
    from typer.main import get_command

    from groupmsg.cli import app
    from groupmsg.cli.root import register

    register()
    found: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        found.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return found


def reference() -> str:
    os.environ["COLUMNS"] = "80"  # the same wrapping on every machine
    parts = ["# Command reference", "", "Generated from `--help` by `python tools/gen_reference.py`; do not edit.", ""]
    for path in commands():
        title = " ".join(["groupmsg", *path])
        parts += [f"## `{title}`", "", "```text", help_text(path), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(reference())
