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


def _serve(port: int, latency_ms: int) -> None:
    from groupmsg.sandbox import Sandbox, SandboxConfig, serve_forever

    serve_forever(Sandbox(SandboxConfig.demo(latency_ms=latency_ms, limits=False)), "127.0.0.1", port)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BODY = json.dumps({"msgtype": "text", "text": {"content": "load"}}).encode()
PATH = "/robot/send?access_token=demo-webhook-plain"


async def raw_client(port: int, n: int, conc: int) -> float:
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    remaining = [n]

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while remaining[0] > 0:
            remaining[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
            assert b'"errcode":0' in body, body
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return n / (time.perf_counter() - t0)


async def httpx_client(port: int, n: int, conc: int) -> float:
    import httpx

    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:
        sem = asyncio.Semaphore(conc)

        async def one() -> None:
            async with sem:
                r = await client.post(PATH, content=BODY, headers={"content-type": "application/json"})
                assert r.json()["errcode"] == 0, r.text

        await asyncio.gather(*(one() for _ in range(conc)))  # warm the pool
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - t0)


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
        ideal = args.concurrency / (args.latency_ms / 1000) if args.latency_ms else float("inf")
        raw = asyncio.run(raw_client(port, args.requests, args.concurrency))
        hx = asyncio.run(httpx_client(port, args.requests, args.concurrency))
        print(
            f"{args.requests} requests, concurrency {args.concurrency}, latency {args.latency_ms} ms "
            f"(ceiling {ideal:.0f} req/s): raw-socket client {raw:.0f} req/s, httpx.AsyncClient {hx:.0f} req/s"
        )
    finally:
        proc.terminate()
        proc.join(5)
    sys.exit(0)


if __name__ == "__main__":
    main()
