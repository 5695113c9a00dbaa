"""`groupmsg groups …` and `groupmsg paths`: every command's happy path and its errors."""

from __future__ import annotations

import json
import stat

import pytest

HOOK = "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef-hook-token"
SECRET = "SEC0123456789abcdef0123456789abcdef"


def test_add_and_list_app_and_webhook_groups(cli) -> None:
    r = cli("groups", "add", "项目A群", "--chat-id", "chat1", "--open-conversation-id", "cid1")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == "added 项目A群 (app: chat1)\n"
    r = cli("groups", "add", "运维告警", "--webhook", HOOK, "--secret", SECRET)
    assert r.exit_code == 0 and r.stderr == ""
    assert "hook-token" not in r.stdout and "运维告警 (webhook:" in r.stdout

    r = cli("groups", "list")
    assert r.exit_code == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0].split("\t")[:3] == ["name", "kind", "address"]
    assert any(line.startswith("项目A群\tapp\tchat1") for line in lines)
    assert "hook-token" not in r.stdout and SECRET not in r.stdout

    r = cli("groups", "list", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    docs = {d["name"]: d for d in json.loads(r.stdout)}
    assert docs["项目A群"]["open_conversation_id"] == "cid1"
    assert docs["运维告警"]["signed"] is True
    assert docs["运维告警"]["secret"].startswith("SEC0…") and "hook-token" not in docs["运维告警"]["webhook"]


def test_show_rename_remove(cli) -> None:
    cli("groups", "add", "旧群", "--chat-id", "chat1")
    r = cli("groups", "show", "旧群", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["chat_id"] == "chat1" and r.stderr == ""
    r = cli("groups", "rename", "旧群", "新群")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "renamed 旧群 → 新群\n", "")
    r = cli("groups", "show", "新群")
    assert r.exit_code == 0 and "chat_id" in r.stdout and "chat1" in r.stdout and r.stderr == ""
    r = cli("groups", "rename", "新群", "新群2", "--json")
    assert r.exit_code == 0 and r.stderr == "" and json.loads(r.stdout)["name"] == "新群2"
    r = cli("groups", "rename", "新群2", "新群")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "renamed 新群2 → 新群\n", "")
    r = cli("groups", "remove", "新群")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "removed 新群\n", "")
    r = cli("groups", "list")
    assert r.exit_code == 0 and r.stdout == "" and "no groups registered" in r.stderr


def test_unknown_group_exits_2_and_suggests_close_names(cli) -> None:
    cli("groups", "add", "项目A群", "--chat-id", "chat1")
    r = cli("groups", "show", "项目A")
    assert r.exit_code == 2 and r.stdout == ""
    assert "Error: no group named '项目A' in the registry" in r.stderr
    assert "did you mean '项目A群'?" in r.stderr
    assert "Traceback" not in r.stderr


def test_duplicate_name_exits_2_unless_replace(cli) -> None:
    cli("groups", "add", "g", "--chat-id", "chat1")
    r = cli("groups", "add", "g", "--chat-id", "chat2")
    assert r.exit_code == 2 and r.stdout == "" and "already registered" in r.stderr
    r = cli("groups", "add", "g", "--chat-id", "chat2", "--replace")
    assert r.exit_code == 0 and r.stderr == "" and "chat2" in r.stdout


def test_add_needs_exactly_one_way_to_reach_the_group(cli) -> None:
    r = cli("groups", "add", "g")
    assert r.exit_code == 2 and r.stdout == "" and "--chat-id" in r.stderr
    r = cli("groups", "add", "g", "--chat-id", "c", "--webhook", HOOK)
    assert r.exit_code == 2 and r.stdout == "" and "not both" in r.stderr
    r = cli("groups", "add", "g", "--chat-id", "c", "--secret", SECRET)
    assert r.exit_code == 2 and "webhook groups only" in r.stderr


def test_bad_webhook_and_secret_are_explained(cli) -> None:
    r = cli("groups", "add", "g", "--webhook", "https://oapi.dingtalk.com/robot/send")
    assert r.exit_code == 2 and r.stdout == "" and "access_token" in r.stderr
    r = cli("groups", "add", "g", "--webhook", HOOK, "--secret", "oops")
    assert r.exit_code == 2 and "starts with SEC" in r.stderr and "hook-token" not in r.stderr


def test_secret_from_stdin_and_from_an_environment_variable(cli) -> None:
    r = cli("groups", "add", "a", "--webhook", HOOK, "--secret", "-", input=SECRET + "\n")
    assert r.exit_code == 0 and r.stderr == "" and SECRET not in r.stdout
    r = cli("groups", "add", "b", "--webhook", HOOK, "--secret-env", "MY_ROBOT_SECRET", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    doc = json.loads(r.stdout)
    assert doc["secret_env"] == "MY_ROBOT_SECRET" and doc["signed"] is True and doc["secret"] is None


def test_state_is_kept_in_the_home_with_private_modes(cli, home) -> None:
    cli("groups", "add", "g", "--webhook", HOOK, "--secret", SECRET)
    r = cli("paths", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    paths = json.loads(r.stdout)
    assert paths["home"] == str(home) and paths["registry"] == str(home / "registry")
    assert paths["oapi_url"] == "https://oapi.dingtalk.com"
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_home_option_wins_over_environment(cli, tmp_path) -> None:
    other = tmp_path / "other"
    r = cli("--home", str(other), "paths")
    assert r.exit_code == 0 and r.stderr == "" and f"home      {other}" in r.stdout


@pytest.mark.slow
def test_every_command_has_help(cli) -> None:
    from typer.main import get_command

    from groupmsg.cli import app
    from groupmsg.cli.root import register

    register()
    root = get_command(app)
    stack = [((), root)]
    seen = 0
    while stack:
        path, cmd = stack.pop()
        for name, sub in getattr(cmd, "commands", {}).items():
            assert sub.help or sub.short_help, f"{' '.join((*path, name))} has no help"
            stack.append(((*path, name), sub))
            r = cli(*path, name, "--help")
            assert r.exit_code == 0 and "Usage:" in r.stdout and r.stderr == ""
            seen += 1
    assert seen >= 10


def test_version_and_exit_codes_in_help(cli) -> None:
    r = cli("--version")
    assert (r.exit_code, r.stderr) == (0, "") and r.stdout.startswith("groupmsg ")
    r = cli("--help")
    assert r.exit_code == 0 and "Exit codes: 0 success" in r.stdout and "3 nothing to do" in r.stdout


def test_bad_option_is_a_usage_error_with_exit_2(cli) -> None:
    r = cli("groups", "list", "--no-such-option")
    assert r.exit_code == 2 and r.stdout == "" and "No such option" in r.stderr


def test_shell_completion_offers_registered_group_names(cli, home) -> None:
    import os
    import subprocess
    import sys

    cli("groups", "add", "项目A群", "--chat-id", "c1")
    cli("groups", "add", "运维告警", "--chat-id", "c2")
    env = {**os.environ, "GROUPMSG_HOME": str(home), "_GROUPMSG_COMPLETE": "complete_bash",
           "COMP_WORDS": "groupmsg send --group 项", "COMP_CWORD": "3"}
    p = subprocess.run([sys.executable, "-m", "groupmsg"], env=env, capture_output=True, text=True, timeout=30)
    assert (p.returncode, p.stdout.split(), p.stderr) == (0, ["项目A群"], "")
