"""Throughput probe for the sandbox's real socket server (not collected by pytest).

Starts ``serve_forever`` in a child process (latency_ms=50, limits off) and
fires N webhook sends at concurrency C over keep-alive connections, with a
raw-asyncio HTTP/1.1 client (measures the server) and with httpx.AsyncClient
(a realistic fast client).

    PYTHONPATH=src python tests/sandbox/load_probe.py [--requests 1000] [--concurrency 64] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import sys
import time

from groupmsg.sandbox.config import DEMO_WEBHOOK_PLAIN_TOKEN


def _serve(port: int, latency_ms: int) -> None:
    from groupmsg.sandbox import Sandbox, SandboxConfig, serve_forever

    serve_forever(Sandbox(SandboxConfig.demo(latency_ms=latency_ms, limits=False)), "127.0.0.1", port)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BODY = json.dumps({"msgtype": "text", "text": {"content": "load"}}).encode()
PATH = "/robot/send?access_token=" + DEMO_WEBHOOK_PLAIN_TOKEN


async def raw_client(port: int, n: int, conc: int) -> float:
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    remaining = [n]

    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(conc)]  # warm

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
            assert b'"errcode":0' in body, body
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in conns))
    return n / (time.perf_counter() - t0)


async def httpx_client(port: int, n: int, conc: int, pools: int = 1) -> float:
    """``pools`` AsyncClients sharing the load.  One AsyncClient with a 64-slot
    pool is itself the bottleneck (httpcore's pool bookkeeping is O(connections)
    per event: ~100 req/s here, against any server); 64 one-connection clients
    are not."""
    import httpx

    per_pool = max(1, conc // pools)
    limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
    clients = [httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) for _ in range(pools)]
    remaining = [n]

    async def worker(client: httpx.AsyncClient) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            r = await client.post(PATH, content=BODY, headers={"content-type": "application/json"})
            assert r.json()["errcode"] == 0, r.text

    workers = [clients[i % pools] for i in range(conc)]
    remaining[0] = conc
    await asyncio.gather(*(worker(c) for c in workers))  # warm the pools
    remaining[0] = n
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in workers))
    rate = n / (time.perf_counter() - t0)
    for c in clients:
        await c.aclose()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=int, default=50)
    args = ap.parse_args()
    port = _free_port()
    proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(port, args.latency_ms), daemon=True)
    proc.start()
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        rounds = -(-args.requests // args.concurrency)  # every request waits latency_ms at least
        bound = args.requests / (rounds * args.latency_ms / 1000) if args.latency_ms else float("inf")
        raw = asyncio.run(raw_client(port, args.requests, args.concurrency))
        hx_many = asyncio.run(httpx_client(port, args.requests, args.concurrency, pools=args.concurrency))
        hx_one = asyncio.run(httpx_client(port, args.requests, args.concurrency, pools=1))
        print(
            f"{args.requests} requests, concurrency {args.concurrency}, latency {args.latency_ms} ms "
            f"(ceiling {bound:.0f} req/s): raw-socket client {raw:.0f} req/s, "
            f"{args.concurrency} httpx.AsyncClients {hx_many:.0f} req/s, "
            f"one httpx.AsyncClient (pool of {args.concurrency}) {hx_one:.0f} req/s"
        )
    finally:
        proc.terminate()
        proc.join(5)
    sys.exit(0)


if __name__ == "__main__":
    main()
