"""Custom-robot webhook signing (安全设置 → 加签), per DingTalk's security-settings page.

sign = urlEncode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))), timestamp in ms.
A fresh timestamp per request: DingTalk refuses signatures more than one hour old.
"""

from __future__ import annotations

import time
from urllib.parse import quote


def signature(secret: str, timestamp_ms: int) -> str:
    """The base64 signature (before URL-encoding)."""
    import base64
    import hashlib
    import hmac

    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_query(secret: str, timestamp_ms: int | None = None) -> str:
    """`timestamp=…&sign=…` to append to a webhook URL, URL-encoded exactly once."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return f"timestamp={ts}&sign={quote(signature(secret, ts), safe='')}"
