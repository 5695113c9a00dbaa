"""The Redis store against the file store, in the same run: one-shot send, commands per send, a
1,000-group broadcast, and a send with 100,000 groups and 100,000 runs in the store.

A redis-server of its own (Debian's package) on a free 127.0.0.1 port in the scratch folder, with
the append-only file on (as the README recommends); each measured "home" is a key prefix of its own.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from broadcast import LATENCY_S, arrival_rate
from common import (
    GROUPMSG,
    TEXT,
    BenchError,
    Ctx,
    Lab,
    Row,
    abs_row,
    add_groups,
    compare,
    filler_groups,
    home_env,
    log,
    na_row,
    ratio_row,
    received,
    run,
    sandbox,
    webhook_group,
)


@contextlib.contextmanager
def redis_server(ctx: Ctx) -> Iterator[str | None]:
    exe = shutil.which("redis-server")
    if exe is None:
        yield None
        return
    folder = ctx.tmpdir("redis-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
                             "--appendonly", "yes", "--logfile", str(folder / "log")])
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _state(url: str | None, home: Path, prefix: str) -> Any:
    if url is None:
        from groupmsg.state.files import FileState

        return FileState(home)
    from groupmsg.state.redis import RedisState

    return RedisState(url, prefix=prefix)


def _env(url: str | None, home: Path, sb_url: str, prefix: str) -> dict[str, str]:
    extra = {"GROUPMSG_STORE": url, "GROUPMSG_REDIS_PREFIX": prefix} if url else {}
    return home_env(home, sb_url, **extra)


def _add(url: str | None, home: Path, prefix: str, groups: list[Any]) -> None:
    if url is None:
        add_groups(home, groups)
        return
    st = _state(url, home, prefix)
    for i in range(0, len(groups), 20_000):  # one script per 20,000: all or none within each
        st.registry.add_many(groups[i:i + 20_000])
    st.close()


def _history(url: str | None, home: Path, prefix: str, sends: int) -> None:
    """`sends` finished one-group runs in the store."""
    if url is None:
        from scale import build_history

        build_history(home / "runs", [1] * sends)
        return
    from groupmsg.state.model import SUCCEEDED, Run, Step

    st = _state(url, home, prefix)
    at = "2026-12-01T12:00:00.000+00:00"
    message = {"text": TEXT, "markdown": False, "title": None, "at_mobiles": [], "at_user_ids": [], "at_all": False}
    for i in range(sends):
        r = Run(id=f"20261201-120000-{i:06x}", kind="send", status=SUCCEEDED, name="send", context={"message": message},
                finished_at=at, started_at=at, pid=1)
        r.steps = [Step(id="s1", name="项目群-000001", kind="send_group_message", status=SUCCEEDED, attempts=1,
                        duration_ms=85, finished_at=at, inputs={"group": "项目群-000001", "channel": "webhook"})]
        st.runs.save(r)
    st.close()


def one_shot(ctx: Ctx, lab: Lab) -> list[Row]:
    with redis_server(ctx) as url:
        if url is None:
            return [na_row("R1 send, Redis vs files", "redis-server not installed")]
        n = ctx.sizes.runs
        homes = {"files": ctx.tmpdir("home-files-"), "redis": ctx.tmpdir("home-redis-")}
        commands = {}
        for kind, home in homes.items():
            robots = lab.tokens.take(n + 3)
            store = url if kind == "redis" else None
            _add(store, home, "one:", [webhook_group(f"probe-{i}", lab.url, t) for i, t in enumerate(robots)])
            env = _env(store, home, lab.url, "one:")
            commands[kind] = (lambda i, e=env: ([GROUPMSG, "send", "--group", f"probe-{i}", TEXT], e))
        log(f"  redis one-shot: files vs redis × {n} runs, interleaved")
        stats = compare(commands, n, cwd=homes["files"])
        count, total = count_commands(url, commands["redis"](n + 1)[0], commands["redis"](n + 1)[1])
        ctx.details["redis_one_shot"] = {k: s.to_doc() for k, s in stats.items()}
        ctx.details["redis_commands_per_send"] = {"client_sent": count, "info_stats_total": total}
    return [
        ratio_row("R1 send, Redis vs files store", stats["redis"].median_ms, stats["files"].median_ms, "files store",
                  "ms", max_ratio=2, note="import redis alone is ~75 ms"),
        abs_row("R2 Redis commands sent by a 1-group send", count, "cmds", at_most=8,
                note=f"MONITOR, scripts count 1; INFO stats total_commands_processed, which also counts the "
                     f"commands run inside scripts: {total}"),
    ]


def count_commands(url: str, argv: list[str], env: dict[str, str]) -> tuple[int, int]:
    """(commands the send's process sent, by MONITOR; INFO stats delta including script internals)."""
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    lines: list[str] = []
    monitor_conn = redis.Redis.from_url(url, decode_responses=True)
    stop = threading.Event()

    def watch() -> None:
        with monitor_conn.monitor() as m:
            for cmd in m.listen():
                if stop.is_set():
                    return
                lines.append(f"{cmd.get('client_type', '')} {cmd.get('client_address', '')} {cmd['command']}")

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    time.sleep(0.3)
    before = client.info("stats")["total_commands_processed"]
    run(argv, env)
    after = client.info("stats")["total_commands_processed"]
    time.sleep(0.3)
    stop.set()
    client.ping()  # wakes the monitor so that it sees stop
    t.join(2)
    ours = [x for x in lines if not x.startswith("lua") and "INFO" not in x.upper().split(" ", 2)[-1][:5]
            and "PING" not in x.upper()]
    return len(ours), after - before - 1  # the second INFO counts itself


def broadcast(ctx: Ctx, lab: Lab) -> list[Row]:
    n = ctx.sizes.broadcast
    robots = [f"rbc{i:05d}" for i in range(n)]
    with redis_server(ctx) as url, sandbox(robots, latency_ms=int(LATENCY_S * 1000), limits=False) as (sb, sb_url):
        if url is None:
            return [na_row("R3 broadcast, Redis vs files", "redis-server not installed")]
        rates: dict[str, list[float]] = {"files": [], "redis": []}
        for rep in range(ctx.sizes.broadcast_repeats):
            for kind in ("files", "redis"):
                home, prefix = ctx.tmpdir(f"home-bc-{kind}-"), f"bc{rep}:"
                store = url if kind == "redis" else None
                _add(store, home, prefix, [webhook_group(f"广播群-{i:05d}", sb_url, t) for i, t in enumerate(robots)])
                sb.reset()
                log(f"  redis broadcast {rep + 1}: {kind}, {n} groups")
                run([GROUPMSG, "send", "--all", TEXT], _env(store, home, sb_url, prefix), cwd=home, timeout=600)
                _, missing, dup = received(sb, robots)
                if missing or dup:
                    raise BenchError(f"{kind} broadcast: {missing} missing, {dup} duplicated")
                rates[kind].append(arrival_rate([m["received_at"] for m in sb.messages("webhook")]))
    import statistics

    med = {k: statistics.median(v) for k, v in rates.items()}
    ctx.details["redis_broadcast"] = {k: [round(x, 1) for x in v] for k, v in rates.items()}
    return [ratio_row(f"R3 broadcast {n}, Redis vs files store", med["redis"], med["files"], "files store", "msg/s",
                      min_ratio=0.8)]


def scale(ctx: Ctx, lab: Lab) -> list[Row]:
    big = ctx.sizes.registry
    with redis_server(ctx) as url:
        if url is None:
            return [na_row("R4 send with 100k groups and runs", "redis-server not installed")]
        rows = []
        for kind in ("files", "redis"):
            store = url if kind == "redis" else None
            homes = {"fresh": ctx.tmpdir(f"home-{kind}-fresh-"), "big": ctx.tmpdir(f"home-{kind}-big-")}
            for which, home in homes.items():
                robots = lab.tokens.take(ctx.sizes.runs + 2)
                groups = [webhook_group(f"probe-{i}", lab.url, t) for i, t in enumerate(robots)]
                if which == "big":
                    groups += filler_groups(big)
                log(f"  redis scale: {kind} {which}: {len(groups)} groups")
                _add(store, home, f"{which}:", groups)
                if which == "big":
                    log(f"  redis scale: {kind}: {big} runs")
                    _history(store, home, f"{which}:", big)
            stats = compare({w: (lambda i, e=_env(store, h, lab.url, f"{w}:"):
                                 ([GROUPMSG, "send", "--group", f"probe-{i}", TEXT], e)) for w, h in homes.items()},
                            ctx.sizes.runs, cwd=homes["fresh"])
            ctx.details[f"redis_scale_{kind}"] = {k: s.to_doc() for k, s in stats.items()}
            rows.append(ratio_row(f"R4 {kind} store: send with {big:,} groups + {big:,} runs", stats["big"].median_ms,
                                  stats["fresh"].median_ms, "fresh", "ms", max_ratio=1.2))
    return rows
