"""`groupmsg doctor`: each check, its fix, and the exit code."""

from __future__ import annotations

import json
import os
import time
from email.utils import formatdate

import httpx
from pytest_httpx import HTTPXMock

from groupmsg.sandbox.config import DEMO_WEBHOOK_SECRET, DEMO_WEBHOOK_TOKEN

HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"


def checks(r) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(r.stdout)}


def test_all_good_exits_0(cli, creds) -> None:
    cli("groups", "add", "告警", "--webhook", HOOK, "--secret", DEMO_WEBHOOK_SECRET)
    r = cli("doctor", "--json", "-m", "磁盘告警")
    assert r.exit_code == 0 and r.stderr == ""
    got = checks(r)
    assert got["credentials"]["status"] == "ok" and got["registry"]["status"] == "ok"
    assert got["group 告警: message"]["status"] == "ok" and "bytes via webhook" in got["group 告警: message"]["detail"]
    assert DEMO_WEBHOOK_TOKEN not in r.stdout and DEMO_WEBHOOK_SECRET not in r.stdout


def test_wrong_credentials_fail_with_the_fix(cli, monkeypatch) -> None:
    monkeypatch.setenv("DINGTALK_APP_KEY", "demo-app-key")
    monkeypatch.setenv("DINGTALK_APP_SECRET", "wrong-secret")
    cli("groups", "add", "应用群", "--chat-id", "chat1")
    r = cli("doctor")
    assert r.exit_code == 1 and r.stderr == ""
    assert "[FAIL] credentials: DingTalk error invalidClientIdOrSecret" in r.stdout
    assert "fix: the app key or secret is wrong" in r.stdout
    assert "wrong-secret" not in r.stdout


def test_keywords_missing_secret_env_and_oversized_message_are_caught(cli) -> None:
    cli("groups", "add", "关键词群", "--webhook", HOOK, "--keyword", "告警")
    cli("groups", "add", "CI群", "--webhook", HOOK, "--secret-env", "NOT_SET_ANYWHERE")
    r = cli("doctor", "--offline", "--json", "-m", "hello")
    assert r.exit_code == 1 and r.stderr == ""
    got = checks(r)
    assert got["group 关键词群: message"]["status"] == "fail" and "keywords (告警)" in got["group 关键词群: message"]["detail"]
    assert got["group CI群"]["status"] == "fail" and "NOT_SET_ANYWHERE" in got["group CI群"]["fix"]
    r = cli("doctor", "--offline", "--json", "-g", "关键词群", "-m", "告警" * 4000)
    assert r.exit_code == 1 and r.stderr == "" and "at most 20000 bytes" in checks(r)["group 关键词群: message"]["detail"]


def test_clock_skew_past_an_hour_fails(cli, creds, httpx_mock: HTTPXMock) -> None:
    # The clock is read from the token answer's Date: no request DingTalk would answer with an error.
    httpx_mock.add_response(
        method="POST",
        url="https://api.dingtalk.com/v1.0/oauth2/accessToken",
        json={"accessToken": "t", "expireIn": 7200},
        headers={"Date": formatdate(time.time() - 7300, usegmt=True)},
    )
    # pytest-httpx answers in place of httpx.HTTPTransport: nothing leaves the process (and any
    # request not listed here fails the test).
    r = cli("doctor", "--json", transport=httpx.HTTPTransport())
    assert r.exit_code == 1 and r.stderr == ""
    clock = checks(r)["clock"]
    assert clock["status"] == "fail" and "+73" in clock["detail"] and "NTP" in clock["fix"]
    assert checks(r)["credentials"]["status"] == "ok"


def test_without_credentials_the_clock_is_read_from_a_head_request(cli, httpx_mock: HTTPXMock) -> None:
    cli("groups", "add", "告警", "--webhook", HOOK, "--secret", DEMO_WEBHOOK_SECRET)
    httpx_mock.add_response(
        method="HEAD", url="https://oapi.dingtalk.com/", status_code=404, headers={"Date": formatdate(usegmt=True)}
    )
    r = cli("doctor", "--json", transport=httpx.HTTPTransport())
    assert r.exit_code == 0 and r.stderr == ""
    assert checks(r)["clock"]["status"] == "ok" and checks(r)["credentials"]["status"] == "skip"


def test_a_secret_of_the_wrong_shape_fails_with_groups_set_as_the_fix(cli) -> None:
    for name, secret in (("短", "SECabc123"), ("大写", "SEC" + "A" * 64), ("好", DEMO_WEBHOOK_SECRET)):
        cli("groups", "add", name, "--webhook", HOOK, "--secret", secret)
    r = cli("doctor", "--offline", "--json")
    assert r.exit_code == 1 and r.stderr == ""
    got = checks(r)
    assert got["group 短"] == {
        "name": "group 短",
        "status": "fail",
        "detail": "the signing secret in the registry is not SEC followed by 64 hex characters (it has 6 "
        "characters after SEC); DingTalk will answer 310000 sign not match",
        "fix": "copy it again from the robot's 加签 setting: `groupmsg groups set 短 --secret -`",
    }
    assert "characters other than 0-9 and a-f" in got["group 大写"]["detail"]
    assert got["group 好"]["status"] == "ok"
    assert "SECabc123" not in r.stdout


def test_loose_permissions_are_a_warning(cli, home) -> None:
    cli("groups", "add", "g", "--chat-id", "c")
    os.chmod(home, 0o755)
    r = cli("doctor", "--offline")
    assert r.exit_code == 1 and r.stderr == ""
    assert "[WARN] home:" in r.stdout and f"chmod -R go-rwx '{home}'" in r.stdout


def test_a_corrupt_registry_fails(cli, home) -> None:
    cli("groups", "add", "g", "--chat-id", "c")
    next((home / "registry").glob("groups-*.json")).write_text("{oops")
    r = cli("doctor", "--offline")
    assert r.exit_code == 1 and r.stderr == ""
    assert "[FAIL] registry:" in r.stdout and "not valid JSON" in r.stdout
