"""Targets 1, 2, 6 and 7: one-shot send (vs curl, a stdlib script, apprise), --version/--help (vs
`import typer`), submit (vs send), a one-shot action card (vs a one-shot text). Whole processes,
interleaved, medians."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import sys
from pathlib import Path

from common import (
    APP_ENV,
    BENCH,
    GROUPMSG,
    PYTHON,
    ROOT,
    TEXT,
    TIME,
    BenchError,
    Ctx,
    Lab,
    Result,
    Row,
    abs_row,
    add_groups,
    base_env,
    compare,
    help_text,
    home_env,
    log,
    na_row,
    peak_rss_mib,
    ratio_row,
    received,
    run,
    webhook_group,
)

APPRISE_VENV = BENCH / ".venv-apprise"

# The floor: what any Python script posting one webhook message pays (interpreter start-up included).
FLOOR = """\
import json, sys, urllib.request
body = json.dumps({"msgtype": "text", "text": {"content": sys.argv[2]}}).encode()
req = urllib.request.Request(sys.argv[1], data=body, headers={"Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=10).read().decode())
"""


def apprise_exe(ctx: Ctx) -> str | None:
    """apprise in its own venv (bench/.venv-apprise, created on first use), never beside groupmsg."""
    exe = APPRISE_VENV / "bin" / "apprise"
    if exe.exists():
        return str(exe)
    log("  installing apprise into bench/.venv-apprise (first run only)…")
    python3 = shutil.which("python3") or sys.executable
    try:
        run([python3, "-m", "venv", str(APPRISE_VENV)], timeout=180)
        run([str(APPRISE_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "apprise"],
            timeout=600)
    except BenchError as exc:
        shutil.rmtree(APPRISE_VENV, ignore_errors=True)
        ctx.note(f"apprise could not be installed, its comparisons are skipped: {exc}")
        return None
    return str(exe)


def _expect_ok(name: str, res: Result) -> None:
    if name in ("curl", "floor") and '"errcode":0' not in res.out.replace(" ", ""):
        raise BenchError(f"{name} did not get errcode 0 from the sandbox: {res.out.strip()[:200]}")


def one_shot(ctx: Ctx, lab: Lab) -> list[Row]:
    sb, url, tokens = lab.sb, lab.url, lab.tokens
    n = ctx.sizes.runs
    home = ctx.tmpdir("home-oneshot-")
    probes = tokens.take(n + 5)  # one per timed run, the warm-up, the import-time profile, 3 memory runs
    add_groups(home, [webhook_group(f"probe-{i}", url, t) for i, t in enumerate(probes)])
    # App groups (chat/send): the access token is fetched once, then read from the cache.
    chats = [sb.add_chat(name=f"app-{i}", owner="demo-user")["chat_id"] for i in range(n + 1)]
    from groupmsg.state.model import Group

    add_groups(home, [Group(name=f"app-{i}", kind="app", chat_id=c, source="import") for i, c in enumerate(chats)])
    env, app_env = home_env(home, url), home_env(home, url, **APP_ENV)
    hook = f"{url}/robot/send?access_token={tokens.take(1)[0]}"
    port = url.rsplit(":", 1)[1]
    commands = {
        "groupmsg": lambda i: ([GROUPMSG, "send", "--group", f"probe-{i}", TEXT], env),
        "groupmsg-app": lambda i: ([GROUPMSG, "send", "--group", f"app-{i}", TEXT], app_env),
        "floor": lambda i: ([PYTHON, "-c", FLOOR, hook, TEXT], env),
    }
    if shutil.which("curl"):
        body = json.dumps({"msgtype": "text", "text": {"content": TEXT}}, ensure_ascii=False)
        commands["curl"] = lambda i: (["curl", "-sS", "-H", "Content-Type: application/json", "-d", body, hook], env)
    else:
        ctx.note("curl not found: its comparison is skipped")
    apprise = apprise_exe(ctx)
    if apprise:  # apprise drops the query string: DingTalk-style it is refused (300001) inside an HTTP 200,
        # which apprise reports as sent; the round trip is the same.
        commands["apprise"] = lambda i: ([apprise, "-b", TEXT, f"json://127.0.0.1:{port}/robot/send"], env)

    log(f"  one-shot send: {len(commands)} commands × {n} runs, interleaved")
    before = len(sb.requests())
    stats = compare(commands, n, cwd=home, check=_expect_ok)
    requests = len(sb.requests()) - before
    expected = len(commands) * (n + 1)
    if requests < expected:
        raise BenchError(f"the sandbox saw {requests} requests, expected at least {expected}")
    once, missing, dup = received(sb, probes[: n + 1])
    if once != n + 1:
        raise BenchError(f"groupmsg send: {missing} messages missing, {dup} duplicated")
    tokens_fetched = sum(1 for r in sb.requests() if r["path"] in ("/gettoken", "/v1.0/oauth2/accessToken"))
    ctx.details["one_shot"] = {k: s.to_doc() for k, s in stats.items()}
    ctx.details["one_shot"]["app_tokens_fetched"] = tokens_fetched
    ctx.details["send_imports_ms"] = import_profile(ctx, env, home, f"probe-{n + 1}")
    memory = {"groupmsg": [peak_rss_mib([GROUPMSG, "send", "--group", f"probe-{n + k}", TEXT], env, cwd=home)
                           for k in (2, 3, 4)]}
    if "apprise" in commands:
        memory["apprise"] = [peak_rss_mib(commands["apprise"](0)[0], env, cwd=home) for _ in range(3)]
    mem = {k: statistics.median(v) if None not in v else None for k, v in memory.items()}
    ctx.details["peak_rss_mib"] = mem

    g = stats["groupmsg"]
    rows = []
    if "apprise" in stats:
        rows.append(ratio_row("1 send vs apprise", g.median_ms, stats["apprise"].median_ms, "apprise", "ms",
                              max_ratio=0.35))
    else:
        rows.append(na_row("1 send vs apprise", "apprise not installed"))
    rows.append(ratio_row("1 send vs stdlib floor", g.median_ms, stats["floor"].median_ms, "python urllib", "ms",
                          max_ratio=2.5))
    if "curl" in stats:
        rows.append(ratio_row("1 send vs curl", g.median_ms, stats["curl"].median_ms, "curl", "ms"))
    if mem["groupmsg"] is None:
        rows.append(na_row("1 send peak memory", f"{TIME} not found"))
    else:
        rows.append(abs_row("1 send peak memory", mem["groupmsg"], "MiB", at_most=30, baseline=mem.get("apprise"),
                            baseline_name="apprise"))
    rows.append(ratio_row("1 send to app group (chat/send)", stats["groupmsg-app"].median_ms, g.median_ms,
                          "webhook send", "ms", note=f"tokens fetched in {n + 1} runs: {tokens_fetched}"))
    return rows


def import_profile(ctx: Ctx, env: dict[str, str], home: Path, group: str, top: int = 14) -> dict[str, float]:
    """`python -X importtime -m groupmsg send …`: import time (self, ms) summed by top-level package."""
    res = run([PYTHON, "-X", "importtime", "-m", "groupmsg", "send", "--group", group, TEXT], env, cwd=home)
    costs: dict[str, float] = {}
    for line in res.err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \| \s*(\S+)", line)
        if m:
            package = m.group(2).split(".")[0]
            costs[package] = costs.get(package, 0) + int(m.group(1)) / 1000
    biggest = dict(sorted(costs.items(), key=lambda kv: -kv[1])[:top])
    total = sum(costs.values())
    log("  send imports (self ms by package): " + ", ".join(f"{k} {v:.0f}" for k, v in biggest.items())
        + f"; all {total:.0f}")
    return {"_total": round(total, 1), **{k: round(v, 1) for k, v in biggest.items()}}


def version_help(ctx: Ctx, lab: Lab) -> list[Row]:
    env = base_env()
    commands = {
        "--version": lambda i: ([GROUPMSG, "--version"], env),
        "--help": lambda i: ([GROUPMSG, "--help"], env),
        "import typer": lambda i: ([PYTHON, "-c", "import typer"], env),
    }
    log(f"  --version/--help: 3 commands × {ctx.sizes.runs} runs")
    stats = compare(commands, ctx.sizes.runs, cwd=ctx.work)
    ctx.details["version_help"] = {k: s.to_doc() for k, s in stats.items()}
    typer_ms = stats["import typer"].median_ms
    return [ratio_row(f"2 {flag}", stats[flag].median_ms, typer_ms, "import typer", "ms", max_ratio=2)
            for flag in ("--version", "--help")]


def submit(ctx: Ctx, lab: Lab) -> list[Row]:
    """The seed flow 发送群消息 posts to 群ID (the chat id linked from 选择群聊): an app group, chat/send.
    Compared with a one-shot send to an app group, both with the access token cached."""
    sb, url = lab.sb, lab.url
    target = "6 submit vs send"
    flows = ROOT / "flows.yaml"
    if not flows.exists():
        return [na_row(target, "not available yet: no flows.yaml at the top of the repository")]
    if help_text("submit") is None:
        return [na_row(target, "not available yet: `groupmsg submit` is not implemented")]
    from groupmsg.state.model import Group

    n = ctx.sizes.runs
    home = ctx.tmpdir("home-submit-")
    chats = {f"{kind}-{i}": sb.add_chat(name=f"{kind}-{i}", owner="demo-user")["chat_id"]
             for kind in ("sub", "send") for i in range(n + 1)}
    add_groups(home, [Group(name=name, kind="app", chat_id=c, source="import") for name, c in chats.items()])
    env = home_env(home, url, GROUPMSG_FLOWS=str(flows), **APP_ENV)
    commands = {
        "submit": lambda i: ([GROUPMSG, "submit", "群消息内容录入表", "--field", f"消息内容={TEXT}",
                              "--field", f"选择群聊=sub-{i}"], env),
        "send": lambda i: ([GROUPMSG, "send", "--group", f"send-{i}", TEXT], env),
    }
    log(f"  submit: 2 commands × {n} runs")
    stats = compare(commands, n, cwd=home)
    got = {m.get("chat_id") for m in sb.messages("chat")}
    missing = [name for name, c in chats.items() if c not in got]
    if missing:
        raise BenchError(f"submit/send: no message reached {', '.join(missing[:5])}")
    ctx.details["submit"] = {k: s.to_doc() for k, s in stats.items()}
    return [ratio_row(target, stats["submit"].median_ms, stats["send"].median_ms, "send (app group)", "ms",
                      max_ratio=1.5)]


CARD = ("--title", "发布 v2.3", "--button", "查看构建=https://ci.example.com/builds/42", "--button",
        "回滚=https://ci.example.com/rollback/42")


def one_shot_card(ctx: Ctx, lab: Lab) -> list[Row]:
    """Target 7: a one-shot send (`send --webhook URL`, no registry) of an action card costs no more
    than one of a text (≤ 1.05×): building a card is parsing, with nothing more to import."""
    url, tokens = lab.url, lab.tokens
    n = ctx.sizes.runs * 2  # a 5% budget needs more samples than the other one-shot rows
    home = ctx.tmpdir("home-card-")
    env = home_env(home, url)
    text_hooks, card_hooks = tokens.take(n + 1), tokens.take(n + 1)

    def hook(token: str) -> str:
        return f"{url}/robot/send?access_token={token}"

    commands = {
        "text": lambda i: ([GROUPMSG, "send", "--webhook", hook(text_hooks[i]), TEXT], env),
        "card": lambda i: ([GROUPMSG, "send", "--webhook", hook(card_hooks[i]), *CARD, TEXT], env),
    }
    log(f"  one-shot card vs text: 2 commands × {n} runs, interleaved")
    stats = compare(commands, n, cwd=home)
    for name, hooks in (("text", text_hooks), ("card", card_hooks)):
        once, missing, dup = received(lab.sb, hooks)
        if once != n + 1:
            raise BenchError(f"one-shot {name}: {missing} messages missing, {dup} duplicated")
    cards = [m for m in lab.sb.messages("webhook") if m.get("robot") in set(card_hooks)]
    if any(m.get("msgtype") != "actionCard" for m in cards):
        raise BenchError("one-shot card: a message arrived that is not an action card")
    ctx.details["one_shot_card"] = {k: s.to_doc() for k, s in stats.items()}
    return [ratio_row("7 one-shot action card vs text", stats["card"].median_ms, stats["text"].median_ms,
                      "one-shot text", "ms", max_ratio=1.05)]
