"""Every way a send can fail, per channel, against the sandbox's fault injection and real sockets
(a closed port, a full accept queue, a name that does not resolve): for each, the exit code, the
number of attempts, a bound on the wall time, that the last message names the true cause, how
many rate-limit slots it kept, and whether its step is recorded as failed or ambiguous.

The README's "When a send fails" and exit-code tables state these same rows.

`groupmsg` runs in-process (`main()`) with the production HTTP stack (`http.client`) against the
sandbox on 127.0.0.1; a DNS failure is a `.invalid` name (RFC 6761), answered here without asking
any resolver; a connect timeout is a listening socket whose accept queue is full.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from groupmsg.cli import main
from groupmsg.sandbox import Sandbox, SandboxConfig, WebhookRobot, serve_in_thread
from groupmsg.sandbox.config import (
    DEMO_CHAT_ID,
    DEMO_OPEN_CONVERSATION_ID,
    DEMO_ROBOT_CODE,
    DEMO_WEBHOOK_PLAIN_TOKEN,
    DEMO_WEBHOOK_TOKEN,
)

PATHS = {"webhook": "/robot/send", "chat": "/chat/send", "robot": "/v1.0/robot/groupMessages/send"}
KEYWORD_TOKEN = "robot-with-keywords"


@dataclass(frozen=True)
class Case:
    name: str
    channel: str
    exit: int
    attempts: int | None  # the failed or delivered step's attempts; None: no run was recorded
    says: str  # in stderr (the true cause); "" for a success, which prints nothing there
    slots: int  # rate-limit slots kept afterwards (a request that never reached DingTalk keeps none)
    step: str | None  # succeeded | failed | ambiguous (failed, "may have been delivered") | None
    max_s: float
    min_s: float = 0.0
    fault: str | None = None  # a sandbox fault, injected once on the channel's path
    endpoint: str = "sandbox"  # sandbox | closed | dns | backlog
    args: tuple[str, ...] = ()
    delivered: int | None = None  # messages the sandbox accepted
    group: str = "plain"  # plain | wrong-secret | keywords | known-keywords (webhook groups)
    text: str = "磁盘告警"

    @property
    def id(self) -> str:
        return f"{self.name}-{self.channel}" + ("-at-least-once" if "--at-least-once" in self.args else "")


REFUSED = "connection refused (gave up after 4 attempts)"
DNS = "host name not found (DNS: Name or service not known) (gave up after 4 attempts)"
AMBIGUOUS = "may have been delivered, so it was not sent again"
CASES = [
    # never reached DingTalk: a few quick tries, then the real cause; no slot kept
    *(Case("refused", ch, 1, 4, REFUSED, 0, "failed", 3.0, endpoint="closed") for ch in PATHS),
    *(Case("dns", ch, 1, 4, DNS, 0, "failed", 3.0, endpoint="dns") for ch in PATHS),
    # no answer after sending: webhooks repeat it (msgUuid), the app channels do not
    Case("read-timeout", "webhook", 0, 2, "", 2, "succeeded", 3.5, fault="timeout", delivered=1),
    Case("read-timeout", "chat", 1, 1, "did not answer within 1 s (read timeout) — it " + AMBIGUOUS, 1, "ambiguous", 2.5,
         fault="timeout", delivered=0),
    Case("read-timeout", "robot", 1, 1, "did not answer within 1 s (read timeout) — it " + AMBIGUOUS, 1, "ambiguous",
         2.5, fault="timeout", delivered=0),
    # "not now": retried after what Retry-After asks
    *(Case("429", ch, 0, 2, "", 2, "succeeded", 3.5, min_s=1.0, fault="http429", delivered=1) for ch in PATHS),
    *(Case("503", ch, 0, 2, "", 2, "succeeded", 3.5, min_s=1.0, fault="http503", delivered=1) for ch in PATHS),
    # may have been delivered: repeated on webhooks (msgUuid), not on the app channels unless chosen
    *(Case(k, "webhook", 0, 2, "", 2, "succeeded", 2.0, fault=f"http{k}", delivered=1) for k in ("500", "502", "504")),
    *(Case(k, ch, 1, 1, AMBIGUOUS, 1, "ambiguous", 1.5, fault=f"http{k}", delivered=int(k == "504"))
      for k in ("500", "502", "504") for ch in ("chat", "robot")),
    *(Case("504", ch, 0, 2, "", 2, "succeeded", 2.0, fault="http504", args=("--at-least-once",), delivered=2)
      for ch in ("chat", "robot")),
    # DingTalk's answers
    Case("130101", "webhook", 1, 1, "blocked by DingTalk until ", 1, "failed", 1.5, fault="qps", delivered=0),
    *(Case("busy", ch, 0, 2, "", 2, "succeeded", 3.5, min_s=1.0, fault="busy", delivered=1) for ch in PATHS),
    *(Case("qps", ch, 0, 2, "", 2, "succeeded", 3.5, min_s=1.0, fault="qps", delivered=1) for ch in ("chat", "robot")),
    *(Case("token-expired", ch, 0, 1, "", 1, "succeeded", 1.5, fault="token_expired", delivered=1)
      for ch in ("chat", "robot")),
    Case("sign-not-match", "webhook", 1, 1, "DingTalk error 310000: sign not match", 1, "failed", 1.5,
         group="wrong-secret", delivered=0),
    Case("keyword-missing", "webhook", 1, 1, "DingTalk error 310000: keywords not in content", 1, "failed", 1.5,
         group="keywords", text="disk full", delivered=0),
    Case("keyword-missing", "webhook", 2, None, "contains none of 'g''s keywords (告警)", 0, None, 1.5,
         group="known-keywords", text="disk full", delivered=0),
    *(Case("too-large", ch, 2, None, "at most", 0, None, 1.5, text="大" * 7000, delivered=0) for ch in PATHS),
]


@pytest.fixture
def sandbox_url() -> Iterator[tuple[Sandbox, str]]:
    robots = dict(SandboxConfig.demo().webhooks)
    robots[KEYWORD_TOKEN] = WebhookRobot(keywords=("告警",), name="keywords")
    sandbox = Sandbox(SandboxConfig.demo(webhooks=robots, faults={"timeout_s": 5.0, "retry_after_s": 1}))
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        yield sandbox, url


def closed_port() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def full_backlog() -> Iterator[str]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=1)  # the one place in the accept queue
    yield f"http://127.0.0.1:{port}"
    filler.close()
    srv.close()


@pytest.fixture
def no_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    """`.invalid` never resolves (RFC 6761): answered here, so no query leaves the machine."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kw):
        if isinstance(host, str) and host.endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def groupmsg(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str, float]:
    capsys.readouterr()
    started = time.monotonic()
    code = main(list(args))  # no transport: the production http.client stack, as cron runs it
    took = time.monotonic() - started
    out, err = capsys.readouterr()
    return code, out, err, took


def slots_kept(home: Path) -> int:
    return sum(len(json.loads(p.read_bytes() or b"[]")) for p in (home / "limits").glob("*.json"))


def register(capsys, case: Case) -> None:
    if case.channel == "webhook":
        token = {"plain": DEMO_WEBHOOK_PLAIN_TOKEN, "wrong-secret": DEMO_WEBHOOK_TOKEN}.get(case.group, KEYWORD_TOKEN)
        args = ["--webhook", f"https://oapi.dingtalk.com/robot/send?access_token={token}"]
        if case.group == "wrong-secret":
            args += ["--secret", "SEC" + "0" * 64]
        if case.group == "known-keywords":
            args += ["--keyword", "告警"]
    else:
        args = ["--chat-id", DEMO_CHAT_ID, "--open-conversation-id", DEMO_OPEN_CONVERSATION_ID]
    assert groupmsg(capsys, "groups", "add", "g", *args)[0] == 0


def point_at(monkeypatch, case: Case, url: str) -> None:
    monkeypatch.setenv("GROUPMSG_OAPI_URL", url)
    monkeypatch.setenv("GROUPMSG_API_URL", url)
    monkeypatch.setenv("DINGTALK_APP_KEY", "demo-app-key")
    monkeypatch.setenv("DINGTALK_APP_SECRET", "demo-app-secret")
    monkeypatch.setenv("GROUPMSG_API_RATE", "20/60")  # DingTalk's is 20/1: a slot must outlive the test to be counted
    if case.channel == "robot":
        monkeypatch.setenv("DINGTALK_ROBOT_CODE", DEMO_ROBOT_CODE)


def check(case: Case, home: Path, capsys, sandbox: Sandbox | None) -> None:
    code, out, err, took = groupmsg(capsys, "send", "-g", "g", *case.args, case.text)
    assert code == case.exit, err
    assert case.min_s <= took < case.max_s, took
    if case.exit == 0:
        assert err == "" and out == f"sent to g ({case.channel})\n"
    else:
        assert out == "" and case.says in err, err
        assert "window is full" not in err  # never a rate limit nobody asked about
    assert slots_kept(home) == case.slots
    runs = json.loads(groupmsg(capsys, "runs", "list", "--json")[1])
    if case.step is None:
        assert runs == []  # refused before anything was recorded or sent
    else:
        [step] = runs[0]["steps"]
        assert step["attempts"] == case.attempts
        ambiguous = step["status"] == "failed" and step["error"]["retry"] == "check"
        assert {"succeeded": step["status"] == "succeeded", "failed": step["status"] == "failed" and not ambiguous,
                "ambiguous": ambiguous}[case.step], step
        if step["status"] == "failed" and step["error"]["retry"] in ("never",):
            assert "runs retry" not in err  # no retry can fix it: none is suggested
    if sandbox is not None and case.delivered is not None:
        assert len(sandbox.messages()) == case.delivered
        if case.fault:
            assert next(r["fault"] for r in sandbox.requests() if r["path"] == PATHS[case.channel]) == case.fault


FAST = [c for c in CASES if c.max_s <= 2.0 and c.endpoint != "backlog"]
WAITS = [c for c in CASES if c not in FAST]


def run_case(case: Case, home, capsys, monkeypatch, sandbox_url, no_resolver) -> None:
    sandbox, url = sandbox_url
    if case.fault == "timeout":  # DingTalk gets 15 s to answer; here 1 s, to keep the test short
        monkeypatch.setattr("groupmsg.dingtalk.client.REQUEST_TIMEOUT_S", 1.0)
    register(capsys, case)
    endpoint = {"sandbox": url, "closed": closed_port(), "dns": "http://dingtalk-sandbox.invalid:80"}[case.endpoint]
    point_at(monkeypatch, case, endpoint)
    if case.fault:
        sandbox.inject_fault(case.fault, path=PATHS[case.channel])
    check(case, home, capsys, sandbox if case.endpoint == "sandbox" else None)


@pytest.mark.parametrize("case", FAST, ids=[c.id for c in FAST])
def test_failure_matrix(case, home, capsys, monkeypatch, sandbox_url, no_resolver) -> None:
    run_case(case, home, capsys, monkeypatch, sandbox_url, no_resolver)


@pytest.mark.slow
@pytest.mark.parametrize("case", WAITS, ids=[c.id for c in WAITS])
def test_failure_matrix_with_waits(case, home, capsys, monkeypatch, sandbox_url, no_resolver) -> None:
    run_case(case, home, capsys, monkeypatch, sandbox_url, no_resolver)


@pytest.mark.slow
@pytest.mark.parametrize("channel", list(PATHS))
def test_a_connect_timeout_fails_within_ten_seconds(channel, home, capsys, monkeypatch, full_backlog) -> None:
    case = Case("connect-timeout", channel, 1, 2, "no connection within", 0, "failed", 10.0, min_s=7.0)
    register(capsys, case)
    point_at(monkeypatch, case, full_backlog)
    check(case, home, capsys, None)


def test_after_130101_the_robot_is_blocked_for_every_process_and_sends_fail_at_once(
    home, capsys, monkeypatch, sandbox_url
) -> None:
    sandbox, url = sandbox_url
    case = Case("130101", "webhook", 1, 1, "", 1, "failed", 2.0)
    register(capsys, case)
    point_at(monkeypatch, case, url)
    assert groupmsg(capsys, "groups", "add", "h", "--webhook",
                    f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}")[0] == 0
    sandbox.inject_fault("qps", path="/robot/send")
    code, out, err, _ = groupmsg(capsys, "send", "-g", "g", "一")
    assert code == 1 and (home / "limits").glob("*.block")
    until = err.split("blocked by DingTalk until ")[1][:8]
    # the next send, to two groups of the same robot, makes no request at all
    code, out, err, took = groupmsg(capsys, "send", "-g", "g", "-g", "h", "二")
    assert (code, out) == (1, "") and took < 1.0
    run_id = err.split("(run ")[1].split(")")[0]
    assert err == (
        f"Error: blocked by DingTalk until {until}; 2 of 2 messages were not sent: g, h (run {run_id})\n"
        "  Hint: DingTalk blocks a robot for 10 minutes after more than 20 messages in a minute; another program "
        "may be sending through the same robot (groupmsg's own sends are paced below the limit); "
        f"`groupmsg runs retry {run_id}` after that time\n"
    )
    assert len([r for r in sandbox.requests() if r["path"] == "/robot/send"]) == 1
    runs = json.loads(groupmsg(capsys, "runs", "show", run_id, "--json")[1])
    assert [s["attempts"] for s in runs["steps"]] == [0, 0]


@pytest.mark.slow
def test_a_timeout_past_the_block_waits_for_it(home, capsys, monkeypatch, sandbox_url) -> None:
    sandbox, url = sandbox_url
    case = Case("130101-wait", "webhook", 0, 2, "", 2, "succeeded", 6.0, min_s=2.0)
    monkeypatch.setenv("GROUPMSG_WEBHOOK_BLOCK", "2")  # DingTalk's is 10 minutes
    register(capsys, case)
    point_at(monkeypatch, case, url)
    sandbox.inject_fault("qps", path="/robot/send")
    code, out, err, took = groupmsg(capsys, "-v", "send", "--timeout", "10", "-g", "g", "等一下")
    assert (code, out) == (0, "sent to g (webhook)\n") and 2.0 <= took < 6.0
    assert "g: attempt 1: DingTalk error 130101: send too fast, exceed 20 times per minute; retrying in 2" in err
    assert "waiting 2" in err and "for DingTalk's block on robot g to end" in err
    assert "g: attempt 2: delivered" in err


def test_json_failures_keep_the_reason_on_stderr_and_print_a_document(home, capsys, monkeypatch, sandbox_url) -> None:
    _sandbox, url = sandbox_url
    case = Case("json", "webhook", 1, 1, "", 1, "failed", 2.0, group="wrong-secret")
    register(capsys, case)
    point_at(monkeypatch, case, url)
    code, out, err, _ = groupmsg(capsys, "send", "--json", "-g", "g", "hi")
    assert code == 1 and json.loads(out)["steps"][0]["error"]["code"] == "310000"  # the run, with its failed step
    assert "Error: g: DingTalk error 310000: sign not match" in err and "groups set g --secret" in err
    code, out, err, _ = groupmsg(capsys, "send", "--json", "-g", "nope", "hi")
    hint = "see the registered groups with `groupmsg groups list`"
    assert code == 2 and json.loads(out) == {
        "error": {"code": "unknown_group", "message": "no group named 'nope' in the registry", "hint": hint}
    }
    assert err == f"Error: no group named 'nope' in the registry\n  Hint: {hint}\n"
    code, out, err, _ = groupmsg(capsys, "send", "--json", "--no-such-option", "hi")
    assert code == 2 and json.loads(out)["error"]["code"] == "usage" and "No such option: --no-such-option" in err


@pytest.mark.slow
def test_an_unreachable_endpoint_exits_1_within_10_seconds_from_a_cold_start(home, full_backlog) -> None:
    """The whole process, as cron starts it, with the default --timeout: a connect timeout (the
    slowest way to be unreachable) is reported in under 10 s, as itself."""
    import os
    import subprocess
    import sys

    hook = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"
    env = {"PATH": os.environ.get("PATH", ""), "GROUPMSG_HOME": str(home), "GROUPMSG_OAPI_URL": full_backlog,
           "NO_COLOR": "1"}
    run = [sys.executable, "-m", "groupmsg"]
    assert subprocess.run([*run, "groups", "add", "g", "--webhook", hook], env=env, capture_output=True).returncode == 0
    started = time.monotonic()
    p = subprocess.run([*run, "send", "-g", "g", "hi"], env=env, capture_output=True, text=True, timeout=30)
    took = time.monotonic() - started
    assert p.returncode == 1 and p.stdout == "" and took < 10.0, (took, p.stderr)
    assert "no connection within" in p.stderr and "connect timeout" in p.stderr and "gave up after 2 attempts" in p.stderr


README_ROWS = {
    "refused": "connection refused, DNS failure",
    "dns": "connection refused, DNS failure",
    "connect-timeout": "connect timeout (5 s)",
    "read-timeout": "no answer after sending (read timeout, 15 s)",
    "429": "HTTP 429 / 503 (`Retry-After` honoured)",
    "503": "HTTP 429 / 503 (`Retry-After` honoured)",
    "500": "HTTP 500 / 502 / 504",
    "502": "HTTP 500 / 502 / 504",
    "504": "HTTP 500 / 502 / 504",
    "130101": "130101 / 410100 (robot over 20 a minute)",
    "busy": "-1 busy (api: 429 `system.busy`)",
    "qps": "90018 / `Forbidden.AccessDenied.Qps…`",
    "token-expired": "token expired (40014 / `InvalidAuthentication`)",
    "sign-not-match": "310000 sign not match",
    "too-large": "body too large (20,000 bytes / 5,000 characters / 15,000 bytes)",
}


def readme_rows() -> dict[str, list[list[str]]]:
    """The README's "When a send fails" table: failure → its rows (continuation rows included)."""
    from terminal_support import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("## When a send fails", 1)[1].split("\n\n| failure |", 1)[1].split("\n\n", 1)[0]
    rows: dict[str, list[list[str]]] = {}
    label = ""
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        label = cells[0] or label
        rows.setdefault(label, []).append(cells)
    return rows


@pytest.mark.parametrize("case", [*CASES, Case("connect-timeout", "chat", 1, 2, "", 0, "failed", 10.0)],
                         ids=lambda c: c.id)
def test_the_readme_table_states_what_the_matrix_asserts(case) -> None:
    label = README_ROWS.get(case.name) or (
        "310000 keywords not in content" if case.step else "keywords registered with `--keyword`, none in the text")
    rows = [r for r in readme_rows()[label] if case.channel[0] in r[1].split()]
    assert len(rows) == 1, (label, case.channel)
    _, _, _, exit_code, attempts, _, slots, recorded = rows[0]
    assert str(case.exit) in exit_code.split(" ")[0 if "--at-least-once" not in case.args else -1].strip("()")
    expected_attempts = "—" if case.attempts is None else str(case.attempts)
    assert expected_attempts in attempts.replace("(", " ").replace(")", " ").split()
    assert str(case.slots) in slots.replace("(", " ").replace(")", " ").split()
    state = {None: "not recorded"}.get(case.step, case.step or "")
    assert state in recorded


def test_an_outage_fails_a_broadcast_in_seconds_not_per_group(home, capsys, monkeypatch) -> None:
    from groupmsg.app import App
    from groupmsg.settings import Settings
    from groupmsg.state.model import Group

    hook = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"
    App(Settings.load()).state.registry.add_many([Group(name=f"群{i:02d}", kind="webhook", webhook=hook)
                                                  for i in range(40)])
    url = closed_port()
    point_at(monkeypatch, Case("outage", "webhook", 1, 0, "", 0, "failed", 5.0), url)
    code, out, err, took = groupmsg(capsys, "send", "--all", "--concurrency", "4", "停电了")
    assert code == 1 and out.startswith("sent to 0 of 40 groups (run ") and took < 4.0
    assert f"could not reach {url[7:]}: connection refused (gave up after 4 attempts); 40 of 40 messages were not sent" in err
    run = json.loads(groupmsg(capsys, "runs", "list", "--json")[1])[0]
    attempts = [s["attempts"] for s in run["steps"]]
    assert sum(attempts) <= 4 * 4 and attempts.count(0) >= 36  # the rest never tried: the host was down
    assert slots_kept(home) == 0
