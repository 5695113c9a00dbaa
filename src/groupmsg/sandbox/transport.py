"""An in-process httpx transport (sync + async) for a sandbox.

It routes requests for *any* host to :meth:`Sandbox.process`, sleeps the
reply's latency, and raises ``httpx.ReadTimeout`` for an injected
``timeout``.  httpx is imported lazily, only here, when the first transport
is made.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .replies import Processor, Reply

_transport_class: Any = None


def make_transport(sandbox: Processor, client_ip: str = "127.0.0.1") -> Any:
    """An ``httpx.BaseTransport`` + ``httpx.AsyncBaseTransport`` for ``sandbox``."""
    global _transport_class
    if _transport_class is None:
        _transport_class = _build_transport_class()
    return _transport_class(sandbox, client_ip)


def _build_transport_class() -> Any:
    import httpx  # lazy: only the in-process transport needs httpx

    class SandboxTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
        """Routes every request, whatever its host, to ``process``."""

        def __init__(self, sandbox: Processor, client_ip: str) -> None:
            self.sandbox = sandbox
            self.client_ip = client_ip

        def _process(self, request: httpx.Request, body: bytes) -> Reply:
            reply = self.sandbox.process(request.method, request.url.raw_path.decode("ascii"), dict(request.headers), body, self.client_ip)
            if reply.drop:
                raise httpx.ReadTimeout("sandbox: injected timeout (no response)", request=request)
            if reply.stream is not None:
                # A live stream (server-sent events) never ends: in-process, answer with what
                # is there now and end, as a client that reads the first batch and leaves would see.
                reply.stream = None
            return reply

        def _response(self, request: httpx.Request, reply: Reply) -> httpx.Response:
            return httpx.Response(reply.status, headers=reply.headers, content=reply.body, request=request)

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            reply = self._process(request, request.read())
            if reply.delay_s > 0:
                time.sleep(reply.delay_s)
            return self._response(request, reply)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            reply = self._process(request, await request.aread())
            if reply.delay_s > 0:
                await asyncio.sleep(reply.delay_s)
            return self._response(request, reply)

    return SandboxTransport
