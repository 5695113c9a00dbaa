"""The sandbox: a local DingTalk that validates like DingTalk, answers like
DingTalk and records everything.

Transport-free: :meth:`Sandbox.process` takes a request (method, target,
headers, body, client IP) and returns a :class:`~.replies.Reply`;
``server.py`` puts it on a socket, ``transport.py`` behind an httpx transport.  Section
numbers (§n) refer to ``docs/dingtalk-api.md``.

How a request is answered:
* ``routes``   — which endpoint a path is;
* ``pipeline`` — method, fault injection (``faults``), authentication and
  per-app QPS (``gateway``), the handler, the reply in the family's shape
  (``replies``), the request log;
* ``handlers`` — one module per API family: ``tokens`` (§2), ``groups`` (§3),
  ``send`` (§4), ``webhook`` (§5), and ``control`` for ``/_sandbox/*``.

Families (§1): legacy ``oapi`` and ``topapi`` (``?access_token=``, HTTP 200
+ errcode even on failure), new ``api`` (``/v1.0``, header token, HTTP 4xx/5xx
+ code on failure) and the custom-robot ``webhook`` (always HTTP 200).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .config import RUNTIME_FIELDS, FaultConfig, PresetChat, SandboxConfig
from .errors import SandboxTimeout
from .faults import FaultInjector
from .feed import Feed
from .handlers.control import ControlEndpoint, answer
from .handlers.inbox import conversation_key, is_refused, refused_item
from .org import apply as apply_org
from .org import find_robot, new_webhook_secret, new_webhook_token, robot_public
from .persist import MESSAGES, REQUESTS, Persistence
from .pipeline import dispatch, log_request
from .replies import Reply
from .request import Request
from .routes import route, unauthorised
from .state import Chat, State, new_chat_id, new_open_conversation_id


class Sandbox:
    """A local DingTalk: validates like DingTalk, answers like DingTalk, records everything."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        state_dir: str | os.PathLike[str] | None = None,
        control_token: str | None = None,
    ) -> None:
        """``state_dir``: keep groups, tokens, robots and messages there across restarts
        (``persist.py``).  ``control_token``: ``/_sandbox/*`` and the inbox answer only
        requests that carry it (``X-Sandbox-Token``, ``Authorization: Bearer`` or ``?token=``)."""
        self._cfg = dataclasses.replace(config) if config is not None else SandboxConfig()
        self._lock = threading.RLock()
        self._clock: Callable[[], float] = self._cfg.clock or time.time
        self._faults = FaultInjector(self._cfg.faults.seed)
        self._state = State(self._cfg.max_request_log)
        self._feed = Feed()
        self._control_token = control_token
        self._org_ops: list[dict[str, Any]] = []  # robots and apps changed at run time
        self._store: Persistence | None = None
        self._saved: tuple[Any, ...] = ()
        if state_dir is None:
            self._seed_chats()
        else:
            self._open_store(state_dir)

    @property
    def config(self) -> SandboxConfig:
        """The live configuration (treat as read-only; change it with :meth:`configure`)."""
        return self._cfg

    @property
    def feed(self) -> Feed:
        """What changed: accepted messages, refused requests, reloads (for the web inbox)."""
        return self._feed

    # ------------------------------------------------------------------
    # answering requests
    # ------------------------------------------------------------------
    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        client_ip: str = "127.0.0.1",
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request synchronously (sleeping the configured latency).

        Raises :class:`SandboxTimeout` when an injected ``timeout`` fault means
        DingTalk would never answer.
        """
        reply = self.process(method, target, headers, body, client_ip)
        if reply.drop:
            raise SandboxTimeout(f"injected timeout for {method} {target.split('?', 1)[0]}")
        if reply.delay_s > 0:
            time.sleep(reply.delay_s)
        return reply.status, dict(reply.headers), reply.body

    def process(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        client_ip: str = "127.0.0.1",
    ) -> Reply:
        """Answer one request without sleeping; the caller applies ``delay_s``/``drop``."""
        with self._lock:
            req = Request.parse(method, target, headers, body, client_ip, self._clock())
            ep = route(req)
            if isinstance(ep, ControlEndpoint):
                if self._control_token and not ep.public and not self._authorised(req):
                    return unauthorised(req)
                return answer(ep, req, self)
            recorded, groups = len(self._state.messages), len(self._state.chats)
            reply = dispatch(ep, req, self._state, self._cfg, self._faults)
            reply.delay_s += self._cfg.latency_ms / 1000.0
            logged = log_request(self._state, req, reply)
            self._publish(recorded, groups, logged)
            if self._store is not None:
                self._store.append(MESSAGES, self._state.messages[recorded:])
                self._store.append(REQUESTS, [logged])
                self._save()
            return reply

    def _authorised(self, req: Request) -> bool:
        import hmac

        auth = req.headers.get("authorization", "")
        given = req.headers.get("x-sandbox-token") or (auth[7:] if auth.lower().startswith("bearer ") else "") or req.query.get("token", "")
        assert self._control_token is not None
        return hmac.compare_digest(given.encode("utf-8", "replace"), self._control_token.encode("utf-8"))

    def _publish(self, recorded: int, groups: int, logged: dict[str, Any]) -> None:
        state = self._state
        for new in list(state.chats.values())[groups:]:
            self._feed.publish("group", {"key": new.chat_id, "name": new.name, "kind": "group", "members": len(new.members)})
        for entry in state.messages[recorded:]:
            chat = state.by_cid.get(entry.get("open_conversation_id") or "")
            self._feed.publish("message", (entry, conversation_key(entry, {chat.open_conversation_id: chat.chat_id} if chat else {})))
        if is_refused(logged):
            self._feed.publish("refused", refused_item(logged))

    def transport(self, client_ip: str = "127.0.0.1") -> Any:
        """An httpx transport (sync and async) that routes every host to this sandbox."""
        from .transport import make_transport

        return make_transport(self, client_ip=client_ip)

    # ------------------------------------------------------------------
    # what it received
    # ------------------------------------------------------------------
    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            msgs = [m for m in self._state.messages if channel is None or m["channel"] == channel]
            return copy.deepcopy(msgs)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._state.requests))

    def chats(self) -> list[dict[str, Any]]:
        with self._lock:
            return [c.public() for c in self._state.chats.values()]

    # ------------------------------------------------------------------
    # steering it
    # ------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the configured initial state: no tokens, messages, requests,
        rate windows or injected faults; only the config's preset chats.  Robots
        and apps added at run time stay (they are the organisation, not its traffic)."""
        with self._lock:
            self._state = State(self._cfg.max_request_log)
            self._faults = FaultInjector(self._cfg.faults.seed)
            self._seed_chats()
            if self._store is not None:
                self._store.clear_records()
                self._save(force=True)
            self._feed.publish("reload")

    def add_chat(
        self,
        chat_id: str | None = None,
        open_conversation_id: str | None = None,
        name: str = "group",
        owner: str = "user-owner",
        members: Iterable[str] = (),
        app_key: str | None = None,
        robot_codes: Iterable[str] = (),
        conversation_tag: int = 2,
    ) -> dict[str, Any]:
        """Pre-register a group as if ``app_key`` had created it earlier.

        ``app_key`` defaults to the first configured app.  That app's robots
        are in the group; ``robot_codes`` adds more.  Ids are generated when
        not given.
        """
        robot_codes = tuple(robot_codes)
        with self._lock:
            if app_key is not None and app_key not in self._cfg.apps:
                raise ValueError(f"unknown app key {app_key!r}")
            for code in robot_codes:
                if code not in self._cfg.robot_codes:
                    raise ValueError(f"unknown robot code {code!r}")
            preset = PresetChat(
                chat_id=chat_id or new_chat_id(),
                open_conversation_id=open_conversation_id or new_open_conversation_id(),
                name=name,
                owner=owner,
                members=tuple(members),
                app_key=app_key,
                robot_codes=robot_codes,
                conversation_tag=conversation_tag,
            )
            chat = self._state.add_chat(self._preset_chat(preset)).public()
            self._save()
            self._feed.publish("reload")
            return chat

    def configure(self, **changes: Any) -> None:
        """Change runtime settings: latency_ms, faults (FaultConfig or a dict
        merged into the current one), limits, webhook_window_s, webhook_limit,
        webhook_block_s, qps_per_app, token_ttl_s."""
        unknown = set(changes) - RUNTIME_FIELDS
        if unknown:
            raise ValueError(f"not changeable at runtime: {sorted(unknown)}; allowed: {sorted(RUNTIME_FIELDS)}")
        with self._lock:
            faults = changes.get("faults")
            reseed = False
            if isinstance(faults, Mapping):
                changes["faults"] = FaultConfig.from_dict(faults, base=self._cfg.faults)
                reseed = "seed" in faults
            elif isinstance(faults, FaultConfig):
                reseed = True
            elif faults is not None:
                raise TypeError("faults must be a FaultConfig or a mapping")
            new_cfg = dataclasses.replace(self._cfg, **changes)  # re-validates
            self._cfg = new_cfg
            if reseed:
                self._faults.reseed(new_cfg.faults.seed)

    def inject_fault(self, kind: str, times: int = 1, path: str | None = None) -> None:
        """Force ``kind`` on the next ``times`` DingTalk requests (whose path
        starts with ``path``, if given), regardless of the random rate."""
        with self._lock:
            self._faults.inject(kind, times, path)

    def pending_faults(self) -> list[dict[str, Any]]:
        """Injected faults not used up yet: ``kind``, ``times`` left, ``path``."""
        with self._lock:
            return self._faults.pending()

    # ------------------------------------------------------------------
    # the organisation at run time: webhook robots and apps (org.py)
    # ------------------------------------------------------------------
    def robots(self) -> list[dict[str, Any]]:
        """Every webhook robot, without tokens or secrets (``token_id`` is a fingerprint)."""
        with self._lock:
            return [robot_public(t, r) for t, r in self._cfg.webhooks.items()]

    def add_robot(
        self,
        name: str,
        *,
        token: str | None = None,
        secret: str | bool | None = None,
        keywords: Iterable[str] = (),
        ip_allowlist: Iterable[str] = (),
        enabled: bool = True,
        group: str | None = None,
    ) -> dict[str, Any]:
        """Add a custom robot, as DingTalk's 添加机器人 form does.  ``token`` and a ``secret``
        of ``True`` are generated (64 hex characters; ``SEC`` + 64).  The answer is the only
        place its token and secret are shown: ``token``, ``secret`` and ``webhook`` (the
        path and query to append to the sandbox's URL)."""
        token = token or new_webhook_token()
        if secret is True:
            secret = new_webhook_secret()
        op = {
            "op": "add_robot", "token": token, "name": name, "secret": secret or None, "keywords": list(keywords),
            "ip_allowlist": list(ip_allowlist), "enabled": enabled, "group": group,
        }
        with self._lock:
            self._change_org(op)
            return {**robot_public(token, self._cfg.webhooks[token]), "token": token, "secret": secret or None,
                    "webhook": f"/robot/send?access_token={token}"}

    def change_robot(self, name: str, **changes: Any) -> dict[str, Any]:
        """Change a robot's ``secret`` (``True``: a new one, returned), ``keywords``,
        ``ip_allowlist``, ``enabled``, ``group`` or ``name``."""
        with self._lock:
            token = find_robot(self._cfg, name)
            new_secret = None
            if changes.get("secret") is True:
                changes["secret"] = new_secret = new_webhook_secret()
            self._change_org({"op": "change_robot", "name": token, "changes": changes})
            out = robot_public(token, self._cfg.webhooks[token])
            return {**out, "secret": new_secret} if new_secret else out

    def remove_robot(self, name: str) -> dict[str, Any]:
        with self._lock:
            token = find_robot(self._cfg, name)
            gone = robot_public(token, self._cfg.webhooks[token])
            self._change_org({"op": "remove_robot", "name": token})
            return gone

    def apps(self) -> list[dict[str, Any]]:
        """Every app with its robot codes (never its secret)."""
        with self._lock:
            return [{"key": k, "robot_codes": sorted(c for c, a in self._cfg.robot_codes.items() if a == k)} for k in self._cfg.apps]

    def add_app(self, key: str, secret: str, robot_codes: Iterable[str] = ()) -> dict[str, Any]:
        with self._lock:
            self._change_org({"op": "add_app", "key": key, "secret": secret, "robot_codes": list(robot_codes)})
            return {"key": key, "robot_codes": sorted(robot_codes)}

    def remove_app(self, key: str) -> dict[str, Any]:
        with self._lock:
            gone = next((a for a in self.apps() if a["key"] == key), {"key": key})
            self._change_org({"op": "remove_app", "key": key})
            return gone

    def _change_org(self, op: dict[str, Any]) -> None:
        self._cfg = apply_org(self._cfg, op)
        self._org_ops.append(op)
        self._save(force=True)
        self._feed.publish("reload")

    # ------------------------------------------------------------------
    # the state folder (persist.py)
    # ------------------------------------------------------------------
    def _open_store(self, folder: str | os.PathLike[str]) -> None:
        self._store = Persistence(folder)
        doc, messages, requests = self._store.load(self._cfg.max_request_log)
        if doc is None:
            self._seed_chats()
        else:
            for op in doc.get("org_ops", []):
                try:
                    self._cfg = apply_org(self._cfg, op)
                except (ValueError, KeyError, TypeError):
                    continue  # the start-up configuration now says otherwise: it wins
                self._org_ops.append(op)
            self._state.load_doc(doc.get("state", {}), messages, requests)
        self._save(force=True)

    def _save(self, force: bool = False) -> None:
        if self._store is None:
            return
        fingerprint = self._state.fingerprint()
        if force or fingerprint != self._saved:
            self._store.save({"state": self._state.to_doc(), "org_ops": self._org_ops})
            self._saved = fingerprint

    def close(self) -> None:
        """Release the state folder (a sandbox without one has nothing to release)."""
        with self._lock:
            if self._store is not None:
                self._save(force=True)
                self._store.close()
                self._store = None

    # ------------------------------------------------------------------
    def _seed_chats(self) -> None:
        for preset in self._cfg.chats:
            self._state.add_chat(self._preset_chat(preset))

    def _preset_chat(self, p: PresetChat) -> Chat:
        """A group that ``p.app_key`` (default: the first app) created earlier."""
        app_key = p.app_key if p.app_key is not None else next(iter(self._cfg.apps), None)
        return Chat(
            chat_id=p.chat_id,
            open_conversation_id=p.open_conversation_id,
            name=p.name,
            owner=p.owner,
            members=list(dict.fromkeys([p.owner, *p.members])),
            app_key=app_key,
            org=self._cfg.org_of(app_key) if app_key else "org",
            kind="preset",
            created_at=self._clock(),
            conversation_tag=p.conversation_tag,
            robot_codes=list(p.robot_codes),
        )
