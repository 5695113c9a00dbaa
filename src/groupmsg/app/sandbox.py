"""Use case: steering and watching a running sandbox (`groupmsg sandbox messages|reset|robot|app|fault`).

Talks to the sandbox's control API (`groupmsg.sandbox.client`), and names what it received the way
the user knows it: by the registry's group names where a registered group matches (its chat id,
open conversation id, or webhook token — matched by fingerprint, the sandbox never shows tokens),
else by the sandbox's own group name or robot label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ..errors import BadInput, ConfigError, DeliveryError

if TYPE_CHECKING:
    from ..sandbox.client import ControlClient
    from ..state.base import RegistryStore

DEFAULT_URL = "http://127.0.0.1:8765"
START_HINT = "start one with `groupmsg sandbox` (it prints its address), or pass --url"


def control_error(exc: Exception, url: str) -> Exception:
    """A control-API failure as one of our errors, with what to do about it."""
    status = getattr(exc, "status", 0)
    if status == 0:
        return DeliveryError(str(exc), START_HINT)
    if status == 401:
        return ConfigError(
            f"the sandbox at {url} wants its control token",
            "it printed the token when it started: pass --token or export GROUPMSG_SANDBOX_TOKEN",
        )
    return BadInput(str(exc))


class Names:
    """Who a recorded message went to, as the user calls it."""

    def __init__(self, registry: RegistryStore | None, client: ControlClient) -> None:
        self.by_chat: dict[str, str] = {}
        self.by_cid: dict[str, str] = {}
        self.by_robot: dict[str, str] = {}
        self.registered: dict[str, str] = {}  # robot name -> registry group name
        hooks: dict[str, str] = {}
        for group in registry.list() if registry is not None else []:
            if group.chat_id:
                self.by_chat[group.chat_id] = group.name
            if group.open_conversation_id:
                self.by_cid[group.open_conversation_id] = group.name
            token = parse_qs(urlsplit(group.webhook or "").query).get("access_token", [""])[0]
            if token:
                hooks[hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]] = group.name
        for robot in client.robots():
            if robot["token_id"] in hooks:
                self.registered[robot["name"]] = hooks[robot["token_id"]]
            self.by_robot[robot["name"]] = hooks.get(robot["token_id"]) or robot.get("group") or robot["name"]
        for chat in client.chats():
            self.by_chat.setdefault(chat["chat_id"], chat["name"])
            self.by_cid.setdefault(chat["open_conversation_id"], chat["name"])

    def of(self, entry: dict[str, Any]) -> str:
        if entry.get("channel") == "webhook":
            robot = str(entry.get("robot") or "")
            return self.by_robot.get(robot, robot)
        if entry.get("chat_id") in self.by_chat:
            return self.by_chat[str(entry["chat_id"])]
        cid = str(entry.get("open_conversation_id") or "")
        return self.by_cid.get(cid, cid or str(entry.get("chat_id") or "?"))


class SandboxControl:
    def __init__(self, url: str, token: str | None, registry: Callable[[], RegistryStore | None]) -> None:
        from ..sandbox.client import ControlClient, ControlError

        try:
            self.client = ControlClient(url, token)
        except ControlError as e:
            raise BadInput(str(e), "e.g. --url http://127.0.0.1:8765") from None
        self.url = self.client.url
        self._registry = registry

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        from ..sandbox.client import ControlError

        try:
            return self.client.request(method, path, body)
        except ControlError as e:
            raise control_error(e, self.url) from None

    def _names(self) -> Names:
        from ..sandbox.client import ControlError

        try:
            return Names(self._registry(), self.client)
        except ControlError as e:
            raise control_error(e, self.url) from None

    # -- messages ----------------------------------------------------------
    def messages(self, group: str | None = None) -> list[dict[str, Any]]:
        """What the sandbox received, each with ``group`` (its name); only ``group``'s when given."""
        entries = self._call("GET", "/_sandbox/messages")
        names = self._names()
        out = [{**e, "group": names.of(e)} for e in entries]
        return [e for e in out if group is None or e["group"] == group]

    def follow(self, group: str | None = None) -> Iterator[dict[str, Any]]:
        """Like `tail -f`: the messages received so far, then each one as it arrives, until the
        sandbox stops (then DeliveryError).  The event stream is read from its start, so nothing
        that arrives while the list is fetched is missed; what was listed is not repeated."""
        from ..sandbox.client import ControlError

        seen: set[str] = set()

        def unseen() -> Iterator[dict[str, Any]]:
            current = self.messages()
            fresh = [e for e in current if e["id"] not in seen]
            seen.clear()
            seen.update(e["id"] for e in current)
            yield from (e for e in fresh if group is None or e["group"] == group)

        yield from unseen()
        names = self._names()
        try:
            for event, data in self.client.events(after=0):
                if event == "group":
                    names = self._names()
                elif event == "reload":  # a reset, robots changed, or too much missed: list again
                    names = self._names()
                    yield from unseen()
                elif event == "message" and data["entry"]["id"] not in seen:
                    seen.add(data["entry"]["id"])
                    entry = {**data["entry"], "group": names.of(data["entry"])}
                    if group is None or entry["group"] == group:
                        yield entry
        except ControlError as e:
            raise control_error(e, self.url) from None
        raise DeliveryError(f"the sandbox at {self.url} stopped", START_HINT)

    def reset(self) -> None:
        self._call("POST", "/_sandbox/reset")

    # -- robots and apps ---------------------------------------------------
    def robots(self) -> list[dict[str, Any]]:
        names = self._names()
        return [{**r, "registered_as": names.registered.get(r["name"])} for r in self._call("GET", "/_sandbox/robots")]

    def add_robot(self, **fields: Any) -> dict[str, Any]:
        robot: dict[str, Any] = self._call("POST", "/_sandbox/robots", fields)
        robot["webhook_url"] = self.url + robot.pop("webhook")
        return robot

    def change_robot(self, name: str, **changes: Any) -> dict[str, Any]:
        if not changes:
            raise BadInput("nothing to change", "give --keyword, --ip, --secret/--no-secret, --enable/--disable, --group or --rename")
        result: dict[str, Any] = self._call("PATCH", self.client.robot_path(name), changes)
        return result

    def remove_robot(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("DELETE", self.client.robot_path(name))
        return result

    def apps(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", "/_sandbox/apps")
        return result

    def add_app(self, key: str, secret: str, robot_codes: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/_sandbox/apps", {"key": key, "secret": secret, "robot_codes": robot_codes})
        return result

    def remove_app(self, key: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("DELETE", self.client.app_path(key))
        return result

    # -- faults ------------------------------------------------------------
    def faults(self) -> dict[str, Any]:
        config = self._call("GET", "/_sandbox/config")
        return {"faults": config["faults"], "pending_injections": config["pending_injections"], "latency_ms": config["latency_ms"]}

    def inject(self, kind: str, times: int, path: str | None) -> dict[str, Any]:
        item: dict[str, Any] = {"kind": kind, "times": times}
        if path:
            item["path"] = path
        config = self._call("POST", "/_sandbox/config", {"inject": [item]})
        return {"faults": config["faults"], "pending_injections": config["pending_injections"], "latency_ms": config["latency_ms"]}

    def configure(self, **changes: Any) -> dict[str, Any]:
        config = self._call("POST", "/_sandbox/config", changes)
        return {"faults": config["faults"], "pending_injections": config["pending_injections"], "latency_ms": config["latency_ms"]}
