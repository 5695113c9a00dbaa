"""`flows tick` / `flows next` end to end through the CLI and the sandbox: a year of occurrences,
daylight saving time, missed weeks, new and disabled flows, claims, and a killed tick."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

RUN_ID = r"\d{8}-\d{6}-[0-9a-f]{6}"

FLOWS = """
version: 1
flows:
  - name: 值班提醒
    trigger: {{schedule: "{schedule}"{tz}}}
    nodes:
      - {{kind: send_group_message, name: 提醒, chat: 值班群, text: "{{{{ schedule.date }}}} 值班 ({{{{ schedule.time }}}}, 补 {{{{ schedule.skipped }}}})"}}
"""


@pytest.fixture
def oncall(cli, creds, sandbox):
    chat = sandbox.add_chat(name="值班群", owner="demo-user")["chat_id"]
    assert cli("groups", "add", "值班群", "--chat-id", chat).exit_code == 0
    return chat


@pytest.fixture
def schedule(write_flows, oncall):
    def write(expr: str, timezone: str | None = "Asia/Shanghai") -> None:
        tz = f", timezone: {timezone}" if timezone else ""
        write_flows(FLOWS.format(schedule=expr, tz=tz))

    return write


def tick(cli, now: datetime | str, *extra: str, quiet: bool = False, transport=None):
    at = now if isinstance(now, str) else now.isoformat()
    return cli(*(["--quiet"] if quiet else []), "flows", "tick", "--now", at, *extra, transport=transport)


def ran(cli) -> list[dict]:
    return json.loads(cli("runs", "list", "--limit", "0", "--json").stdout)


# --- a year of ticks ---------------------------------------------------------------------------------
# These drive the service `groupmsg flows tick --now` calls (`app.forms.tick(options, now)`, the same
# --now text), 365+ times each. Not through the CLI: in a test process every registered Typer
# command is rebuilt per invocation (~35 ms, the harness's cost, not a tick's). The home is on tmpfs
# where there is one (a tick's fsyncs are the disk's cost), and the sandbox does not emulate
# DingTalk's 20 requests/s (a year of reminders in seconds would trip it).


@pytest.fixture
def year_app(tmp_path, sandbox, creds):
    import dataclasses
    import shutil
    import tempfile
    from pathlib import Path

    from groupmsg.app import App
    from groupmsg.app.types import SendOptions
    from groupmsg.sandbox import Sandbox, SandboxConfig
    from groupmsg.settings import Settings
    from groupmsg.state.model import Group

    shm = Path("/dev/shm")
    home = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else tmp_path))
    made = []

    def make(expr: str, timezone: str):
        unlimited = Sandbox(dataclasses.replace(SandboxConfig.demo(), limits=False))
        flows = tmp_path / "flows.yaml"
        flows.write_text(FLOWS.format(schedule=expr, tz=f", timezone: {timezone}"), encoding="utf-8")
        env = {**creds, "GROUPMSG_API_RATE": "100000/1"}
        app = App(Settings.load(home=home, flows_file=flows, env=env), transport=unlimited.transport())
        chat = unlimited.add_chat(name="值班群", owner="demo-user")["chat_id"]
        app.state.registry.add(Group(name="值班群", kind="app", chat_id=chat))
        made.append(app)

        def tick(now: datetime):
            return app.forms.tick(SendOptions(), now.isoformat())

        return tick, unlimited

    yield make
    for app in made:
        app.close()
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_a_weekday_schedule_runs_261_times_in_2027(year_app) -> None:
    tick, sandbox = year_app("0 9 * * 1-5", "Asia/Shanghai")
    sh = ZoneInfo("Asia/Shanghai")
    assert [t.status for t in tick(datetime(2026, 12, 31, 12, 0, tzinfo=sh)).ticks] == ["first_seen"]
    day, statuses = date(2027, 1, 1), []
    while day.year == 2027:
        for hour, minute in ((9, 0), (9, 1)):  # the occurrence, and a tick a minute later that finds nothing
            result = tick(datetime(day.year, day.month, day.day, hour, minute, tzinfo=sh))
            assert result.error("flows.yaml") is None
            statuses.append((day.isoweekday() <= 5, minute, result.ticks[0].status))
        day += timedelta(days=1)
    assert {s for s in statuses if s[1] == 1} == {(True, 1, "not_due"), (False, 1, "not_due")}
    assert {s for s in statuses if s[1] == 0} == {(True, 0, "ran"), (False, 0, "not_due")}
    messages = sandbox.messages()
    assert len(messages) == 261 and statuses.count((True, 0, "ran")) == 261
    assert messages[0]["content"] == "2027-01-01 值班 (2027-01-01T09:00:00+08:00, 补 0)"
    assert messages[-1]["content"] == "2027-12-31 值班 (2027-12-31T09:00:00+08:00, 补 0)"
    assert all(date.fromisoformat(m["content"][:10]).isoweekday() <= 5 for m in messages)


@pytest.mark.slow
def test_29_february_runs_0_times_in_2027(year_app) -> None:
    tick, sandbox = year_app("0 9 29 2 *", "Asia/Shanghai")
    sh = ZoneInfo("Asia/Shanghai")
    tick(datetime(2026, 12, 31, 12, 0, tzinfo=sh))
    day = date(2027, 1, 1)
    while day.year == 2027:
        (t,) = tick(datetime(day.year, day.month, day.day, 9, 0, tzinfo=sh)).ticks
        assert (t.status, t.next) == ("not_due", "2028-02-29T09:00:00+08:00")
        day += timedelta(days=1)
    assert sandbox.messages() == []
    (t,) = tick(datetime(2028, 2, 29, 9, 0, tzinfo=sh)).ticks
    assert t.status == "ran" and len(sandbox.messages()) == 1


@pytest.mark.slow
def test_01_30_in_new_york_runs_365_times_though_it_happens_twice_in_november(year_app) -> None:
    tick, sandbox = year_app("30 1 * * *", "America/New_York")
    ny = ZoneInfo("America/New_York")
    tick(datetime(2026, 12, 31, 12, 0, tzinfo=ny))
    day, ran = date(2027, 1, 1), []
    while day.year == 2027:
        first = datetime(day.year, day.month, day.day, 1, 30, tzinfo=ny)
        second = first.replace(fold=1)  # the same wall time an hour later on the day clocks go back
        for at in dict.fromkeys([first.isoformat(), second.isoformat()]):
            ran += [t.occurrence for t in tick(datetime.fromisoformat(at)).ticks if t.status == "ran"]
        day += timedelta(days=1)
    assert len(ran) == 365 and len(sandbox.messages()) == 365
    assert [r for r in ran if r.startswith("2027-11-07")] == ["2027-11-07T01:30:00-04:00"]  # the first 01:30
    assert [r for r in ran if r.startswith("2027-03-14")] == ["2027-03-14T01:30:00-05:00"]


# --- one tick at a time, through the command line -----------------------------------------------------


def test_a_time_skipped_in_spring_runs_when_the_clocks_jump(cli, schedule, sandbox) -> None:
    schedule("30 2 * * *", "America/New_York")
    assert tick(cli, "2027-03-13T12:00-05:00").exit_code == 0
    r = tick(cli, "2027-03-14T02:59-05:00")  # there is no 02:59 that night: it is 03:59 EDT, after the jump
    assert (r.exit_code, r.stderr) == (0, "")
    assert "occurrence 2027-03-14T03:00:00-04:00 (30 2 * * *, America/New_York)" in r.stdout
    assert [m["content"] for m in sandbox.messages()] == ["2027-03-14 值班 (2027-03-14T03:00:00-04:00, 补 0)"]


def test_three_missed_weeks_run_once_and_say_so(cli, schedule, sandbox) -> None:
    schedule("0 9 * * 1-5")
    assert tick(cli, "2027-01-04T09:00+08:00").exit_code == 0  # first seen: the 09:00 of that day is not run
    r = tick(cli, "2027-01-25T10:30+08:00")
    assert (r.exit_code, r.stderr) == (0, "")
    assert re.fullmatch(
        rf"flow 值班提醒: succeeded \(run ({RUN_ID})\) — occurrence 2027-01-25T09:00:00\+08:00 \(0 9 \* \* 1-5, "
        r"Asia/Shanghai\); skipped 14 missed occurrence\(s\) since 2027-01-05T09:00:00\+08:00\n"
        r"  succeeded 提醒  sent to 值班群 \(chat\)\n",
        r.stdout,
    ), r.stdout
    run_id = re.search(RUN_ID, r.stdout).group(0)
    assert [m["content"] for m in sandbox.messages()] == ["2027-01-25 值班 (2027-01-25T09:00:00+08:00, 补 14)"]
    r = cli("runs", "show", run_id)
    assert (r.exit_code, r.stderr) == (0, "")
    assert ("schedule 0 9 * * 1-5 (Asia/Shanghai): occurrence 2027-01-25T09:00:00+08:00; "
            "14 missed occurrence(s) skipped since 2027-01-05T09:00:00+08:00\n") in r.stdout
    r = tick(cli, "2027-01-25T10:31+08:00", "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["flows"][0]["status"] == "not_due"
    assert doc["flows"][0]["next"] == "2027-01-26T09:00:00+08:00"


def test_the_machines_zone_is_used_and_named_when_none_is_given(cli, schedule, monkeypatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    schedule("0 9 * * *", timezone=None)
    r = cli("flows", "list")
    assert (r.exit_code, r.stderr) == (0, "")
    assert "值班提醒\tyes\tschedule 0 9 * * * (America/New_York (this machine's))\tall data\t提醒 (send_group_message)\n" in r.stdout
    r = cli("flows", "next", "--now", "2027-01-04T09:30-05:00")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == (
        "flow\tenabled\tschedule\ttimezone\tnext\tlast\n"
        "值班提醒\tyes\t0 9 * * *\tAmerica/New_York (this machine's)\t2027-01-05T09:00:00-05:00\t\n"
    )
    assert tick(cli, "2027-01-04T09:30").exit_code == 0  # no offset: this machine's local time
    r = cli("flows", "next", "--now", "2027-01-04T09:30-05:00", "--json")
    assert json.loads(r.stdout)[0]["last"] == "2027-01-04T09:30:00-05:00"


def test_a_disabled_flow_lets_its_occurrences_pass(cli, write_flows, oncall, sandbox) -> None:
    path = write_flows(FLOWS.format(schedule="0 9 * * *", tz=", timezone: UTC"))
    assert tick(cli, "2027-01-01T00:00Z").exit_code == 0
    path.write_text(path.read_text(encoding="utf-8").replace("    trigger:", "    enabled: false\n    trigger:", 1),
                    encoding="utf-8")
    r = tick(cli, "2027-01-10T10:00Z")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == ("flow 值班提醒: disabled 2027-01-10T09:00:00+00:00 (skipped 9 missed occurrence(s) since "
                        "2027-01-01T09:00:00+00:00) — disabled: the occurrence passed without a run "
                        "(next 2027-01-11T09:00:00+00:00)\n")
    path.write_text(path.read_text(encoding="utf-8").replace("    enabled: false\n", ""), encoding="utf-8")
    r = tick(cli, "2027-01-10T23:00Z")
    assert "not due" in r.stdout and sandbox.messages() == []  # enabled again: no catching up
    assert tick(cli, "2027-01-11T09:00Z").exit_code == 0 and len(sandbox.messages()) == 1


def test_no_scheduled_flow_and_a_bad_now(cli, write_flows, oncall) -> None:
    write_flows("version: 1\nflows: []\n")
    r = tick(cli, "2027-01-01T00:00Z")
    assert (r.exit_code, r.stdout) == (3, "")
    assert r.stderr.startswith("Error: no scheduled flows in ") and "Hint: give a flow `trigger: {schedule:" in r.stderr
    r = cli("flows", "tick", "--now", "next tuesday")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == ("Error: --now 'next tuesday' is not an ISO 8601 time\n"
                        "  Hint: e.g. --now 2027-01-04T09:00+08:00\n")


def test_a_failed_occurrence_exits_1_and_is_retried_by_hand(cli, schedule, sandbox) -> None:
    from flowtest_support import FailFirst

    schedule("0 9 * * *")
    assert tick(cli, "2027-01-01T00:00+08:00").exit_code == 0
    r = tick(cli, "2027-01-01T09:00+08:00", transport=FailFirst(sandbox.transport(), errcode=43007))
    assert r.exit_code == 1
    run_id = re.search(rf"flow 值班提醒: failed \(run ({RUN_ID})\)", r.stdout).group(1)
    assert r.stderr == (
        "Error: flow 值班提醒 failed at node 提醒: DingTalk error 43007: injected by the test\n"
        "  Hint: fix the cause (the app lacks the permission for this API: grant it in the developer console) "
        f"and resume with `groupmsg runs retry {run_id}`\n"
    )
    r = tick(cli, "2027-01-01T09:05+08:00")  # the occurrence was taken: a later tick does not run it again
    assert r.exit_code == 0 and "not due" in r.stdout and sandbox.messages() == []
    r = cli("runs", "retry", run_id)
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"run {run_id}: succeeded\n", "")
    assert [m["content"] for m in sandbox.messages()] == ["2027-01-01 值班 (2027-01-01T09:00:00+08:00, 补 0)"]


def test_an_occurrence_claimed_by_another_tick_is_not_run_again(cli, schedule, sandbox, app) -> None:
    schedule("0 9 * * *")
    assert tick(cli, "2027-01-01T00:00+08:00").exit_code == 0
    app.state.dedupe.claim("schedule:值班提醒:2027-01-01T09:00:00+08:00", "20270101-090000-abcdef")
    r = tick(cli, "2027-01-01T09:00+08:00")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == ("flow 值班提醒: claimed 2027-01-01T09:00:00+08:00 — already running: run "
                        "20270101-090000-abcdef is being started by another process (occurrence "
                        "2027-01-01T09:00:00+08:00) (next 2027-01-02T09:00:00+08:00)\n")
    assert sandbox.messages() == []


def test_a_tick_killed_before_it_moved_the_mark_is_resumed_by_the_next(cli, schedule, sandbox, app) -> None:
    """A process killed between saving its run and moving the mark leaves an unsettled run and
    the claim: the next tick resumes that run instead of starting another."""
    from groupmsg.state.model import Run, Step

    schedule("0 9 * * *")
    assert tick(cli, "2027-01-01T00:00+08:00").exit_code == 0
    killed = Run(id="20270101-090000-dead00", kind="flow", name="值班提醒", pid=2**22 + 7,
                 steps=[Step(id="1", name="提醒", kind="send_group_message")],
                 context={"event": "schedule", "values": {}, "flows_file": "",
                          "schedule": {"time": "2027-01-01T09:00:00+08:00", "date": "2027-01-01",
                                       "timezone": "Asia/Shanghai", "skipped": 0}})
    app.state.runs.save(killed)
    app.state.dedupe.claim("schedule:值班提醒:2027-01-01T09:00:00+08:00", killed.id)
    r = tick(cli, "2027-01-01T09:02+08:00")
    assert (r.exit_code, r.stderr) == (0, "")
    assert f"flow 值班提醒: succeeded (run {killed.id}) — occurrence 2027-01-01T09:00:00+08:00" in r.stdout
    assert f"resumed run {killed.id}" in r.stdout
    assert [m["content"] for m in sandbox.messages()] == ["2027-01-01 值班 (2027-01-01T09:00:00+08:00, 补 0)"]
    assert "not due" in tick(cli, "2027-01-01T09:03+08:00").stdout
