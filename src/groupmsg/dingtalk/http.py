"""The HTTP layer under the DingTalk client: one small interface, two implementations.

- `HttpxHTTP` wraps httpx. It is used when a transport is injected (tests inject the sandbox or an
  `httpx.MockTransport`; library users may inject their own) and when a proxy is configured in the
  environment (httpx honours HTTP(S)_PROXY / NO_PROXY).
- `StdlibHTTP` speaks HTTP/1.1 with `http.client`, one keep-alive connection per thread and host.
  It is the default for direct connections because `import httpx` and its first client cost
  ~40 ms, which cron pays on every one-shot send, and because it spends a third of httpx's CPU per
  request, which a broadcast to a thousand groups pays a thousand times.

Both verify TLS with a context that reads CA certificates on demand, have a connect and a read
timeout, and raise TransportError with the URL's secrets kept out of the message.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from ..errors import TransportError
from ..masking import redact

if TYPE_CHECKING:
    import http.client

    import httpx

USER_AGENT = "groupmsg"
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


Timeouts = tuple[float, float]  # (connect, read) seconds


class HTTP(Protocol):
    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        idempotent: bool = False,
        timeouts: Timeouts | None = None,
    ) -> Response:
        """One request; `timeouts` overrides the default (connect, read) timeouts for this one."""
        ...

    def close(self) -> None: ...


def ssl_context() -> Any:
    """Verify certificates with CA files read on demand (capath) when the system has them:
    loading a whole CA bundle costs ~35 ms per process, which cron pays on every run."""
    import ssl

    paths = ssl.get_default_verify_paths()
    if paths.capath:
        ctx = ssl.create_default_context(capath=paths.capath)
        if paths.cafile:
            ctx.load_verify_locations(cafile=paths.cafile)
        return ctx
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def timeout_error(host: str, exc: BaseException, *, sent: bool, seconds: float | None = None) -> TransportError:
    """No connection (`sent=False`: DingTalk never saw the request) or no answer (it may have)."""
    within = f" within {seconds:g} s" if seconds else ""
    if not sent:
        error = TransportError(
            f"could not reach {host}: no connection{within} (connect timeout)",
            hint="check the network, a firewall, and GROUPMSG_OAPI_URL / GROUPMSG_API_URL",
            code="timeout",
            retryable=True,
            reached=False,
        )
    else:
        error = TransportError(
            f"{host} did not answer{within} (read timeout)",
            hint="DingTalk may be slow right now; raise --timeout to wait longer",
            code="timeout",
            retryable=True,
            ambiguous=True,
        )
    error.host = host
    return error


def network_error(host: str, exc: BaseException, secrets: tuple[str, ...], *, sent: bool) -> TransportError:
    """The connection failed: before the request left (`sent=False`), or after (it may have arrived)."""
    cause = redact(failure_cause(exc), secrets)
    if not sent:
        error = TransportError(
            f"could not reach {host}: {cause}",
            hint="check the network and GROUPMSG_OAPI_URL / GROUPMSG_API_URL",
            code="network",
            retryable=True,
            reached=False,
        )
    else:
        error = TransportError(
            f"lost the connection to {host} after sending: {cause}",
            hint="check the network",
            code="network",
            retryable=True,
            ambiguous=True,
        )
    error.host = host
    return error


def failure_cause(exc: BaseException) -> str:
    """A connection failure in a few words: the first known cause in the exception's chain (httpx
    wraps the socket's error), else the exception's own text."""
    import socket
    import ssl

    seen: BaseException | None = exc
    for _ in range(6):  # httpx → httpcore → the socket's error
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return f"host name not found (DNS: {seen.strerror or seen})"
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({seen.verify_message or seen.reason})"
        if isinstance(seen, ssl.SSLError):
            return f"TLS handshake failed ({seen.reason or seen})"
        if isinstance(seen, ConnectionResetError):
            return "connection reset"
        if seen.__class__.__name__ in ("RemoteDisconnected", "RemoteProtocolError"):
            return "the connection closed without an answer"
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return f"host name not found (DNS: {text})"
    return text or exc.__class__.__name__


def make_http(
    *, transport: httpx.BaseTransport | None, connect_timeout: float, read_timeout: float, secrets: tuple[str, ...]
) -> HTTP:
    if transport is not None or any(os.environ.get(v) for v in PROXY_VARIABLES):
        return HttpxHTTP(transport, connect_timeout=connect_timeout, read_timeout=read_timeout, secrets=secrets)
    return StdlibHTTP(connect_timeout=connect_timeout, read_timeout=read_timeout, secrets=secrets)


class _PerThread:
    """Connections kept per thread (a broadcast's threads never share one), all closed at the end."""

    def __init__(self, *, connect_timeout: float, read_timeout: float, secrets: tuple[str, ...] = ()) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.secrets = secrets
        self._local = threading.local()
        self._all: list[Any] = []  # every connection or client opened, by any thread
        self._lock = threading.Lock()
        self._ssl: Any = None

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


class StdlibHTTP(_PerThread):

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str], http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        conn = pool.get((scheme, netloc))
        if conn is None:
            import http.client

            if scheme == "https":
                with self._lock:
                    self._ssl = self._ssl or ssl_context()
                conn = http.client.HTTPSConnection(netloc, timeout=self.connect_timeout, context=self._ssl)
            else:
                conn = http.client.HTTPConnection(netloc, timeout=self.connect_timeout)
            pool[(scheme, netloc)] = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        idempotent: bool = False,
        timeouts: Timeouts | None = None,
    ) -> Response:
        import http.client
        from urllib.parse import quote

        parts = urlsplit(url)
        # http.client sends the target as it is: percent-encode anything beyond ASCII.
        target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe="!#$%&'()*+,/:;=?@[]~")
        headers = {"User-Agent": USER_AGENT, **headers}
        connect_timeout, read_timeout = timeouts or (self.connect_timeout, self.read_timeout)
        for attempt in (1, 2):
            conn = self._connection(parts.scheme, parts.netloc)
            if conn.sock is not None and _dropped(conn.sock):
                conn.close()  # closed by the server while idle: nothing was sent on it yet
            reused, sent = conn.sock is not None, False
            try:
                if conn.sock is None:
                    conn.timeout = connect_timeout
                    conn.connect()
                conn.sock.settimeout(read_timeout)
                sent = True
                conn.request(method, target, body=body, headers=headers)
                resp = conn.getresponse()
                content = resp.read()
                if resp.will_close:
                    conn.close()
                return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, content)
            except TimeoutError as exc:
                conn.close()
                raise timeout_error(
                    parts.netloc, exc, sent=sent, seconds=read_timeout if sent else connect_timeout
                ) from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                # Most likely a kept-alive connection the server had closed meanwhile; but it may
                # have taken the request, so open a new one and repeat only what is safe to repeat.
                if reused and attempt == 1 and idempotent:
                    continue
                raise network_error(parts.netloc, exc, self.secrets, sent=sent) from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise network_error(parts.netloc, exc, self.secrets, sent=sent) from None
        raise AssertionError  # pragma: no cover


def _dropped(sock: Any) -> bool:
    """An idle kept-alive connection with something to read was closed by the server (or holds
    bytes nobody asked for): writing a request into it would fail after the request may count as
    sent. httpx (httpcore) and urllib3 make the same check before reusing a connection."""
    import select

    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class HttpxHTTP(_PerThread):
    """httpx, one Client per thread so that a broadcast's threads do not contend for one pool."""

    def __init__(
        self,
        transport: httpx.BaseTransport | None,
        *,
        connect_timeout: float,
        read_timeout: float,
        secrets: tuple[str, ...] = (),
    ) -> None:
        super().__init__(connect_timeout=connect_timeout, read_timeout=read_timeout, secrets=secrets)
        self.transport = transport

    def _client(self, scheme: str) -> httpx.Client:
        client: httpx.Client | None = getattr(self._local, scheme, None)
        if client is None:
            import httpx

            with self._lock:
                verify: Any = False  # no TLS on http:// — and no CA bundle loaded for nothing
                if scheme == "https" and self.transport is None:
                    self._ssl = self._ssl or ssl_context()
                    verify = self._ssl
                client = httpx.Client(
                    transport=self.transport,
                    verify=verify,
                    timeout=httpx.Timeout(self.read_timeout, connect=self.connect_timeout),
                    headers={"User-Agent": USER_AGENT},
                    trust_env=self.transport is None,
                )
                self._all.append(client)
            setattr(self._local, scheme, client)
        return client

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        idempotent: bool = False,
        timeouts: Timeouts | None = None,
    ) -> Response:
        import httpx

        host = urlsplit(url).netloc
        timeout = httpx.Timeout(timeouts[1], connect=timeouts[0]) if timeouts else httpx.USE_CLIENT_DEFAULT
        try:
            resp = self._client("https" if url.startswith("https:") else "http").request(
                method, url, content=body, headers=headers, timeout=timeout
            )
        except httpx.ConnectTimeout as exc:  # the request never left
            raise timeout_error(host, exc, sent=False, seconds=timeouts[0] if timeouts else self.connect_timeout) from None
        except httpx.ConnectError as exc:
            raise network_error(host, exc, self.secrets, sent=False) from None
        except httpx.PoolTimeout as exc:
            raise timeout_error(host, exc, sent=False) from None
        except httpx.TimeoutException as exc:
            raise timeout_error(host, exc, sent=True, seconds=timeouts[1] if timeouts else self.read_timeout) from None
        except httpx.HTTPError as exc:
            raise network_error(host, exc, self.secrets, sent=True) from None
        return Response(resp.status_code, {k.lower(): v for k, v in resp.headers.items()}, resp.content)


# HTTP semantics the client reads an answer by -----------------------------------------------

def not_processed(status: int) -> bool:
    """HTTP 429 and 503 say the request was not processed (and may be sent again)."""
    return status in (429, 503)


def retry_after(headers: dict[str, str]) -> float | None:
    """Seconds to wait from a Retry-After header (seconds, or an HTTP date), if there is one."""
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def reason_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
