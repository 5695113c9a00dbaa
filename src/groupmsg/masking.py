"""Keeping secrets out of output: access tokens, app secrets, webhook tokens and signing secrets.

Everything that could be printed (listings, run records, error messages that quote a URL) passes
through here. A leaf module: stdlib only.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_QUERY_KEYS = frozenset({"access_token", "sign", "appsecret", "appkey_secret"})
_SECRET_QUERY = re.compile(r"(?i)\b(access_token|sign|appsecret)=([^&\s\"']+)")
_SIGNING_SECRET = re.compile(r"\bSEC[0-9a-fA-F]{8,}\b")


def mask(value: str | None, keep: int = 4) -> str:
    """Show only the first few characters of a secret: `abcd…(40)`."""
    if not value:
        return ""
    if len(value) <= keep * 2:
        return "…"
    return f"{value[:keep]}…({len(value)})"


def mask_url(url: str) -> str:
    """A URL with the values of its secret query parameters masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if not parts.query:
        return url
    query = "&".join(
        f"{k}={mask(v)}" if k.lower() in SECRET_QUERY_KEYS else urlencode({k: v})
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(parts._replace(query=query))


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Mask known secret values and anything shaped like one (`access_token=…`, `SEC…`)."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, mask(secret))
    text = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}={mask(m.group(2))}", text)
    return _SIGNING_SECRET.sub(lambda m: mask(m.group(0)), text)


def mask_store_url(url: str) -> str:
    """A store URL with its password masked: `redis://user:****@host:6379/0`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return redact(url)
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:****@{host}"))
