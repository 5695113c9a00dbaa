"""Targets 4 and 5: a send does not slow down with the size of the registry or of the run history,
and adding a group to a big registry rewrites at most one file."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import (
    GROUPMSG,
    TEXT,
    BenchError,
    Ctx,
    Lab,
    Row,
    Tokens,
    abs_row,
    add_groups,
    changed_files,
    compare,
    file_states,
    filler_groups,
    home_env,
    log,
    peak_rss_mib,
    ratio_row,
    received,
    run,
    webhook_group,
)

SMALL_REGISTRY = 1000
BROADCAST_GROUPS = 1000


def _k(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _probe_homes(ctx: Ctx, url: str, tokens: Tokens, kinds: tuple[str, ...]) -> tuple[dict[str, Path], list[str]]:
    """Homes with the same probe group names, each probe on its own robot; returns homes and robots."""
    n = ctx.sizes.runs
    homes, robots = {}, []
    for kind in kinds:
        homes[kind] = ctx.tmpdir(f"home-{kind}-")
        mine = tokens.take(n + 2)
        robots += mine[: n + 1]
        add_groups(homes[kind], [webhook_group(f"probe-{i}", url, t) for i, t in enumerate(mine)])
    return homes, robots


def _send(home: Path, url: str) -> Any:
    env = home_env(home, url)
    return lambda i: ([GROUPMSG, "send", "--group", f"probe-{i}", TEXT], env)


def registry(ctx: Ctx, lab: Lab) -> list[Row]:
    sb, url, tokens = lab.sb, lab.url, lab.tokens
    big = ctx.sizes.registry
    homes, robots = _probe_homes(ctx, url, tokens, ("small", "big"))
    filler = filler_groups(big)
    add_groups(homes["small"], filler[:SMALL_REGISTRY])
    log(f"  registry: adding {big} groups with Registry.add_many")
    built = add_groups(homes["big"], filler)
    del filler

    log(f"  registry: send with {_k(SMALL_REGISTRY)} vs {_k(big)} groups, {ctx.sizes.runs} runs")
    stats = compare({"small": _send(homes["small"], url), "big": _send(homes["big"], url)}, ctx.sizes.runs,
                    cwd=homes["small"])
    _once, missing, dup = received(sb, robots)
    if missing or dup:
        raise BenchError(f"registry sends: {missing} messages missing, {dup} duplicated")

    adds: dict[str, list[float]] = {"small": [], "big": []}
    rewrites: dict[str, list[list[str]]] = {"small": [], "big": []}
    for j in range(ctx.sizes.adds + 1):  # the first round warms up
        for kind, home in homes.items():
            before = file_states(home)
            res = run([GROUPMSG, "groups", "add", f"新群-{j:03d}", "--webhook",
                       f"{url}/robot/send?access_token=new{j:03d}"], home_env(home, url), cwd=home)
            if j:
                adds[kind].append(res.seconds)
                rewrites[kind].append(changed_files(before, file_states(home)))
    worst = max(rewrites["big"], key=len)
    add_ms = {k: sorted(v)[len(v) // 2] * 1000 for k, v in adds.items()}
    ctx.details["registry"] = {
        "groups": big, "build_s": round(built, 1), "send": {k: s.to_doc() for k, s in stats.items()},
        "add_ms": {k: [round(s * 1000, 1) for s in v] for k, v in adds.items()},
        "add_files_rewritten": {k: v[-1] for k, v in rewrites.items()},
    }
    return [
        ratio_row(f"4 send, {_k(big)} vs {_k(SMALL_REGISTRY)} groups", stats["big"].median_ms,
                  stats["small"].median_ms, f"{_k(SMALL_REGISTRY)} groups", "ms", max_ratio=1.5),
        abs_row(f"4 groups add to {_k(big)}: files rewritten", len(worst), "files", at_most=1,
                note=", ".join(worst)),
        ratio_row(f"4 groups add to {_k(big)}: time", add_ms["big"], add_ms["small"], f"{_k(SMALL_REGISTRY)} groups",
                  "ms"),
    ]


def build_history(runs_dir: Path, steps: list[int]) -> float:
    """Finished send runs, one per item of `steps` (its number of groups), oldest first, laid out as
    RunLog does it: a new segment once the newest reaches SEGMENT_BYTES. Returns the seconds it took."""
    import json

    from groupmsg.state.files.runs import SEGMENT_BYTES, TABLE, RunLog
    from groupmsg.state.files.store import file_lock
    from groupmsg.state.model import Run, Step

    started = time.perf_counter()
    log_ = RunLog(runs_dir)
    first = time.time() - len(steps) * 300.0  # one run every five minutes, ending now
    message = {"text": TEXT, "markdown": False, "title": None, "at_mobiles": [], "at_user_ids": [], "at_all": False}
    segments: list[list[dict]] = [[]]
    size = 0
    for i in range(len(steps)):
        if size >= SEGMENT_BYTES:
            segments.append([])
            size = 0
        t = first + i * 300.0
        at = datetime.fromtimestamp(t, UTC).astimezone().isoformat(timespec="milliseconds")
        run_ = Run(id=time.strftime("%Y%m%d-%H%M%S-", time.localtime(t)) + f"{i:06x}", kind="send",
                   status="succeeded", name="send", context={"message": message}, started_at=at,
                   finished_at=at, pid=1, segment=f"runs-{len(segments):06d}.json")
        run_.steps = [Step(id=f"s{k + 1}", name=f"项目群-{k:06d}", kind="send_group_message",
                           status="succeeded", attempts=1, duration_ms=85, finished_at=at,
                           inputs={"group": f"项目群-{k:06d}", "channel": "webhook",
                                   "to": "https://oapi.dingtalk.com/robot/send?access_token=abcd…(64)"})
                      for k in range(steps[i])]
        doc = run_.to_doc()
        segments[-1].append(doc)
        size += len(json.dumps(doc, ensure_ascii=False).encode())
    with file_lock(log_.lock_path):
        for n, docs in enumerate(segments, 1):
            with log_._store(runs_dir / f"runs-{n:06d}.json").transaction(locked=True) as db:
                db.table(TABLE).insert_multiple(docs)
    return time.perf_counter() - started


def history(ctx: Ctx, lab: Lab) -> list[Row]:
    """100,000 past sends: as one-shot runs; or with broadcasts to 1,000 groups among them, each
    followed by one-shot runs (so the newest segment holds some, as it would in use)."""
    sb, url, tokens = lab.sb, lab.url, lab.tokens
    sends = ctx.sizes.history
    broadcasts = max(1, min(50, sends // BROADCAST_GROUPS // 2))
    older = sends - broadcasts * (BROADCAST_GROUPS + 30)
    homes, robots = _probe_homes(ctx, url, tokens, ("fresh", "history", "broadcasts"))

    def runs_dir(kind: str) -> Path:
        return homes[kind] / "runs"  # the file store's run log

    log(f"  history: writing {sends} one-shot runs; {older} one-shot runs and {broadcasts} broadcasts")
    built = build_history(runs_dir("history"), [1] * sends)
    built_b = build_history(runs_dir("broadcasts"), [1] * older + ([BROADCAST_GROUPS] + [1] * 30) * broadcasts)
    log(f"  history: send in a fresh home vs homes with history, {ctx.sizes.runs} runs")
    stats = compare({kind: _send(home, url) for kind, home in homes.items()}, ctx.sizes.runs, cwd=homes["fresh"])
    _once, missing, dup = received(sb, robots)
    if missing or dup:
        raise BenchError(f"history sends: {missing} messages missing, {dup} duplicated")
    # One more send to see which files a send rewrites in a home with history.
    home = homes["history"]
    before = file_states(home)
    run(_send(home, url)(ctx.sizes.runs + 1)[0], home_env(home, url), cwd=home)
    touched = changed_files(before, file_states(home))
    rss = {kind: peak_rss_mib(_send(homes[kind], url)(ctx.sizes.runs + 1)[0], home_env(homes[kind], url))
           for kind in ("fresh", "broadcasts")}
    newest = max(runs_dir("broadcasts").glob("runs-*.json")).stat().st_size
    ctx.details["history"] = {"sends": sends, "broadcast_home": {"one_shot_runs": older, "broadcasts": broadcasts},
                              "build_s": [round(built, 1), round(built_b, 1)], "newest_segment_bytes": newest,
                              "peak_rss_mib": rss, "send": {k: s.to_doc() for k, s in stats.items()},
                              "files_written_by_a_send": touched}
    fresh = stats["fresh"].median_ms
    return [
        ratio_row(f"5 send after {_k(sends)} one-shot runs", stats["history"].median_ms, fresh, "fresh home", "ms",
                  max_ratio=1.2, note="a send writes: " + ", ".join(touched)),
        ratio_row(f"5 send after {_k(sends)} sends incl. {broadcasts} broadcasts", stats["broadcasts"].median_ms,
                  fresh, "fresh home", "ms", max_ratio=1.2,
                  note=f"newest run segment {newest / 2**20:.1f} MB; peak memory {rss['broadcasts'] or 0:.0f} MiB "
                  f"(fresh home {rss['fresh'] or 0:.0f})"),
    ]
