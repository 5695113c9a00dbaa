"""Putting a sandbox (:class:`groupmsg.sandbox.app.Sandbox`) on a real socket.

:func:`serve_in_thread` / :func:`serve_forever` run an HTTP/1.1 server on
asyncio.  The protocol itself — request lines, headers, ``Content-Length`` and
chunked bodies, keep-alive and pipelining, ``Expect: 100-continue`` — is
``h11``'s (strict to RFC 9110/9112, and already installed as httpx's own
dependency); this module only moves bytes between h11 and the sockets and
asks the sandbox for each answer.  h11 is imported when a server starts, never
by ``import groupmsg.sandbox``.

Latency is an ``asyncio.sleep`` so hundreds of slow requests overlap on one
thread; an injected ``timeout`` holds the connection for ``faults.timeout_s``
and then closes it without answering.  A reply with a ``stream`` (the web
inbox's live updates) is sent chunk by chunk until it ends or the client goes
away.  (The in-process httpx transport is in ``transport.py``.)

Both oapi (``/chat/send``…) and new-API (``/v1.0/…``) paths are served on one
port, so a client can point both of its base URLs at the same address.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import h11

    from .replies import Processor, Reply

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 10 * 1024 * 1024
IDLE_TIMEOUT_S = 120.0
DEFAULT_BACKLOG = 1024
READ_SIZE = 64 * 1024

_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Payload Too Large",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}


class _Refused(Exception):
    """A request answered with a plain error before the sandbox saw it (then the connection closes)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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
        self._date_cache: tuple[int, bytes] = (0, b"")

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        import h11  # noqa: F401 - fail here, at start-up, if it is missing

        self._server = await asyncio.start_server(
            self._on_connection, self.host, self.port, backlog=self.backlog, reuse_address=True
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

    def _http_date(self) -> bytes:
        now = int(time.time())
        if self._date_cache[0] != now:
            self._date_cache = (now, formatdate(now, usegmt=True).encode("ascii"))
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
            await _Connection(self, reader, writer, client_ip).serve()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class _Connection:
    """One client connection: h11 parses, the sandbox answers, h11 frames the answer."""

    def __init__(self, server: SandboxServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, client_ip: str) -> None:
        import h11

        self.server = server
        self.reader = reader
        self.writer = writer
        self.client_ip = client_ip
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)

    async def serve(self) -> None:
        import h11
        loop = asyncio.get_running_loop()
        while True:
            try:
                request = await self._next_request()
                if request is None:
                    return  # the client closed (or went idle) between requests
                arrived = loop.time()
                body = await self._read_body(request)
            except h11.RemoteProtocolError as e:
                await self._refuse(e.error_status_hint, str(e))
                return
            except _Refused as e:
                await self._refuse(e.status, str(e))
                return
            method = request.method.decode("ascii")
            target = request.target.decode("latin-1")
            headers = _headers(request.headers)
            try:
                reply = self.server.sandbox.process(method, target, headers, body, self.client_ip)
            except Exception as e:  # noqa: BLE001 - a sandbox bug must not kill the connection silently
                import traceback

                traceback.print_exc()
                await self._refuse(500, f"sandbox internal error: {type(e).__name__}: {e}")
                return
            if reply.drop:
                # Injected timeout: hold the request, then hang up without a word.
                await asyncio.sleep(reply.hold_s)
                return
            if reply.delay_s > 0:
                # Latency counts from the request's arrival, like network latency would:
                # time spent queued behind other requests or processing is not added on top.
                remaining = reply.delay_s - (loop.time() - arrived)
                if remaining > 0:
                    await asyncio.sleep(remaining)
            if reply.stream is not None:
                await self._stream(reply)
                return
            await self._send_reply(reply, head_only=method == "HEAD")
            if self.conn.our_state is not h11.DONE or self.conn.their_state is not h11.DONE:
                return  # Connection: close, HTTP/1.0, or a body left unread
            self.conn.start_next_cycle()

    async def _receive(self) -> bool:
        """Feed h11 the next bytes (b"" when the client closed: h11 then reports it);
        False when the client stayed idle too long."""
        try:
            data = await asyncio.wait_for(self.reader.read(READ_SIZE), IDLE_TIMEOUT_S)
        except TimeoutError:
            return False
        self.conn.receive_data(data)
        return True

    async def _next_request(self) -> h11.Request | None:
        import h11
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                if not await self._receive():
                    return None
                continue
            if isinstance(event, h11.Request):
                return event
            if isinstance(event, h11.ConnectionClosed):
                return None
            raise h11.RemoteProtocolError(f"unexpected {type(event).__name__}")

    async def _read_body(self, request: h11.Request) -> bytes:
        import h11
        length = next((v for k, v in request.headers if k == b"content-length"), None)
        if length is not None and int(length) > MAX_BODY_BYTES:
            raise _Refused(413, "body too large")
        if self.conn.they_are_waiting_for_100_continue:
            await self._write(self.conn.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")))
        chunks: list[bytes] = []
        total = 0
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                if not await self._receive():
                    raise ConnectionResetError("client went idle in the middle of a request body")
            elif isinstance(event, h11.Data):
                total += len(event.data)
                if total > MAX_BODY_BYTES:
                    raise _Refused(413, "body too large")
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:
                raise h11.RemoteProtocolError(f"unexpected {type(event).__name__}")

    def _response(self, reply: Reply, length: int | None) -> h11.Response:
        import h11

        headers: list[tuple[bytes, bytes]] = []
        has_ct = False
        for name, value in reply.headers.items():
            key = name.lower()
            if key in ("content-length", "transfer-encoding", "connection"):
                continue
            has_ct = has_ct or key == "content-type"
            headers.append((key.encode("latin-1"), value.encode("latin-1", "replace")))
        if not has_ct:
            headers.append((b"content-type", b"application/json;charset=utf-8"))
        if length is not None:
            headers.append((b"content-length", str(length).encode("ascii")))
        headers += [
            (b"date", self.server._http_date()),
            (b"server", b"groupmsg-sandbox"),
            # h11 turns this into "close" when the connection will not be kept.
            (b"connection", b"keep-alive"),
        ]
        return h11.Response(status_code=reply.status, headers=headers, reason=_REASONS.get(reply.status, b"Status"))

    async def _send_reply(self, reply: Reply, head_only: bool) -> None:
        import h11
        data = self.conn.send(self._response(reply, len(reply.body)))
        if not head_only and reply.body:
            data += self.conn.send(h11.Data(data=reply.body))
        data += self.conn.send(h11.EndOfMessage())
        await self._write(data)

    async def _stream(self, reply: Reply) -> None:
        """Send ``reply.body`` then every chunk of ``reply.stream`` (chunked), until the
        stream ends or the client goes away; then the connection closes."""
        import h11
        assert reply.stream is not None
        await self._write(self.conn.send(self._response(reply, None)))
        if reply.body:
            await self._write(self.conn.send(h11.Data(data=reply.body)))

        async def pump() -> None:
            assert reply.stream is not None
            async for chunk in reply.stream():
                await self._write(self.conn.send(h11.Data(data=chunk)))
            await self._write(self.conn.send(h11.EndOfMessage()))

        async def client_gone() -> None:
            while await self.reader.read(READ_SIZE):
                pass  # a streaming client has nothing more to say; EOF means it left

        tasks = [asyncio.ensure_future(pump()), asyncio.ensure_future(client_gone())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _refuse(self, status: int, message: str) -> None:
        """A plain JSON error, then close (the request could not be read, or the sandbox broke)."""
        import h11
        body = json.dumps({"errcode": status, "errmsg": message}).encode()
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return  # a response is already under way: nothing sensible to add
        headers = [
            (b"content-type", b"application/json;charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            data = self.conn.send(h11.Response(status_code=status, headers=headers, reason=_REASONS.get(status, b"Error")))
            data += self.conn.send(h11.Data(data=body)) + self.conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError:
            # h11 will not answer a request it could not parse in its own terms
            # (e.g. not even a request line): write the bytes ourselves.
            data = (
                f"HTTP/1.1 {status} {_REASONS.get(status, b'Error').decode()}\r\n"
                f"content-type: application/json;charset=utf-8\r\ncontent-length: {len(body)}\r\n"
                "connection: close\r\n\r\n"
            ).encode("latin-1") + body
        with contextlib.suppress(ConnectionError):
            await self._write(data)

    async def _write(self, data: bytes | None) -> None:
        if data:
            self.writer.write(data)
            await self.writer.drain()


def _headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-cased names; repeated headers joined with ", " (RFC 9110 §5.3)."""
    headers: dict[str, str] = {}
    for name, value in raw:
        key, text = name.decode("latin-1"), value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


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
