"""Changing the organisation while the sandbox runs: webhook robots and apps.

Each change is a small JSON-able operation applied to a :class:`SandboxConfig`, giving a new one.
The sandbox keeps the list of operations it applied (in its state folder, when it has one) and
applies them again over the start-up configuration on the next start, so robots added at run time
survive a restart while edits to a ``--config`` file still take effect.

A robot is named by its label (``name``, or the first characters of its token when it has none)
or by its whole token; its token and secret are shown once, when it is added.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from .config import SandboxConfig, WebhookRobot, robot_label
from .errors import NotFound

ROBOT_FIELDS = ("secret", "keywords", "ip_allowlist", "enabled", "group", "name")


def new_webhook_token() -> str:
    """64 hex characters, like the access_token of a real webhook URL."""
    return os.urandom(32).hex()


def new_webhook_secret() -> str:
    """``SEC`` + 64 hex characters, like a real 加签 secret."""
    return "SEC" + os.urandom(32).hex()


def token_id(token: str) -> str:
    """A fingerprint of a webhook token (it names the robot without revealing the token)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


def robot_public(token: str, robot: WebhookRobot) -> dict[str, Any]:
    """What may be shown of a robot: everything but its token and secret."""
    return {
        "name": robot_label(token, robot),
        "group": robot.group,
        "signed": bool(robot.secret),
        "keywords": list(robot.keywords),
        "ip_allowlist": list(robot.ip_allowlist),
        "enabled": robot.enabled,
        "token_id": token_id(token),
    }


def find_robot(cfg: SandboxConfig, ref: str) -> str:
    """The token of the robot named ``ref`` (its label or its token); NotFound if none."""
    if ref in cfg.webhooks:
        return ref
    for token, robot in cfg.webhooks.items():
        if robot_label(token, robot) == ref:
            return token
    names = ", ".join(sorted(robot_label(t, r) for t, r in cfg.webhooks.items())) or "none"
    raise NotFound(f"no webhook robot named {ref!r} (robots: {names})")


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{what} must be a list of non-empty strings")
    return tuple(value)


def robot_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(ROBOT_FIELDS)
    if unknown:
        raise ValueError(f"unknown robot setting(s) {sorted(unknown)}; known: {list(ROBOT_FIELDS)}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("keywords", "ip_allowlist"):
            out[key] = _strings(value, key)
        elif key == "enabled":
            if not isinstance(value, bool):
                raise ValueError("enabled must be true or false")
            out[key] = value
        elif key == "secret":
            if value is not None and not (isinstance(value, str) and value.startswith("SEC") and len(value) > 3):
                raise ValueError("a secret looks like SEC… (or null for none)")
            out[key] = value or None
        else:  # name, group
            if value is not None and not (isinstance(value, str) and value.strip()):
                raise ValueError(f"{key} must be a non-empty string")
            out[key] = value.strip() if isinstance(value, str) else None
    if "ip_allowlist" in out:
        check_allowlist(out["ip_allowlist"])
    return out


def check_allowlist(entries: Iterable[str]) -> None:
    import ipaddress

    for entry in entries:
        try:
            ipaddress.IPv4Network(entry, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not an IPv4 address or CIDR block (DingTalk takes no IPv6)") from None


def apply(cfg: SandboxConfig, op: Mapping[str, Any]) -> SandboxConfig:
    """The configuration after one operation; ValueError or NotFound if it cannot apply."""
    kind = op.get("op")
    webhooks = dict(cfg.webhooks)
    if kind == "add_robot":
        token = op.get("token")
        if not isinstance(token, str) or not token:
            raise ValueError("a robot needs a token")
        if token in webhooks:
            raise ValueError("a robot with this token already exists")
        fields = robot_fields({k: v for k, v in op.items() if k not in ("op", "token")})
        name = fields.get("name")
        if not name:
            raise ValueError("a robot added at run time needs a name")
        if any(robot_label(t, r) == name for t, r in webhooks.items()):
            raise ValueError(f"a webhook robot named {name!r} already exists")
        webhooks[token] = WebhookRobot(**fields)
        return dataclasses.replace(cfg, webhooks=webhooks)
    if kind == "change_robot":
        token = find_robot(cfg, str(op.get("name")))
        changes = robot_fields(op.get("changes") or {})
        new_name = changes.get("name")
        if new_name and any(robot_label(t, r) == new_name for t, r in webhooks.items() if t != token):
            raise ValueError(f"a webhook robot named {new_name!r} already exists")
        webhooks[token] = dataclasses.replace(webhooks[token], **changes)
        return dataclasses.replace(cfg, webhooks=webhooks)
    if kind == "remove_robot":
        del webhooks[find_robot(cfg, str(op.get("name")))]
        return dataclasses.replace(cfg, webhooks=webhooks)
    if kind == "add_app":
        key, secret = op.get("key"), op.get("secret")
        if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
            raise ValueError("an app needs a key and a secret")
        if key in cfg.apps:
            raise ValueError(f"an app {key!r} already exists")
        codes = _strings(op.get("robot_codes") or [], "robot_codes")
        taken = [c for c in codes if c in cfg.robot_codes]
        if taken:
            raise ValueError(f"robot code {taken[0]!r} already belongs to app {cfg.robot_codes[taken[0]]!r}")
        return dataclasses.replace(
            cfg, apps={**cfg.apps, key: secret}, robot_codes={**cfg.robot_codes, **dict.fromkeys(codes, key)}
        )
    if kind == "remove_app":
        key = op.get("key")
        if key not in cfg.apps:
            raise NotFound(f"no app {key!r} (apps: {', '.join(sorted(cfg.apps)) or 'none'})")
        apps = {k: v for k, v in cfg.apps.items() if k != key}
        kept = {c: a for c, a in cfg.robot_codes.items() if a != key}
        return dataclasses.replace(cfg, apps=apps, robot_codes=kept)
    raise ValueError(f"unknown operation {kind!r}")
