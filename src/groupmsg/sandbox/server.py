"""Putting a sandbox (:class:`groupmsg.sandbox.app.Sandbox`) on a real socket.

:func:`serve_in_thread` / :func:`serve_forever` run an HTTP/1.1 server
(asyncio, keep-alive, pipelining-safe, ``Expect: 100-continue``, chunked
request bodies).  Latency is an ``asyncio.sleep`` so hundreds of slow
requests overlap on one thread; an injected ``timeout`` holds the
connection for ``faults.timeout_s`` and then closes it without answering.
(The in-process httpx transport is in ``transport.py``.)

Both oapi (``/chat/send``…) and new-API (``/v1.0/…``) paths are served on one
port, so a client can point both of its base URLs at the same address.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .replies import Processor

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 10 * 1024 * 1024
IDLE_TIMEOUT_S = 120.0
DEFAULT_BACKLOG = 1024

_REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------
# asyncio HTTP/1.1 server
# ---------------------------------------------------------------------------


class SandboxServer:
    """An asyncio HTTP/1.1 server for one sandbox.  Use :func:`serve_in_thread`
    or :func:`serve_forever` rather than this class directly."""

    def __init__(self, sandbox: Processor, host: str = "127.0.0.1", port: int = 0, backlog: int = DEFAULT_BACKLOG) -> None:
        self.sandbox = sandbox
        self.host = host
        self.port = port
        self.backlog = backlog
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._date_cache: tuple[int, str] = (0, "")

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connection, self.host, self.port, backlog=self.backlog, limit=MAX_HEADER_BYTES, reuse_address=True
        )
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _http_date(self) -> str:
        now = int(time.time())
        if self._date_cache[0] != now:
            self._date_cache = (now, formatdate(now, usegmt=True))
        return self._date_cache[1]

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = writer.get_extra_info("peername")
        client_ip = peer[0] if isinstance(peer, tuple) and peer else "127.0.0.1"
        try:
            await self._serve_connection(reader, writer, client_ip)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client_ip: str) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_S)
            except asyncio.LimitOverrunError:
                await self._write_simple(writer, 431, "request header too large")
                return
            except (TimeoutError, asyncio.IncompleteReadError):
                return  # client closed (or went idle) between requests
            arrived = loop.time()
            try:
                method, target, version, headers = _parse_head(head)
                keep_alive = _wants_keep_alive(version, headers)
                if headers.get("expect", "").lower() == "100-continue" and version == "HTTP/1.1":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = await _read_body(reader, headers)
            except _BadRequest as e:
                await self._write_simple(writer, e.status, str(e))
                return

            try:
                reply = self.sandbox.process(method, target, headers, body, client_ip)
            except Exception as e:  # noqa: BLE001 - a sandbox bug must not kill the connection silently
                import traceback

                traceback.print_exc()
                await self._write_simple(writer, 500, f"sandbox internal error: {type(e).__name__}: {e}")
                return
            if reply.drop:
                # Injected timeout: hold the request, then hang up without a word.
                await asyncio.sleep(reply.hold_s)
                return
            if reply.delay_s > 0:
                # Latency counts from the request's arrival, like network
                # latency would: time spent queued behind other requests or
                # processing is not added on top.
                remaining = reply.delay_s - (loop.time() - arrived)
                if remaining > 0:
                    await asyncio.sleep(remaining)
            out = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}\r\n"]
            has_ct = False
            for name, value in reply.headers.items():
                has_ct = has_ct or name == "content-type"
                out.append(f"{name}: {value}\r\n")
            if not has_ct:
                out.append("content-type: application/json;charset=utf-8\r\n")
            out.append(f"content-length: {len(reply.body)}\r\n")
            out.append(f"date: {self._http_date()}\r\n")
            out.append("server: groupmsg-sandbox\r\n")
            out.append("connection: keep-alive\r\n\r\n" if keep_alive else "connection: close\r\n\r\n")
            data = "".join(out).encode("latin-1")
            writer.write(data if method == "HEAD" else data + reply.body)
            await writer.drain()
            if not keep_alive:
                return

    async def _write_simple(self, writer: asyncio.StreamWriter, status: int, message: str) -> None:
        import json

        body = json.dumps({"errcode": status, "errmsg": message}).encode()
        writer.write(
            (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
                f"content-type: application/json;charset=utf-8\r\ncontent-length: {len(body)}\r\n"
                "connection: close\r\n\r\n"
            ).encode("latin-1")
            + body
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes anything
        raise _BadRequest(400, "bad request head") from None
    lines = text.split("\r\n")
    # tolerate stray CRLFs before a request line (RFC 9112 §2.2)
    while lines and lines[0] == "":
        lines.pop(0)
    if not lines:
        raise _BadRequest(400, "empty request")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(400, "bad request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _BadRequest(400, "bad header line")
        key = name.lower()
        value = value.strip()
        if key in headers and key not in ("content-length", "host"):
            headers[key] = headers[key] + ", " + value
        else:
            headers[key] = value
    return method.upper(), target, version, headers


def _wants_keep_alive(version: str, headers: dict[str, str]) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    te = headers.get("transfer-encoding", "").lower()
    if te:
        if te.split(",")[-1].strip() != "chunked":
            raise _BadRequest(501, "unsupported transfer-encoding")
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadRequest(400, "bad chunk size") from None
            if size == 0:
                # trailers until an empty line
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadRequest(413, "body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)  # CRLF after each chunk
    length = headers.get("content-length")
    if length is None:
        return b""
    try:
        n = int(length)
    except ValueError:
        raise _BadRequest(400, "bad content-length") from None
    if n < 0:
        raise _BadRequest(400, "bad content-length")
    if n > MAX_BODY_BYTES:
        raise _BadRequest(413, "body too large")
    return await reader.readexactly(n) if n else b""


@contextlib.contextmanager
def serve_in_thread(sandbox: Processor, host: str = "127.0.0.1", port: int = 0, backlog: int = DEFAULT_BACKLOG) -> Iterator[str]:
    """Run a real socket server in a background (daemon) thread; yields its base URL.

    >>> with serve_in_thread(sb) as url:   # e.g. "http://127.0.0.1:54321"
    ...     httpx.get(url + "/_sandbox/messages")
    """
    server = SandboxServer(sandbox, host, port, backlog)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as e:  # noqa: BLE001 - reported to the caller
            failure.append(e)
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(server.close())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name=f"groupmsg-sandbox-{host}:{port}", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        raise failure[0]
    try:
        yield server.url
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


def serve_forever(
    sandbox: Processor,
    host: str = "127.0.0.1",
    port: int = 8765,
    ready: Callable[[str], None] | None = None,
    backlog: int = DEFAULT_BACKLOG,
) -> None:
    """Serve until Ctrl-C (returns cleanly then).  ``ready(url)`` is called once listening."""

    async def main() -> None:
        server = SandboxServer(sandbox, host, port, backlog)
        await server.start()
        try:
            if ready is not None:
                ready(server.url)
            await asyncio.Event().wait()  # until cancelled
        finally:
            await server.close()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        return
