"""Paths and helpers shared by the forms-and-flows tests (imported by name, like tests/sandbox's)."""

from __future__ import annotations

from pathlib import Path

import httpx

from groupmsg.app.types import SendOptions

REPO = Path(__file__).resolve().parents[2]
SEED_FLOWS = REPO / "flows.yaml"
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


class FailFirst(httpx.BaseTransport):
    """An httpx transport that answers the first `times` requests to `path` with a DingTalk error,
    then passes everything to `inner` (the sandbox): a non-retryable failure that goes away."""

    # Hand-written rather than pytest-httpx: one scripted answer in front of the sandbox, which
    # answers everything else (tokens, group creation, the later sends) and records the messages
    # the tests assert on. With pytest-httpx the sandbox would sit behind a reusable catch-all
    # callback and the scripted answer would win only by pytest-httpx's selection order; the
    # sandbox's own faults have no 34014 (a refusal that is final), so inject_fault cannot do it.

    def __init__(
        self, inner: httpx.BaseTransport, path: str = "/chat/send", times: int = 1, errcode: int = 34014
    ) -> None:
        self.inner = inner
        self.path = path
        self.remaining = times
        self.errcode = errcode

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.remaining and request.url.path == self.path:
            self.remaining -= 1
            return httpx.Response(200, json={"errcode": self.errcode, "errmsg": "injected by the test"})
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def engine_of(app, model):
    """The flow engine the app wires for `model` (what `submit` uses), with default send options."""
    return app.forms.engine(SendOptions(), model)
