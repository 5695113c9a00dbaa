"""Keeping secrets and terminal controls out of output.

Secrets: access tokens, app secrets, webhook tokens and signing secrets. Everything that could be
printed (listings, run records, error messages that quote a URL) passes through here.

Terminal controls: a stored string or a message could carry an escape sequence (a window title, a
hyperlink, colours, a cursor move) or an invisible or right-to-left formatting character that makes
one text look like another. `escape_unsafe` shows each such character as a Python escape (`\\x1b`,
`\\u202e`) and `json_safe` as a JSON one. A leaf module: stdlib only.
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


# Characters a terminal acts on or that hide or reorder text: C0 and C1 controls and DEL (Unicode
# category Cc), invisible and bidirectional formatting (Cf), line and paragraph separators (Zl, Zp),
# lone surrogates (Cs). Spelt out rather than computed from unicodedata (a scan of every code point
# costs ~0.3 s per run); tests/test_security.py checks it against the running Python's tables.
UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def _py_escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_unsafe(text: str, keep: str = "") -> str:
    """`text` with every unsafe character (see UNSAFE) shown as a Python escape, except those in
    `keep` (the newlines of a message written over several lines)."""
    if not UNSAFE.search(text):
        return text
    return UNSAFE.sub(lambda m: m.group() if m.group() in keep else _py_escape(m.group()), text)


def _json_escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_safe(document: str) -> str:
    """A JSON text (as json.dumps writes it, newlines only between values) with every unsafe
    character inside its strings written as a \\u escape: the same data, nothing for a terminal."""
    if not UNSAFE.search(document):
        return document
    return UNSAFE.sub(lambda m: m.group() if m.group() == "\n" else _json_escape(m.group()), document)
