"""The real socket server: HTTP/1.1 keep-alive, concurrency, timeouts, shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sbtest_support import APP_KEY, APP_SECRET, PLAIN_HOOK

from groupmsg.sandbox import FaultConfig, Sandbox, SandboxConfig, serve_in_thread

TEXT = json.dumps({"msgtype": "text", "text": {"content": "over the wire"}}).encode()


def _hostport(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _read_response(sock: socket.socket, buf: bytearray) -> tuple[bytes, bytes]:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(rest) < length:
        rest += sock.recv(65536)
    buf[:] = rest[length:]
    return head, rest[:length]


def test_real_server_end_to_end():
    sb = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sb) as url:
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url) as c:
            tok = c.post("/v1.0/oauth2/accessToken", json={"appKey": APP_KEY, "appSecret": APP_SECRET}).json()["accessToken"]
            chat = c.post("/chat/create", params={"access_token": tok}, json={"name": "g", "owner": "u1", "useridlist": ["u1"]}).json()
            r = c.post(
                "/v1.0/robot/groupMessages/send",
                headers={"x-acs-dingtalk-access-token": tok},
                json={"msgKey": "sampleText", "msgParam": '{"content":"hi"}', "robotCode": "demo-robot", "openConversationId": chat["openConversationId"]},
            )
            assert r.status_code == 200 and r.headers["x-acs-request-id"]
            r = c.post(f"/robot/send?access_token={PLAIN_HOOK}", content=TEXT, headers={"content-type": "application/json"})
            assert r.json() == {"errcode": 0, "errmsg": "ok"}
            assert [m["channel"] for m in c.get("/_sandbox/messages").json()] == ["robot", "webhook"]
            assert c.get("/nope").status_code == 404


def test_keep_alive_pipelining_chunked_and_expect_continue():
    sb = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sb) as url:
        sock = socket.create_connection(_hostport(url))
        buf = bytearray()
        req = (
            f"POST /robot/send?access_token={PLAIN_HOOK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(TEXT)}\r\n\r\n"
        ).encode() + TEXT
        # two pipelined requests, then a third, all on one connection
        sock.sendall(req + req)
        for _ in range(2):
            head, body = _read_response(sock, buf)
            assert head.startswith(b"HTTP/1.1 200") and b"connection: keep-alive" in head.lower()
            assert json.loads(body)["errcode"] == 0
        # chunked request body
        chunked = (
            f"POST /robot/send?access_token={PLAIN_HOOK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode() + b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (TEXT[:10], TEXT[10:])) + b"0\r\n\r\n"
        sock.sendall(chunked)
        head, body = _read_response(sock, buf)
        assert json.loads(body)["errcode"] == 0
        # Expect: 100-continue (curl does this for bigger bodies)
        sock.sendall(
            (
                f"POST /robot/send?access_token={PLAIN_HOOK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(TEXT)}\r\nExpect: 100-continue\r\n\r\n"
            ).encode()
        )
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(1024)
        assert bytes(buf).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        del buf[: len(b"HTTP/1.1 100 Continue\r\n\r\n")]
        sock.sendall(TEXT)
        head, body = _read_response(sock, buf)
        assert json.loads(body)["errcode"] == 0
        # Connection: close is honoured
        sock.sendall(req.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n"))
        head, _ = _read_response(sock, buf)
        assert b"connection: close" in head.lower()
        assert sock.recv(10) == b""
        sock.close()
    assert len(sb.messages()) == 5


def test_concurrent_slow_requests_overlap():
    """128 connections at once, 200 ms latency each: must overlap, not queue."""
    sb = Sandbox(SandboxConfig.demo(latency_ms=200, limits=False))
    with serve_in_thread(sb) as url:
        host, port = _hostport(url)
        req = (
            f"POST /robot/send?access_token={PLAIN_HOOK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(TEXT)}\r\n\r\n"
        ).encode() + TEXT

        async def one(reader, writer):
            for _ in range(2):  # two requests per keep-alive connection
                writer.write(req)
                head = await reader.readuntil(b"\r\n\r\n")
                n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                assert json.loads(await reader.readexactly(n))["errcode"] == 0
            writer.close()

        async def main():
            conns = [await asyncio.open_connection(host, port) for _ in range(128)]
            t0 = time.perf_counter()
            await asyncio.gather(*(one(r, w) for r, w in conns))
            return time.perf_counter() - t0

        elapsed = asyncio.run(main())
    assert len(sb.messages()) == 256
    # serial would be 51 s; two latency rounds are 0.4 s
    assert 0.4 <= elapsed < 3.0, elapsed


def test_timeout_fault_holds_then_closes_without_answer():
    sb = Sandbox(SandboxConfig.demo(faults=FaultConfig(timeout_s=0.3)))
    sb.inject_fault("timeout")
    with serve_in_thread(sb) as url:
        with httpx.Client(base_url=url, timeout=httpx.Timeout(2.0)) as c:
            t0 = time.perf_counter()
            with pytest.raises(httpx.RemoteProtocolError):  # connection closed, no response
                c.post(f"/robot/send?access_token={PLAIN_HOOK}", content=TEXT, headers={"content-type": "application/json"})
            assert time.perf_counter() - t0 >= 0.3
        with httpx.Client(base_url=url, timeout=httpx.Timeout(0.1)) as c:
            sb.configure(faults={"timeout_s": 5.0})
            sb.inject_fault("timeout")
            with pytest.raises(httpx.ReadTimeout):  # a client with a short timeout just times out
                c.post(f"/robot/send?access_token={PLAIN_HOOK}", content=TEXT, headers={"content-type": "application/json"})
    assert sb.messages() == []
    # leaving serve_in_thread cancelled the 5 s hold rather than waiting it out


def test_latency_on_real_server():
    sb = Sandbox(SandboxConfig.demo(latency_ms=150))
    with serve_in_thread(sb) as url, httpx.Client(base_url=url) as c:
        t0 = time.perf_counter()
        c.post(f"/robot/send?access_token={PLAIN_HOOK}", content=TEXT, headers={"content-type": "application/json"})
        assert time.perf_counter() - t0 >= 0.15


def test_bad_requests_are_answered_not_crashed():
    sb = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sb) as url:
        sock = socket.create_connection(_hostport(url))
        sock.sendall(b"GARBAGE\r\n\r\n")
        data = sock.recv(4096)
        assert data.startswith(b"HTTP/1.1 400")
        sock.close()
        with httpx.Client(base_url=url) as c:  # still serving
            assert c.get("/_sandbox/health").json() == {"ok": True}


def test_port_in_use_raises():
    sb = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sb) as url:
        _, port = _hostport(url)
        with pytest.raises(OSError), serve_in_thread(sb, port=port):
            pass


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_serve_forever_returns_cleanly_on_ctrl_c(tmp_path: Path):
    import groupmsg.sandbox

    src = str(Path(groupmsg.sandbox.__file__).resolve().parents[2])
    script = (
        "import sys\n"
        "from groupmsg.sandbox import Sandbox, SandboxConfig, serve_forever\n"
        "serve_forever(Sandbox(SandboxConfig.demo()), '127.0.0.1', 0, ready=lambda url: print(url, flush=True))\n"
        "print('returned', flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": src}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/_sandbox/health").json() == {"ok": True}
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "returned" in out
