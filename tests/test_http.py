"""The HTTP layers on real 127.0.0.1 sockets: timeouts, refused connections and TLS verification on
both (`stdlib`: StdlibHTTP, used for direct connections; `httpx`: HttpxHTTP without an injected
transport, used behind a proxy — here with the proxy variables cleared); keep-alive on the stdlib.

The client-level behaviours (DingTalk's answers, faults, token refresh) run on both stacks in
test_client.py.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from groupmsg.dingtalk.http import PROXY_VARIABLES, HttpxHTTP, StdlibHTTP, make_http
from groupmsg.errors import TransportError
from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread


@pytest.fixture(params=["httpx", "stdlib"])
def layer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Builds the HTTP layer under test, talking to real sockets (`layer(connect_timeout=…, read_timeout=…)`)."""
    for var in PROXY_VARIABLES:  # httpx would send 127.0.0.1 through a proxy
        monkeypatch.delenv(var, raising=False)
    made: list[HttpxHTTP | StdlibHTTP] = []

    def make(*, connect_timeout: float, read_timeout: float) -> HttpxHTTP | StdlibHTTP:
        if request.param == "httpx":
            made.append(HttpxHTTP(None, connect_timeout=connect_timeout, read_timeout=read_timeout))
        else:
            made.append(StdlibHTTP(connect_timeout=connect_timeout, read_timeout=read_timeout))
        return made[-1]

    yield make
    for http in made:
        http.close()

HELD: list[socket.socket] = []  # accepted connections stay open (and silent) until the test ends


def silent_server() -> tuple[socket.socket, int]:
    """Accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    threading.Thread(target=lambda: HELD.append(srv.accept()[0]), daemon=True).start()
    return srv, srv.getsockname()[1]


def test_a_server_that_never_answers_is_a_retryable_timeout(layer) -> None:
    srv, port = silent_server()
    http = layer(connect_timeout=1, read_timeout=0.2)
    with pytest.raises(TransportError) as err:
        http.request("POST", f"http://127.0.0.1:{port}/robot/send?access_token=secret-token", body=b"{}", headers={})
    assert err.value.code == "timeout" and err.value.retryable and "secret-token" not in str(err.value)
    assert err.value.ambiguous and err.value.reached  # the request was sent
    assert str(err.value) == f"127.0.0.1:{port} did not answer within 0.2 s (read timeout)"
    srv.close()


def test_connection_refused_is_a_retryable_network_error(layer) -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(TransportError) as err:
        layer(connect_timeout=1, read_timeout=1).request(
            "GET", f"http://127.0.0.1:{port}/robot/send?access_token=secret-token", body=None, headers={}
        )
    assert err.value.code == "network" and err.value.retryable
    assert not err.value.ambiguous and not err.value.reached and "secret-token" not in str(err.value)  # nothing was sent
    assert str(err.value) == f"could not reach 127.0.0.1:{port}: connection refused"


def full_backlog() -> tuple[socket.socket, int, socket.socket]:
    """A listening socket whose accept queue is full: a new connection is never accepted, so the
    client's connect times out (Linux drops the SYN; the kernel retries it until the client gives up)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=1)  # takes the one place in the queue
    return srv, port, filler


def test_a_connect_timeout_never_reached_the_server(layer) -> None:
    srv, port, filler = full_backlog()
    with pytest.raises(TransportError) as err:
        layer(connect_timeout=0.3, read_timeout=5).request("POST", f"http://127.0.0.1:{port}/x", body=b"{}", headers={})
    assert err.value.code == "timeout" and err.value.retryable
    assert not err.value.reached and not err.value.ambiguous
    assert str(err.value) == f"could not reach 127.0.0.1:{port}: no connection within 0.3 s (connect timeout)"
    filler.close()
    srv.close()


def test_a_host_name_that_does_not_resolve_never_reached_anything(layer, monkeypatch) -> None:
    def no_such_name(host, *args, **kw):  # what a resolver answers for a .invalid name (RFC 6761), asked of no one
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(TransportError) as err:
        layer(connect_timeout=1, read_timeout=1).request("GET", "http://dingtalk.invalid/robot/send", body=None, headers={})
    assert err.value.code == "network" and err.value.retryable and not err.value.reached
    assert str(err.value) == "could not reach dingtalk.invalid: host name not found (DNS: Name or service not known)"


def test_keep_alive_is_reused_and_a_closed_connection_is_reopened() -> None:
    """stdlib only: its own connection handling (httpx pools and checks its connections itself)."""
    from groupmsg.sandbox.config import DEMO_WEBHOOK_PLAIN_TOKEN

    sandbox = Sandbox(SandboxConfig.demo())
    sandbox.configure(faults={"timeout_s": 0.2})  # an injected timeout: take the request, hang up 0.2 s later
    hook = f"/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"
    json_body = {"Content-Type": "application/json"}
    with serve_in_thread(sandbox) as url:
        http = StdlibHTTP(connect_timeout=1, read_timeout=5)
        first = http.request("GET", url + "/_sandbox/health", body=None, headers={})
        conn = next(iter(http._local.pool.values()))
        sock = conn.sock
        second = http.request("GET", url + "/_sandbox/health", body=None, headers={})
        assert first.status == second.status == 200 and conn.sock is sock  # one connection, reused
        conn.sock.shutdown(socket.SHUT_RDWR)  # as if the server had dropped the idle connection
        third = http.request("GET", url + "/_sandbox/health", body=None, headers={}, idempotent=True)
        assert third.status == 200
        # seen before anything was sent on it: a new connection, even without an idempotency key
        conn.sock.shutdown(socket.SHUT_RDWR)
        fourth = http.request("POST", url + hook, body=b'{"msgtype":"text","text":{"content":"4"}}', headers=json_body)
        assert fourth.status == 200 and fourth.json()["errcode"] == 0
        # the server hangs up after taking the request: repeated on a new connection only when safe
        sandbox.inject_fault("timeout", path="/robot/send")
        fifth = http.request(
            "POST", url + hook, body=b'{"msgtype":"text","text":{"content":"5"},"msgUuid":"u5"}', headers=json_body,
            idempotent=True,
        )
        assert fifth.status == 200 and fifth.json()["errcode"] == 0
        # a request without an idempotency key is not repeated: it may have been taken
        sandbox.inject_fault("timeout", path="/robot/send")
        with pytest.raises(TransportError) as err:
            http.request("POST", url + hook, body=b'{"msgtype":"text","text":{"content":"6"}}', headers=json_body)
        assert err.value.ambiguous and err.value.code == "network"
        assert [m["content"] for m in sandbox.messages()] == ["4", "5"]
        faults = [r["fault"] for r in sandbox.requests() if r["path"] == "/robot/send"]
        assert faults == [None, "timeout", None, "timeout"]  # 5 was sent again, 6 was not
        http.close()


def test_direct_connections_use_the_stdlib_and_proxies_use_httpx(monkeypatch) -> None:
    for var in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert isinstance(make_http(transport=None, connect_timeout=1, read_timeout=1, secrets=()), StdlibHTTP)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert isinstance(make_http(transport=None, connect_timeout=1, read_timeout=1, secrets=()), HttpxHTTP)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (an EC key: an RSA one takes up to a second to make)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    tmp = tmp_path_factory.mktemp("tls")
    key, cert = tmp / "k.pem", tmp / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


def test_https_certificates_are_verified(layer, self_signed: tuple[Path, Path]) -> None:
    key, cert = self_signed
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]

    def serve() -> None:
        conn, _ = srv.accept()
        with contextlib.suppress(ssl.SSLError, OSError):
            ctx.wrap_socket(conn, server_side=True).recv(1)

    threading.Thread(target=serve, daemon=True).start()
    with pytest.raises(TransportError) as err:
        layer(connect_timeout=2, read_timeout=2).request("GET", f"https://127.0.0.1:{port}/", body=None, headers={})
    assert str(err.value) == f"could not reach 127.0.0.1:{port}: TLS certificate not trusted (self-signed certificate)"
    assert not err.value.reached  # the request never left: a self-signed certificate is refused
    srv.close()
