"""The docs cannot drift from the code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_command_reference_matches_the_cli_help() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from gen_reference import reference
    finally:
        sys.path.pop(0)
    committed = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    assert committed == reference(), "docs/commands.md is stale: run `python tools/gen_reference.py > docs/commands.md`"


def test_readme_documents_every_exit_code_and_environment_variable() -> None:
    from groupmsg import settings
    from groupmsg.errors import ExitCode

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in ExitCode:
        assert f"| {int(code)} |" in table, code
    for name in dir(settings):
        if name.startswith("ENV_"):
            assert getattr(settings, name) in readme, getattr(settings, name)


def test_readme_quick_start_has_exactly_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.strip().splitlines() if line.strip()]
    assert len(commands) == 2 and "groupmsg demo" in commands[0] and "pytest" in commands[1]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
