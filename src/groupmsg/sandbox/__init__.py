"""A local, DingTalk-compatible HTTP server for tests and demos.

Faithful to the wire contract in ``docs/dingtalk-api.md`` (legacy oapi,
topapi, the new ``/v1.0`` API and custom-robot webhooks): it validates
requests the way DingTalk does, answers with DingTalk's error codes in
DingTalk's shapes, and records what it accepted.

    from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread

    sb = Sandbox(SandboxConfig.demo())
    client = httpx.Client(transport=sb.transport())     # in-process, any host
    with serve_in_thread(sb) as url:                     # or a real socket
        ...

Runtime dependencies: stdlib only (httpx is imported lazily by
``Sandbox.transport()``).  Every name is exported lazily, so importing the
package costs nothing until a name is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .app import Sandbox
    from .config import DEFAULT_FAULT_KINDS, FAULT_KINDS, FaultConfig, PresetChat, SandboxConfig, WebhookRobot
    from .errors import SandboxTimeout
    from .handlers.webhook import sign_webhook
    from .replies import Reply
    from .server import SandboxServer, serve_forever, serve_in_thread

__all__ = [
    "DEFAULT_FAULT_KINDS",
    "FAULT_KINDS",
    "FaultConfig",
    "PresetChat",
    "Reply",
    "Sandbox",
    "SandboxConfig",
    "SandboxServer",
    "SandboxTimeout",
    "WebhookRobot",
    "serve_forever",
    "serve_in_thread",
    "sign_webhook",
]

# PEP 562 lazy exports: `import groupmsg.sandbox` costs nothing until a name is used.
_LAZY = {
    "Reply": "replies",
    "Sandbox": "app",
    "sign_webhook": "handlers.webhook",
    "DEFAULT_FAULT_KINDS": "config",
    "FAULT_KINDS": "config",
    "FaultConfig": "config",
    "PresetChat": "config",
    "SandboxConfig": "config",
    "WebhookRobot": "config",
    "SandboxTimeout": "errors",
    "SandboxServer": "server",
    "serve_forever": "server",
    "serve_in_thread": "server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
