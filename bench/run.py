"""groupmsg's benchmark: every target of issue 5 (and the one-shot card of issue 12) with its baselines,
measured in the same run.

    .venv/bin/python bench/run.py [--quick | --full] [--only startup,broadcast,scale] [--keep]

Prints a table on stdout, writes bench/results/latest.json (and a timestamped copy in full mode).
Exit status: 0 whenever the benchmark ran, even if targets are missed (timings are noisy);
1 only if the benchmark itself broke (an exception, a command that failed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from common import BENCH, FULL, QUICK, ROOT, Ctx, Lab, Row, Tokens, log, sandbox

RESULTS = BENCH / "results"
GROUPS = ("startup", "broadcast", "scale", "redis")


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    digits = 0 if abs(value) >= 100 or unit in ("files", "errors", "msgs") else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}{' ' + unit if unit else ''}"


def table(rows: list[Row]) -> str:
    head = ("target", "measured", "baseline", "ratio", "goal", "result")
    lines = [(r.target, fmt(r.measured, r.unit),
              f"{fmt(r.baseline, r.unit)} ({r.baseline_name})" if r.baseline is not None else "—",
              f"{r.ratio:.2f}×" if r.ratio is not None else "—", r.goal or "—",
              r.status + (f" — {r.note}" if r.note else "")) for r in rows]
    widths = [max(len(x[i]) for x in [head, *lines]) for i in range(5)]
    out = []
    for i, line in enumerate([head, *lines]):
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)) + "  " + line[5])
        if i == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    return "\n".join(out)


def environment() -> dict[str, object]:
    def git(*args: str) -> str:
        res = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return res.stdout.strip()

    import groupmsg

    return {"groupmsg": getattr(groupmsg, "__version__", "?"), "commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_changes": bool(git("status", "--porcelain", "--", "src", "pyproject.toml")),
            "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def steps() -> dict[str, list[tuple[str, Callable[[Ctx, Lab], list[Row]]]]]:
    import broadcast
    import redis_store
    import scale
    import startup

    return {
        "startup": [("one-shot send", startup.one_shot), ("--version/--help", startup.version_help),
                    ("submit", startup.submit), ("one-shot card", startup.one_shot_card)],
        "scale": [("registry", scale.registry), ("history", scale.history)],
        "broadcast": [("webhook broadcast", broadcast.webhooks), ("limits on", broadcast.limited)],
        "redis": [("redis one-shot", redis_store.one_shot), ("redis broadcast", redis_store.broadcast),
                  ("redis scale", redis_store.scale)],
    }


def run_steps(ctx: Ctx, only: list[str]) -> tuple[list[Row], bool]:
    """Every step in turn; a step that breaks becomes an error row and the others still run."""
    rows: list[Row] = []
    broken = False
    tokens = Tokens("tk", 2200)
    with sandbox(tokens.all, limits=False) as (sb, url):
        lab = Lab(sb, url, tokens)
        for group, group_steps in steps().items():
            if group not in only:
                continue
            log(f"[{group}]")
            for name, fn in group_steps:
                started = time.perf_counter()
                try:
                    rows.extend(fn(ctx, lab))
                except Exception as exc:  # the benchmark broke: say where, keep measuring the rest
                    broken = True
                    traceback.print_exc()
                    rows.append(Row(f"[{group}: {name}]", None, "", status="error",
                                    note=f"{exc.__class__.__name__}: {exc}"[:400]))
                ctx.details.setdefault("step_seconds", {})[name] = round(time.perf_counter() - started, 1)
    return rows, broken


def write_json(doc: dict[str, object], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes, fewer runs (CI smoke test, < 2 min)")
    mode.add_argument("--full", action="store_true", help="the sizes of issue 5 (default)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated subset of {','.join(GROUPS)}")
    parser.add_argument("--keep", action="store_true", help="keep the scratch homes (their path is printed)")
    args = parser.parse_args()
    only = [g.strip() for g in args.only.split(",") if g.strip()]
    if unknown := set(only) - set(GROUPS):
        parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")
    name = "quick" if args.quick else "full"

    work = Path(tempfile.mkdtemp(prefix="groupmsg-bench-"))
    ctx = Ctx(name, QUICK if args.quick else FULL, work)
    started = time.time()
    log(f"groupmsg bench ({name}) in {work}")
    try:
        env = environment()
        rows, broken = run_steps(ctx, only)
    finally:
        if args.keep:
            log(f"scratch homes kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print(table(rows))
    for note in ctx.notes:
        print(f"note: {note}")
    doc = {"mode": name, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
           "seconds": round(time.time() - started, 1), "sizes": ctx.sizes.__dict__, "environment": env,
           "loadavg_at_end": [round(x, 2) for x in os.getloadavg()], "rows": [r.to_doc() for r in rows], "notes": ctx.notes, "details": ctx.details}
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(doc, RESULTS / "latest.json")
    if name == "full" and not broken and only == list(GROUPS):
        write_json(doc, RESULTS / time.strftime("%Y%m%d-%H%M%S-full.json", time.localtime(started)))
    log(f"{len(rows)} rows in {doc['seconds']} s → {RESULTS / 'latest.json'}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
