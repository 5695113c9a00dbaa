"""``/_sandbox/*``: inspect and steer the sandbox over HTTP.

Not DingTalk: never faulted, never logged, never slowed down, plain JSON
(``{"error": …}`` with HTTP 400 for a bad request).  The handlers work through
the :class:`Controls` a sandbox offers (``Sandbox`` is one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..config import SandboxConfig, robot_label
from ..errors import NotFound
from ..feed import Feed
from ..replies import JSON_CT, Reply, dumps
from ..request import Request


class Controls(Protocol):
    """What the control endpoints use of a sandbox."""

    @property
    def config(self) -> SandboxConfig: ...

    @property
    def feed(self) -> Feed: ...

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]: ...

    def requests(self) -> list[dict[str, Any]]: ...

    def chats(self) -> list[dict[str, Any]]: ...

    def reset(self) -> None: ...

    # Called with the JSON object of POST /_sandbox/chats: any keyword may come.
    @property
    def add_chat(self) -> Callable[..., dict[str, Any]]: ...

    def configure(self, **changes: Any) -> None: ...

    def inject_fault(self, kind: str, times: int = 1, path: str | None = None) -> None: ...

    def pending_faults(self) -> list[dict[str, Any]]: ...

    def robots(self) -> list[dict[str, Any]]: ...

    # Called with the JSON object of the request: any keyword may come.
    @property
    def add_robot(self) -> Callable[..., dict[str, Any]]: ...

    @property
    def change_robot(self) -> Callable[..., dict[str, Any]]: ...

    def remove_robot(self, name: str) -> dict[str, Any]: ...

    def apps(self) -> list[dict[str, Any]]: ...

    @property
    def add_app(self) -> Callable[..., dict[str, Any]]: ...

    def remove_app(self, key: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ControlEndpoint:
    methods: tuple[str, ...]
    handler: Callable[[Request, Controls], Any]
    public: bool = False  # answered without the control token (health, the page's script and style)


def answer(ep: ControlEndpoint, req: Request, controls: Controls) -> Reply:
    if req.method not in ep.methods:
        return Reply(405, {"content-type": JSON_CT, "allow": ", ".join(ep.methods)}, dumps({"error": "method not allowed"}))
    try:
        payload = ep.handler(req, controls)
    except NotFound as e:
        return Reply(404, {"content-type": JSON_CT}, dumps({"error": str(e)}))
    except (ValueError, TypeError, KeyError) as e:
        return Reply(400, {"content-type": JSON_CT}, dumps({"error": str(e)}))
    if isinstance(payload, Reply):
        return payload
    return Reply(200, {"content-type": JSON_CT}, dumps(payload))


def messages(req: Request, controls: Controls) -> Any:
    return controls.messages(req.query.get("channel") or None)


def requests(req: Request, controls: Controls) -> Any:
    return controls.requests()


def reset(req: Request, controls: Controls) -> Any:
    controls.reset()
    return {"ok": True}


def chats(req: Request, controls: Controls) -> Any:
    if req.method == "POST":
        return controls.add_chat(**_json_object(req, "a JSON object of add_chat arguments"))
    return controls.chats()


def config(req: Request, controls: Controls) -> Any:
    if req.method == "POST":
        data = _json_object(req, "a JSON object")
        inject = data.pop("inject", None)
        if data:
            controls.configure(**data)
        for item in inject or []:
            controls.inject_fault(item["kind"], int(item.get("times", 1)), item.get("path"))
    return public_config(controls.config, controls.pending_faults())


def health(req: Request, controls: Controls) -> Any:
    return {"ok": True}


def robots(req: Request, controls: Controls) -> Any:
    """GET: every webhook robot; POST ``{name, secret: true|"SEC…", keywords, ip_allowlist,
    enabled, group, token}``: add one (the answer carries its token and secret, once)."""
    if req.method == "POST":
        data = _json_object(req, "a JSON object: name, and optionally secret, keywords, ip_allowlist, enabled, group, token")
        if not isinstance(data.get("name"), str):
            raise ValueError("a robot needs a name")
        return controls.add_robot(**data)
    return controls.robots()


def robot(req: Request, controls: Controls) -> Any:
    """``/_sandbox/robots/{name}``: GET it, PATCH ``{…settings}`` to change it, DELETE to remove it."""
    name = req.path_arg or ""
    if req.method == "PATCH":
        return controls.change_robot(name, **_json_object(req, "a JSON object of robot settings"))
    if req.method == "DELETE":
        return controls.remove_robot(name)
    found = [r for r in controls.robots() if r["name"] == name]
    if not found:
        raise NotFound(f"no webhook robot named {name!r}")
    return found[0]


def apps(req: Request, controls: Controls) -> Any:
    """GET: every app and its robot codes; POST ``{key, secret, robot_codes}``: add one."""
    if req.method == "POST":
        return controls.add_app(**_json_object(req, "a JSON object: key, secret, robot_codes"))
    return controls.apps()


def app(req: Request, controls: Controls) -> Any:
    """``/_sandbox/apps/{key}``: DELETE removes the app and its robot codes."""
    return controls.remove_app(req.path_arg or "")


def _json_object(req: Request, what: str) -> dict[str, Any]:
    data = req.json_object()
    if data is None:
        raise ValueError(f"body must be {what}")
    return data


def public_config(c: SandboxConfig, pending_faults: list[dict[str, Any]]) -> dict[str, Any]:
    """Runtime settings and non-secret identifiers (no secrets, no webhook tokens)."""
    return {
        "latency_ms": c.latency_ms,
        "limits": c.limits,
        "webhook_window_s": c.webhook_window_s,
        "webhook_limit": c.webhook_limit,
        "webhook_block_s": c.webhook_block_s,
        "qps_per_app": c.qps_per_app,
        "token_ttl_s": c.token_ttl_s,
        "faults": c.faults.to_dict(),
        "pending_injections": pending_faults,
        "apps": sorted(c.apps),
        "robot_codes": dict(c.robot_codes),
        "webhook_robots": [robot_label(t, r) for t, r in c.webhooks.items()],
        "templates": sorted(c.templates),
        "webhook_codes": c.webhook_codes,
    }
