"""Shared pieces of the benchmark: the run context, result rows, process timing, sandboxes, homes."""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
GROUPMSG = str(VENV_BIN / "groupmsg")
TIME = "/usr/bin/time"
TEXT = "bench: 磁盘告警 web-01 92%"
ENV_DROP = ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_ROBOT_CODE", "GROUPMSG_FLOWS", "GROUPMSG_HOME",
            "GROUPMSG_OAPI_URL", "GROUPMSG_API_URL", "GROUPMSG_WEBHOOK_RATE", "GROUPMSG_API_RATE", "CI",
            "GROUPMSG_STORE", "GROUPMSG_REDIS_PREFIX", "GROUPMSG_REDIS_PASSWORD", "GROUPMSG_RUNS_RETENTION_DAYS")
APP_ENV = {"DINGTALK_APP_KEY": "demo-app-key", "DINGTALK_APP_SECRET": "demo-app-secret"}


class BenchError(RuntimeError):
    """The benchmark itself broke (a command failed, a check of its own setup failed)."""


# Sizes ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    runs: int  # timed runs per one-shot command (medians)
    broadcast: int  # webhook groups in the broadcast
    broadcast_repeats: int
    limited: int  # app groups in the rate-limited broadcast
    registry: int  # groups in the big registry
    history: int  # past sends in the homes with history
    adds: int  # timed `groups add` runs


QUICK = Sizes(runs=8, broadcast=200, broadcast_repeats=1, limited=60, registry=20_000, history=10_000, adds=5)
FULL = Sizes(runs=21, broadcast=1000, broadcast_repeats=3, limited=200, registry=100_000, history=100_000, adds=10)


@dataclass
class Ctx:
    mode: str
    sizes: Sizes
    work: Path  # scratch folder, removed at the end
    details: dict[str, Any] = field(default_factory=dict)  # raw figures for the JSON
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", file=sys.stderr, flush=True)

    def tmpdir(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.work))


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# Result rows ---------------------------------------------------------------------------------
@dataclass
class Row:
    target: str
    measured: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    goal: str = ""  # e.g. "≤ 0.35×", "≥ 19 msg/s"; "" = for information
    ok: bool | None = None  # None: no goal, or not measurable
    status: str = ""  # "pass" | "fail" | "info" | "n/a" | "error"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.measured is None or not self.baseline:
            return None
        return self.measured / self.baseline

    def to_doc(self) -> dict[str, Any]:
        return {
            "target": self.target, "measured": self.measured, "unit": self.unit, "baseline": self.baseline,
            "baseline_name": self.baseline_name, "ratio": self.ratio, "goal": self.goal, "status": self.status,
            "note": self.note,
        }


def ratio_row(target: str, measured: float, baseline: float, baseline_name: str, unit: str, *,
              max_ratio: float | None = None, min_ratio: float | None = None, note: str = "") -> Row:
    row = Row(target, measured, unit, baseline, baseline_name, note=note)
    ratio = row.ratio
    if max_ratio is not None:
        row.goal, row.ok = f"≤ {max_ratio:g}×", ratio is not None and ratio <= max_ratio
    elif min_ratio is not None:
        row.goal, row.ok = f"≥ {min_ratio:g}×", ratio is not None and ratio >= min_ratio
    row.status = "info" if row.ok is None else ("pass" if row.ok else "fail")
    return row


def abs_row(target: str, measured: float, unit: str, *, at_most: float | None = None,
            at_least: float | None = None, baseline: float | None = None, baseline_name: str = "",
            note: str = "") -> Row:
    row = Row(target, measured, unit, baseline, baseline_name, note=note)
    if at_most is not None:
        row.goal, row.ok = f"≤ {at_most:g} {unit}", measured <= at_most
    elif at_least is not None:
        row.goal, row.ok = f"≥ {at_least:g} {unit}", measured >= at_least
    row.status = "info" if row.ok is None else ("pass" if row.ok else "fail")
    return row


def na_row(target: str, why: str, status: str = "n/a") -> Row:
    return Row(target, None, "", status=status, note=why)


# Processes -----------------------------------------------------------------------------------
@dataclass
class Result:
    argv: list[str]
    seconds: float
    code: int
    out: str
    err: str


def run(argv: list[str], env: dict[str, str] | None = None, *, cwd: Path | None = None, timeout: float = 300,
        check: bool = True) -> Result:
    """Run a command to completion: wall time (fork to reap), exit code, output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, _ = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        res = Result(argv, seconds, proc.returncode, out.read().decode(errors="replace"),
                     err.read().decode(errors="replace"))
    if check and res.code != 0:
        shown = " ".join(a if len(a) < 80 else a[:77] + "…" for a in argv[:12])
        raise BenchError(f"`{shown}` exited {res.code} after {seconds:.1f} s: {(res.err or res.out).strip()[-800:]}")
    return res


@dataclass
class Stats:
    name: str
    seconds: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    def to_doc(self) -> dict[str, Any]:
        return {"median_ms": round(self.median_ms, 2), "min_ms": round(min(self.seconds) * 1000, 2),
                "max_ms": round(max(self.seconds) * 1000, 2), "runs": len(self.seconds),
                "samples_ms": [round(s * 1000, 2) for s in self.seconds]}


def peak_rss_mib(argv: list[str], env: dict[str, str], *, cwd: Path | None = None) -> float | None:
    """The command's peak resident set, by `/usr/bin/time -f %M` (None without it). Not from this
    process's wait4: a child's ru_maxrss also counts the memory of the process that forked it."""
    if not Path(TIME).exists():
        return None
    with tempfile.NamedTemporaryFile("r") as out:
        run([TIME, "-f", "%M", "-o", out.name, *argv], env, cwd=cwd)
        return int(out.read().split()[-1]) / 1024


Command = Callable[[int], tuple[list[str], dict[str, str]]]  # run index → argv, env


def compare(commands: dict[str, Command], runs: int, *, warmup: int = 1, cwd: Path | None = None,
            check: Callable[[str, Result], None] | None = None) -> dict[str, Stats]:
    """Time several commands interleaved (A B C A B C …) so drift hits them all alike; medians."""
    stats = {name: Stats(name, []) for name in commands}
    for i in range(warmup + runs):
        for name, command in commands.items():
            argv, env = command(i)
            res = run(argv, env, cwd=cwd)
            if check:
                check(name, res)
            if i >= warmup:
                stats[name].seconds.append(res.seconds)
    return stats


# groupmsg ------------------------------------------------------------------------------------
def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_DROP}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def home_env(home: Path, url: str, **extra: str) -> dict[str, str]:
    return base_env(GROUPMSG_HOME=str(home), GROUPMSG_OAPI_URL=url, GROUPMSG_API_URL=url, **extra)


_help_cache: dict[tuple[str, ...], str | None] = {}


def help_text(*command: str) -> str | None:
    """`groupmsg COMMAND --help`, or None when the command does not exist (yet)."""
    if command not in _help_cache:
        res = run([GROUPMSG, *command, "--help"], base_env(), check=False, timeout=60)
        _help_cache[command] = res.out if res.code == 0 else None
    return _help_cache[command]


def has_option(command: str, option: str) -> bool:
    text = help_text(command) or ""
    return re.search(rf"(^|[\s,]){re.escape(option)}([\s,=]|$)", text, re.M) is not None


def default_concurrency() -> tuple[int, str]:
    text = help_text("send") or ""
    m = re.search(r"--concurrency\b.*?default[:=]?\s*(\d+)", text, re.S | re.I)
    if m:
        return int(m.group(1)), "from `send --help`"
    try:
        from groupmsg.settings import DEFAULT_CONCURRENCY  # type: ignore[attr-defined]

        return int(DEFAULT_CONCURRENCY), "groupmsg.settings.DEFAULT_CONCURRENCY"
    except ImportError:
        return 16, "assumed (not found in `send --help`)"


# Sandbox and homes ---------------------------------------------------------------------------
@contextlib.contextmanager
def sandbox(robots: list[str], **config: Any) -> Iterator[tuple[Any, str]]:
    """A sandbox on a real 127.0.0.1 socket, served by a thread of this process, with one plain
    (unsigned) webhook robot per token, named after its token."""
    from groupmsg.sandbox import Sandbox, SandboxConfig, WebhookRobot, serve_in_thread

    demo = SandboxConfig.demo()
    webhooks = dict(demo.webhooks)
    webhooks.update({t: WebhookRobot(name=t) for t in robots})
    sb = Sandbox(SandboxConfig.demo(webhooks=webhooks, **config))
    with serve_in_thread(sb) as url:
        yield sb, url


class Tokens:
    """Hands out webhook robot tokens, each used by one probe group (so the client-side per-robot
    limit of 20 messages a minute is never what a timing measures)."""

    def __init__(self, prefix: str, count: int) -> None:
        self.all = [f"{prefix}{i:05d}" for i in range(count)]
        self._next = 0

    def take(self, n: int) -> list[str]:
        if self._next + n > len(self.all):
            raise BenchError("bench bug: not enough sandbox robots configured")
        got = self.all[self._next:self._next + n]
        self._next += n
        return got


@dataclass
class Lab:
    """The shared sandbox (limits off, no latency) with its URL and its pool of webhook robots."""

    sb: Any
    url: str
    tokens: Tokens


def webhook_group(name: str, url: str, token: str) -> Any:
    from groupmsg.state.model import Group

    return Group(name=name, kind="webhook", webhook=f"{url}/robot/send?access_token={token}", source="import")


def filler_groups(count: int, prefix: str = "项目群") -> list[Any]:
    """Groups that are never sent to: half app groups, half webhook groups, realistic sizes."""
    from groupmsg.state.model import Group

    out = []
    for i in range(count):
        if i % 2:
            out.append(Group(name=f"{prefix}-{i:06d}", kind="app", chat_id=f"chat{i:028x}",
                             open_conversation_id=f"cid{i:020x}==", owner="user-owner", source="import"))
        else:
            out.append(Group(name=f"{prefix}-{i:06d}", kind="webhook", source="import",
                             webhook=f"https://oapi.dingtalk.com/robot/send?access_token={i:064x}"))
    return out


def add_groups(home: Path, groups: list[Any]) -> float:
    """Register groups in-process with Registry.add_many; returns the seconds it took."""
    from groupmsg.state.files import FileState

    started = time.perf_counter()
    # One call: add_many into a registry that already has groups re-reads a shard per group.
    FileState(home).registry.add_many(groups)
    return time.perf_counter() - started


def received(sb: Any, robots: list[str]) -> tuple[int, int, int]:
    """Messages the sandbox accepted for these robots: (robots reached exactly once, missing, duplicated)."""
    counts: dict[str, int] = {}
    for m in sb.messages("webhook"):
        counts[m.get("robot", "")] = counts.get(m.get("robot", ""), 0) + 1
    once = sum(1 for r in robots if counts.get(r) == 1)
    missing = sum(1 for r in robots if not counts.get(r))
    return once, missing, len(robots) - once - missing


def file_states(root: Path) -> dict[str, tuple[int, int, int]]:
    """path → (inode, size, mtime_ns) of every data file (lock files excluded)."""
    states = {}
    for p in root.rglob("*"):
        if p.is_file() and not p.name.endswith(".lock"):
            st = p.stat()
            states[str(p.relative_to(root))] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return states


def changed_files(before: dict[str, tuple[int, int, int]], after: dict[str, tuple[int, int, int]]) -> list[str]:
    return sorted(p for p, s in after.items() if before.get(p) != s)
