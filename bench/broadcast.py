"""Target 3: one message to many groups on a sandbox answering after 50 ms.

Throughput is the least-squares slope of the sandbox's arrival times (messages per second while
sending), so process start-up does not count against it; the whole-process rate is reported too.
"""

from __future__ import annotations

import shutil
import statistics
from datetime import datetime

from common import (
    APP_ENV,
    BENCH,
    GROUPMSG,
    PYTHON,
    TEXT,
    BenchError,
    Ctx,
    Lab,
    Row,
    abs_row,
    add_groups,
    base_env,
    default_concurrency,
    has_option,
    home_env,
    log,
    ratio_row,
    received,
    run,
    sandbox,
    webhook_group,
)

LATENCY_S = 0.05
RAW_CONCURRENCY = 64
LIMIT_CODES = {90018, 90002}


def arrival_rate(stamps: list[str]) -> float:
    """Messages per second: the slope of (arrival time, arrival index), by least squares."""
    ts = sorted(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() for s in stamps)
    if len(ts) < 2 or ts[-1] == ts[0]:
        return float("nan")
    mt, mi = statistics.fmean(ts), (len(ts) - 1) / 2
    return sum((t - mt) * (i - mi) for i, t in enumerate(ts)) / sum((t - mt) ** 2 for t in ts)


def send_argv(n: int, names: list[str], has_all: bool, concurrency: int | None) -> list[str]:
    targets = ["--all"] if has_all else [x for name in names for x in ("--group", name)]
    return [GROUPMSG, "send", *targets, *(["--concurrency", str(concurrency)] if concurrency else []), TEXT]


def webhooks(ctx: Ctx, lab: Lab) -> list[Row]:
    n, reps = ctx.sizes.broadcast, ctx.sizes.broadcast_repeats
    conc, source = default_concurrency()
    has_all, has_conc = has_option("send", "--all"), has_option("send", "--concurrency")
    if not has_all:
        ctx.note(f"`send --all` not available: the broadcast passes --group {n} times")
    if not has_conc:
        ctx.note("`send --concurrency` not available: groupmsg broadcasts at its built-in concurrency")
    robots = [f"bc{i:05d}" for i in range(n)]
    names = [f"广播群-{i:05d}" for i in range(n)]
    template = ctx.tmpdir("home-broadcast-")
    tokens_file = ctx.work / "raw-tokens.txt"
    tokens_file.write_text("\n".join(robots))
    timeout = 120 + n * LATENCY_S * 2  # even a sequential send finishes well within this

    samples: dict[str, list[tuple[float, float]]] = {}  # label → [(arrival rate, whole-process rate)]
    bad = 0
    with sandbox(robots, latency_ms=int(LATENCY_S * 1000), limits=False) as (sb, url):
        add_groups(template, [webhook_group(name, url, t) for name, t in zip(names, robots, strict=True)])
        host, port = url.removeprefix("http://").rsplit(":", 1)
        plans: list[tuple[str, list[str], dict[str, str]]] = []
        for c in ([conc, RAW_CONCURRENCY] if has_conc else [None]):
            plans.append((f"groupmsg c={c or 'built-in'}", send_argv(n, names, has_all, c), home_env(template, url)))
        for c in (RAW_CONCURRENCY, conc):
            plans.append((f"raw c={c}", [PYTHON, str(BENCH / "rawclient.py"), host, port, str(tokens_file), str(c),
                                         TEXT], base_env()))
        for rep in range(reps):
            for label, argv, plan_env in plans:
                home, e = template, plan_env
                if "GROUPMSG_HOME" in e:  # every broadcast starts from a copy of the same home (registry
                    # only): earlier runs in its run log would slow later ones down (target 5 measures that)
                    home = ctx.tmpdir("home-broadcast-")
                    shutil.copytree(template, home, dirs_exist_ok=True)
                    e = {**e, "GROUPMSG_HOME": str(home)}
                sb.reset()
                log(f"  broadcast {rep + 1}/{reps}: {label}, {n} groups")
                res = run(argv, e, cwd=home, timeout=timeout)
                _once, missing, dup = received(sb, robots)
                if missing or dup:
                    ctx.note(f"{label}: {missing} of {n} messages missing, {dup} delivered twice")
                bad += missing + dup
                rate = arrival_rate([m["received_at"] for m in sb.messages("webhook")])
                samples.setdefault(label, []).append((rate, n / res.seconds))
    med = {k: (statistics.median(r for r, _ in v), statistics.median(w for _, w in v)) for k, v in samples.items()}
    ctx.details["broadcast"] = {"groups": n, "latency_ms": LATENCY_S * 1000, "default_concurrency": conc,
                                "default_concurrency_source": source, "send_all": has_all,
                                "samples_msg_per_s": {k: [[round(r, 1), round(w, 1)] for r, w in v]
                                                      for k, v in samples.items()}}
    gm_default = med[f"groupmsg c={conc if has_conc else 'built-in'}"]
    raw64 = med[f"raw c={RAW_CONCURRENCY}"]
    rows = [
        ratio_row(f"3 broadcast {n} @c={conc} vs c/latency", gm_default[0], conc / LATENCY_S, f"{conc}/50 ms",
                  "msg/s", min_ratio=0.9, note="" if has_conc else "no --concurrency yet: built-in concurrency"),
        ratio_row(f"3 broadcast {n} @c={RAW_CONCURRENCY} vs raw asyncio", med[f"groupmsg c={RAW_CONCURRENCY}"][0]
                  if has_conc else gm_default[0], raw64[0], f"raw c={RAW_CONCURRENCY}", "msg/s", min_ratio=0.55),
        ratio_row(f"3 broadcast {n} @c={conc}, whole process", gm_default[1], conc / LATENCY_S, f"{conc}/50 ms",
                  "msg/s", note="start-up included"),
        ratio_row(f"3 raw asyncio @c={RAW_CONCURRENCY} vs c/latency", raw64[0], RAW_CONCURRENCY / LATENCY_S,
                  f"{RAW_CONCURRENCY}/50 ms", "msg/s"),
        ratio_row(f"3 raw asyncio @c={conc} vs c/latency", med[f"raw c={conc}"][0], conc / LATENCY_S,
                  f"{conc}/50 ms", "msg/s"),
        abs_row("3 broadcast: not delivered exactly once", bad, "msgs", at_most=0,
                note=f"over {len(samples) * reps} broadcasts of {n}"),
    ]
    return rows


def limited(ctx: Ctx, lab: Lab) -> list[Row]:
    """DingTalk's limits on (20 QPS per app and API): app groups through chat/send."""
    from groupmsg.state.model import Group

    m = ctx.sizes.limited
    has_all = has_option("send", "--all")
    home = ctx.tmpdir("home-limited-")
    with sandbox([], latency_ms=int(LATENCY_S * 1000), limits=True) as (sb, url):
        chats = [sb.add_chat(name=f"应用群-{i:04d}", owner="demo-user")["chat_id"] for i in range(m)]
        names = [f"应用群-{i:04d}" for i in range(m)]
        add_groups(home, [Group(name=nm, kind="app", chat_id=c, source="import") for nm, c in zip(names, chats, strict=True)])
        log(f"  limited broadcast: {m} app groups, limits on")
        res = run(send_argv(m, names, has_all, None), home_env(home, url, **APP_ENV), cwd=home,
                  timeout=120 + m * 0.2)
        msgs = sb.messages("chat")
        limit_errors = [r for r in sb.requests() if r.get("errcode") in LIMIT_CODES or r.get("status") in (403, 429)
                        or "qps" in str(r.get("code") or "").lower()]
        if len({x.get("chat_id") for x in msgs}) != m or len(msgs) != m:
            raise BenchError(f"limited broadcast: the sandbox got {len(msgs)} messages for {m} groups")
    rate = arrival_rate([x["received_at"] for x in msgs])
    ctx.details["limited"] = {"groups": m, "seconds": round(res.seconds, 2), "arrival_msg_per_s": round(rate, 2),
                              "limit_errors": len(limit_errors)}
    return [
        abs_row(f"3 limits on: {m} app groups", rate, "msg/s", at_least=19,
                note=f"whole process {m / res.seconds:.1f} msg/s"),
        abs_row("3 limits on: limit errors", len(limit_errors), "errors", at_most=0),
    ]
