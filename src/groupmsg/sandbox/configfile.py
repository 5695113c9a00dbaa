"""The sandbox's YAML configuration file (``groupmsg sandbox --config FILE``).

    apps:                                  # default: the demo app
      - {key: my-app, secret: my-secret, robot_codes: [my-robot]}
    webhooks:                              # default: the two demo robots
      - name: ops                          # how records, logs and the inbox name it
        group: 运维告警                     # the group it sits in (the inbox shows this name)
        token: 0123…(64 hex)               # optional: a fixed token (else one is made and printed)
        secret: SEC…                       # optional 加签 secret; `true` makes one
        keywords: [告警]                    # optional, at most 10
        ip_allowlist: [127.0.0.1/32]       # optional IPv4 addresses or CIDR blocks
        enabled: true
    users: [u1, u2]                        # optional: only these user ids exist
    templates: [my-template]               # scene-group templates
    chats:                                 # groups that exist from the start
      - {name: 项目群, owner: u1, members: [u2], chat_id: chat…, open_conversation_id: cid…}
    latency_ms: 0
    limits: true
    faults: {rate: 0.1, kinds: [busy, http500], seed: 1}

Every key is optional; what is given replaces the demo's.  Problems are reported with the file
and the key (``sandbox.yaml: webhooks[1].keywords: …``).  PyYAML is imported only here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import FaultConfig, PresetChat, WebhookRobot
from .org import new_webhook_secret, new_webhook_token, robot_fields
from .state import new_chat_id, new_open_conversation_id

TOP = ("apps", "webhooks", "users", "templates", "chats", "latency_ms", "limits", "faults", "webhook_codes")
CHAT_KEYS = ("name", "owner", "members", "chat_id", "open_conversation_id", "app_key", "robot_codes")


class ConfigFileError(ValueError):
    """A problem in the file, named by its key path."""


def load(path: str | Path) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """``SandboxConfig.demo`` overrides from the file, and the robots whose token or secret
    was made here (to be shown once: name, token, secret)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigFileError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigFileError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if data is None:
        return {}, []
    where = path.name

    def fail(key: str, problem: str) -> ConfigFileError:
        return ConfigFileError(f"{where}: {key}: {problem}")

    if not isinstance(data, Mapping):
        raise fail("(top)", "must be a mapping of settings")
    unknown = set(data) - set(TOP)
    if unknown:
        raise fail(sorted(unknown)[0], f"unknown setting; known: {', '.join(TOP)}")
    out: dict[str, Any] = {}
    made: list[dict[str, str]] = []
    if "apps" in data:
        apps, codes = {}, {}
        for i, app in enumerate(_items(data["apps"], "apps", fail)):
            key, secret = app.get("key"), app.get("secret")
            if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
                raise fail(f"apps[{i}]", "needs key and secret")
            apps[key] = secret
            for code in _str_list(app.get("robot_codes", []), f"apps[{i}].robot_codes", fail):
                codes[code] = key
        out["apps"], out["robot_codes"] = apps, codes
    if "webhooks" in data:
        robots = {}
        for i, item in enumerate(_items(data["webhooks"], "webhooks", fail)):
            raw = dict(item)
            token = raw.pop("token", None) or None
            if not raw.get("name"):
                raise fail(f"webhooks[{i}]", "needs a name")
            generated: dict[str, str] = {}
            if token is None:
                token = generated["token"] = new_webhook_token()
            if raw.get("secret") is True:
                raw["secret"] = generated["secret"] = new_webhook_secret()
            try:
                robots[str(token)] = WebhookRobot(**robot_fields(raw))
            except (ValueError, TypeError) as e:
                raise fail(f"webhooks[{i}]", str(e)) from None
            if generated:
                made.append({"name": str(raw["name"]), **generated})
        out["webhooks"] = robots
    if "users" in data:
        out["users"] = set(_str_list(data["users"], "users", fail))
    if "templates" in data:
        out["templates"] = set(_str_list(data["templates"], "templates", fail))
    if "chats" in data:
        chats = []
        for i, chat in enumerate(_items(data["chats"], "chats", fail)):
            extra = set(chat) - set(CHAT_KEYS)
            if extra:
                raise fail(f"chats[{i}].{sorted(extra)[0]}", f"unknown; known: {', '.join(CHAT_KEYS)}")
            chats.append(
                PresetChat(
                    chat_id=str(chat.get("chat_id") or new_chat_id()),
                    open_conversation_id=str(chat.get("open_conversation_id") or new_open_conversation_id()),
                    name=str(chat.get("name") or "group"),
                    owner=str(chat.get("owner") or "user-owner"),
                    members=tuple(_str_list(chat.get("members", []), f"chats[{i}].members", fail)),
                    app_key=chat.get("app_key"),
                    robot_codes=tuple(_str_list(chat.get("robot_codes", []), f"chats[{i}].robot_codes", fail)),
                )
            )
        out["chats"] = tuple(chats)
    for key in ("latency_ms", "limits", "webhook_codes"):
        if key in data:
            out[key] = data[key]
    if "faults" in data:
        if not isinstance(data["faults"], Mapping):
            raise fail("faults", "must be a mapping (rate, kinds, seed, latency_ms, timeout_s)")
        try:
            out["faults"] = FaultConfig.from_dict(data["faults"])
        except (ValueError, TypeError) as e:
            raise fail("faults", str(e)) from None
    return out, made


def _items(value: Any, key: str, fail: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise fail(key, "must be a list of mappings")
    return value


def _str_list(value: Any, key: str, fail: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and str(v) for v in value):
        raise fail(key, "must be a list of names")
    return [str(v) for v in value]
