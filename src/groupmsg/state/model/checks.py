"""The rules every stored string meets: group names, free text, variable names, webhook URLs and
signing secrets (BadInput naming what is wrong otherwise), the type check of stored documents, and
how an id typed by a person picks a run or a record."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from ...errors import BadInput
from ...masking import mask_url

NAME_MAX = 64
TEXT_MAX = 256  # owners, keywords, chat ids: far more than DingTalk's own ids need
URL_MAX = 2048
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
DINGTALK_WEBHOOK_HOST = "oapi.dingtalk.com"
# Invisible or bidirectional formatting (Cf: zero-width space, right-to-left override, …), line and
# paragraph separators: in a name they make two different groups look the same.
_HIDDEN = frozenset({"Cf", "Zl", "Zp", "Cs"})


def _char(ch: str) -> str:
    import unicodedata as ud

    return f"U+{ord(ch):04X}" + (f" ({ud.name(ch)})" if ud.name(ch, "") else "")


def normalize_name(name: str) -> str:
    """Names compare after Unicode NFC and trimming: `项目A` typed two ways is one group.

    This is how a name is looked up; a name being stored is also checked by `check_name`."""
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise BadInput("a group name cannot be empty")
    if len(cleaned) > NAME_MAX:
        raise BadInput(f"group name is {len(cleaned)} characters; at most {NAME_MAX} are allowed")
    bad = next((ch for ch in cleaned if unicodedata.category(ch) == "Cc"), None)
    if bad is not None:
        raise BadInput(f"group name {cleaned!r} contains the control character {_char(bad)}")
    return cleaned


def check_name(name: str) -> str:
    """A name as it may be stored: `normalize_name`, and no invisible or bidirectional formatting
    characters, so that no two registered names look the same."""
    cleaned = normalize_name(name)
    bad = next((ch for ch in cleaned if unicodedata.category(ch) in _HIDDEN), None)
    if bad is not None:
        raise BadInput(
            f"group name {cleaned!r} contains the invisible formatting character {_char(bad)}",
            hint="type the name again without it (it would look like another name)",
        )
    return cleaned


def check_text(value: str, what: str, *, max_len: int = TEXT_MAX) -> str:
    """A short stored string (an owner, a keyword, a chat id): trimmed, no control characters."""
    cleaned = value.strip()
    if not cleaned:
        raise BadInput(f"{what} cannot be empty")
    if len(cleaned) > max_len:
        raise BadInput(f"{what} is {len(cleaned)} characters; at most {max_len} are allowed")
    bad = next((ch for ch in cleaned if unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs")), None)
    if bad is not None:
        raise BadInput(f"{what} {cleaned!r} contains the control character {_char(bad)}")
    return cleaned


def check_env_name(name: str, option: str = "--secret-env") -> str:
    """The name of the environment variable holding a webhook's secret (or its URL, `option`
    --webhook-env / webhook_env): letters, digits, `_`."""
    cleaned = name.strip()
    if not ENV_NAME.fullmatch(cleaned):
        raise BadInput(
            f"{option} {cleaned!r} is not an environment variable name",
            hint="letters, digits and _, not starting with a digit (e.g. ROBOT_SECRET)",
        )
    return cleaned


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: a sandbox or a tunnel on this machine."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_host(url: str) -> str:
    """The host a webhook URL sends its access token to (lowercase, without port)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def parse_webhook(url: str, allow_host: str | None = None) -> str:
    """Check a custom-robot webhook URL: it must carry its access_token (DingTalk rejects it
    otherwise) and send it only to DingTalk (https://oapi.dingtalk.com), to this machine (a
    sandbox), or to the one host the user allowed with --allow-host."""
    url = check_text(url, "the webhook URL", max_len=URL_MAX)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise BadInput(
            f"{mask_url(url)!r} is not a webhook URL",
            hint="copy it from the robot's settings: https://oapi.dingtalk.com/robot/send?access_token=…",
        )
    token = parse_qs(parts.query).get("access_token", [""])[0]
    if not token:
        raise BadInput(
            "the webhook URL has no access_token parameter",
            hint="copy the whole URL from the robot's settings, including ?access_token=…",
        )
    allowed = (allow_host or "").strip().lower()
    if is_loopback(host) or host == allowed:
        return url
    if host != DINGTALK_WEBHOOK_HOST:
        raise BadInput(
            f"the webhook sends its access token to {host}, which is not DingTalk ({DINGTALK_WEBHOOK_HOST})",
            hint=f"check where the URL came from; if {host} is your own gateway, add --allow-host {host}",
        )
    if parts.scheme != "https":
        raise BadInput(
            f"the webhook uses plain http://, so its access token would cross the network unencrypted to {host}",
            hint="use https:// (DingTalk serves it), or --allow-host " + host + " if you must",
        )
    return url


def check_allow_host(host: str) -> str:
    """A host name given to --allow-host: a bare host, as it appears in the webhook URL."""
    cleaned = check_text(host, "--allow-host", max_len=253).lower()
    if not re.fullmatch(r"[a-z0-9._:\-\[\]]+", cleaned) or "/" in cleaned:
        raise BadInput(
            f"--allow-host {cleaned!r} is not a host name",
            hint="give the host alone, as in the URL: --allow-host gateway.example.com",
        )
    return cleaned.strip("[]")


def check_secret(secret: str) -> str:
    secret = secret.strip()
    if not secret.startswith("SEC"):
        raise BadInput(
            "a signing secret starts with SEC (the robot's 加签 setting)",
            hint="copy the secret shown under 安全设置 → 加签 in the robot's settings",
        )
    if not secret.isascii() or not secret.isalnum():
        raise BadInput("a signing secret is letters and digits only (SEC…)", hint="copy it again from 加签")
    return secret


def typed_fields(cls: type, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The known fields of a stored document, each checked against the dataclass's annotation (a
    document of the wrong shape is refused here rather than failing somewhere later)."""
    if not isinstance(doc, Mapping):
        raise TypeError(f"a {cls.__name__} is a mapping, not {type(doc).__name__}")
    values = {}
    for f in fields(cls):
        if f.name not in doc:
            continue
        value, wanted = doc[f.name], _TYPES.get(str(f.type))
        if wanted is not None and not isinstance(value, wanted):
            raise TypeError(f"{cls.__name__.lower()} field {f.name!r} is {type(value).__name__}, not {f.type}")
        values[f.name] = value
    return values


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "int": (int,),
    "int | None": (int, type(None)),
    "bool": (bool,),
    "dict[str, Any]": (dict,),
    "dict[str, Any] | None": (dict, type(None)),
    "list[Step]": (list,),
    "tuple[str, ...]": (list, tuple),
    "Mapping[str, Any]": (dict,),
}


T = TypeVar("T")


def pick_by_id(
    items: Iterable[T], wanted: str, *, id_of: Callable[[T], str], many: str, missing: str, missing_hint: str
) -> T:
    """The item whose id is `wanted`, or of which `wanted` is a unique start or end (how `runs show`
    and `forms update` take ids); BadInput otherwise. `many` names what several matches are."""
    matches = []
    for item in items:
        ident = id_of(item)
        if ident == wanted:
            return item
        if wanted and (ident.startswith(wanted) or ident.endswith(wanted)):
            matches.append(item)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise BadInput(f"{wanted!r} matches {len(matches)} {many}", hint="give more of the id")
    raise BadInput(missing, hint=missing_hint)
