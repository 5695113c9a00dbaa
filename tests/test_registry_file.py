"""A registry kept in git (`--registry-file` / GROUPMSG_REGISTRY_FILE): read-only groups over the store's,
webhook URL and secret named by variable (`webhook_env`, `secret_env`), parsed by `groups import`'s rules."""

from __future__ import annotations

import json

import pytest

from groupmsg.sandbox.config import DEMO_WEBHOOK_SECRET, DEMO_WEBHOOK_TOKEN

WEBHOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
ROWS = [
    {"name": "运维告警", "webhook_env": "OPS_WEBHOOK", "secret_env": "OPS_SECRET", "keywords": []},
    {"name": "项目A群", "kind": "app", "chat_id": "chat-from-file"},
]


@pytest.fixture
def registry_file(tmp_path, monkeypatch):
    path = tmp_path / "repo" / "dingtalk-groups.json"
    path.parent.mkdir()
    path.write_text(json.dumps(ROWS, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("GROUPMSG_REGISTRY_FILE", str(path))
    return path


def test_a_fresh_home_sends_to_a_group_of_the_file_with_url_and_secret_from_the_environment(
    cli, sandbox, registry_file, monkeypatch
) -> None:
    monkeypatch.setenv("OPS_WEBHOOK", WEBHOOK)
    monkeypatch.setenv("OPS_SECRET", DEMO_WEBHOOK_SECRET)
    r = cli("send", "--group", "运维告警", "部署完成")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to 运维告警 (webhook)\n", "")
    [msg] = sandbox.messages()  # the demo robot is signed: accepted means the secret came from OPS_SECRET
    assert msg["content"] == "部署完成"


def test_groups_list_shows_the_file_and_the_store_and_never_a_token(cli, registry_file, monkeypatch) -> None:
    monkeypatch.setenv("OPS_WEBHOOK", WEBHOOK)
    assert cli("groups", "add", "本地群", "--chat-id", "chat-local").exit_code == 0
    r = cli("groups", "list", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    got = {g["name"]: g for g in json.loads(r.stdout)}
    assert set(got) == {"运维告警", "项目A群", "本地群"}
    assert got["运维告警"]["source"] == "file" and got["运维告警"]["webhook_env"] == "OPS_WEBHOOK"
    assert got["运维告警"]["webhook"] is None and got["本地群"]["source"] == "manual"
    assert DEMO_WEBHOOK_TOKEN not in r.stdout
    r = cli("paths", "--json")
    assert r.exit_code == 0 and f"{registry_file} (read-only)" in json.loads(r.stdout)["registry"]


def test_the_flag_works_like_the_variable(cli, registry_file, monkeypatch) -> None:
    monkeypatch.delenv("GROUPMSG_REGISTRY_FILE")
    r = cli("--registry-file", str(registry_file), "groups", "show", "项目A群", "--json")
    assert r.exit_code == 0 and r.stderr == "" and json.loads(r.stdout)["chat_id"] == "chat-from-file"
    r = cli("groups", "show", "项目A群")
    assert r.exit_code == 2 and r.stdout == "" and "no group named '项目A群'" in r.stderr


def test_the_file_is_read_only(cli, registry_file) -> None:
    for args in (("groups", "add", "项目A群", "--chat-id", "x"), ("groups", "remove", "运维告警"),
                 ("groups", "rename", "项目A群", "别名")):
        r = cli(*args)
        assert r.exit_code == 2 and r.stdout == "", args
        assert f"defined in the registry file {registry_file}, which is read-only" in r.stderr
        assert "Hint: edit the file" in r.stderr
    assert cli("groups", "add", "其他群", "--chat-id", "x").exit_code == 0  # other names go to the store


def test_a_missing_variable_fails_only_the_group_that_needs_it(cli, sandbox, registry_file, creds) -> None:
    r = cli("send", "--group", "运维告警", "hi")
    assert r.exit_code == 2 and r.stdout == ""
    assert "reads its webhook URL from $OPS_WEBHOOK, which is not set" in r.stderr and "Hint: export OPS_WEBHOOK=" in r.stderr
    assert sandbox.messages() == []
    r = cli("groups", "show", "项目A群", "--json")  # the rest of the file is usable
    assert r.exit_code == 0 and r.stderr == ""


def test_a_bad_file_is_reported_with_its_rows_and_a_missing_one_by_name(cli, registry_file, tmp_path, monkeypatch) -> None:
    registry_file.write_text(json.dumps([{"name": "坏", "webhook_env": "not a name"}, {"name": "空"}]), encoding="utf-8")
    r = cli("groups", "list")
    assert r.exit_code == 2 and r.stdout == ""
    assert f"2 bad row(s) in {registry_file}" in r.stderr and "item 1: webhook_env 'not a name'" in r.stderr
    assert "item 2" in r.stderr
    monkeypatch.setenv("GROUPMSG_REGISTRY_FILE", str(tmp_path / "nope.json"))
    r = cli("send", "-g", "x", "hi")
    assert r.exit_code == 2 and r.stdout == "" and "registry file" in r.stderr and "does not exist" in r.stderr


def test_a_csv_registry_file(cli, tmp_path, monkeypatch) -> None:
    path = tmp_path / "groups.csv"
    path.write_text("name,kind,chat_id,webhook_env,secret_env\n告警,webhook,,HOOK_URL,\n", encoding="utf-8")
    r = cli("--registry-file", str(path), "groups", "show", "告警", "--json")
    assert r.exit_code == 0 and r.stderr == "" and json.loads(r.stdout)["webhook_env"] == "HOOK_URL"


def test_groups_add_webhook_env_keeps_no_url(cli, sandbox, home, monkeypatch) -> None:
    r = cli("groups", "add", "CI", "--webhook-env", "CI_HOOK", "--secret-env", "CI_SECRET")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "added CI (webhook: $CI_HOOK)\n", "")
    monkeypatch.setenv("CI_HOOK", WEBHOOK)
    monkeypatch.setenv("CI_SECRET", DEMO_WEBHOOK_SECRET)
    r = cli("send", "-g", "CI", "ok")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to CI (webhook)\n", "")
    assert all(DEMO_WEBHOOK_TOKEN not in p.read_text() for p in home.rglob("*.json") if "registry" in str(p))
    monkeypatch.setenv("CI_HOOK", "https://example.com/no-token")
    r = cli("send", "-g", "CI", "ok")
    assert r.exit_code == 2 and "$CI_HOOK (group 'CI'): the webhook URL has no access_token" in r.stderr
    r = cli("groups", "add", "X", "--webhook-env", "1BAD")
    assert r.exit_code == 2 and "--webhook-env '1BAD' is not an environment variable name" in r.stderr
    r = cli("groups", "add", "X", "--webhook-env", "A", "--webhook", WEBHOOK)
    assert r.exit_code == 2 and "either --webhook or --webhook-env" in r.stderr


def test_a_url_from_the_environment_meets_the_rules_of_a_stored_one(cli, sandbox, registry_file, monkeypatch) -> None:
    monkeypatch.setenv("OPS_WEBHOOK", "https://collector.example.com/robot/send?access_token=abc")
    monkeypatch.setenv("OPS_SECRET", DEMO_WEBHOOK_SECRET)
    r = cli("send", "--group", "运维告警", "hi")
    assert r.exit_code == 2 and r.stdout == "" and sandbox.messages() == []
    assert "$OPS_WEBHOOK (group '运维告警'): the webhook sends its access token to collector.example.com" in r.stderr
