"""``python -m groupmsg.sandbox`` — run the demo sandbox without the CLI (stdlib only)."""

from __future__ import annotations

import argparse
import sys

from .app import Sandbox
from .config import DEFAULT_FAULT_KINDS, FaultConfig, SandboxConfig
from .server import serve_forever


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m groupmsg.sandbox", description="Local DingTalk-compatible sandbox (demo config).")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--no-limits", action="store_true", help="disable the webhook window and per-app QPS limits")
    ap.add_argument("--fault-rate", type=float, default=0.0)
    ap.add_argument("--fault-kinds", default=",".join(DEFAULT_FAULT_KINDS))
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    kinds = tuple(k.strip() for k in args.fault_kinds.split(",") if k.strip())
    cfg = SandboxConfig.demo(
        latency_ms=args.latency_ms,
        limits=not args.no_limits,
        faults=FaultConfig(rate=args.fault_rate, kinds=kinds, seed=args.seed),
    )

    def ready(url: str) -> None:
        print(f"DingTalk sandbox listening on {url}  (oapi and /v1.0 paths on this one port; Ctrl-C to stop)", flush=True)

    serve_forever(Sandbox(cfg), args.host, args.port, ready=ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
