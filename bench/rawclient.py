"""The raw-asyncio ceiling: post one webhook message per token over C keep-alive connections with
hand-written HTTP/1.1. Standard library only; run as its own process, like groupmsg.

    python bench/rawclient.py HOST PORT TOKENS_FILE CONCURRENCY TEXT   → one JSON line
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
import time

CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.I)


async def worker(host: str, port: int, jobs: list[str], text: str, results: list[bool]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    body = json.dumps({"msgtype": "text", "text": {"content": text}}, ensure_ascii=False).encode()
    try:
        while jobs:
            token = jobs.pop()
            writer.write(
                f"POST /robot/send?access_token={token} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
            )
            head = await reader.readuntil(b"\r\n\r\n")
            m = CONTENT_LENGTH.search(head)
            payload = await reader.readexactly(int(m.group(1))) if m else b""
            results.append(head.startswith(b"HTTP/1.1 200") and b'"errcode":0' in payload)
    finally:
        writer.close()


async def main(host: str, port: int, tokens: list[str], concurrency: int, text: str) -> dict[str, float]:
    jobs, results = list(reversed(tokens)), []
    started = time.perf_counter()
    workers = [worker(host, port, jobs, text, results) for _ in range(min(concurrency, len(tokens)))]
    await asyncio.wait_for(asyncio.gather(*workers), timeout=300)
    elapsed = time.perf_counter() - started
    return {"sent": len(results), "ok": sum(results), "seconds": elapsed}


if __name__ == "__main__":
    host, port, path, conc, message = sys.argv[1:6]
    with open(path, encoding="utf-8") as fh:
        all_tokens = fh.read().split()
    out = asyncio.run(main(host, int(port), all_tokens, int(conc), message))
    print(json.dumps(out))
    sys.exit(0 if out["ok"] == len(all_tokens) else 1)
