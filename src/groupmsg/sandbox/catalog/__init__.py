"""Message catalogues and their validation, one module per sending channel
(section numbers refer to ``docs/dingtalk-api.md``):

* ``chat``: chat/send (legacy, an app sends "as the enterprise"), ``msgtype`` with **snake_case**
  bodies — §4.1;
* ``robot``: robot groupMessages/send (new API), ``msgKey`` + ``msgParam`` — §4.2;
* ``webhook``: the custom-robot webhook, ``msgtype`` with **camelCase** bodies — §5.1.

Each validator returns a :class:`Summary` (what the sandbox records: the wire's type, title and
main text, and the channel-neutral ``message`` of ``common``) or raises the channel's error.
"""

from __future__ import annotations

from .chat import CHAT_LIMITS, CHAT_MSGTYPES, validate_chat_msg
from .common import Summary, neutral
from .robot import MSG_KEYS, MSG_PARAM_MAX_BYTES, parse_msg_param
from .webhook import WEBHOOK_MSGTYPES, validate_webhook_msg, webhook_text_fields

__all__ = [
    "CHAT_LIMITS",
    "CHAT_MSGTYPES",
    "MSG_KEYS",
    "MSG_PARAM_MAX_BYTES",
    "WEBHOOK_MSGTYPES",
    "Summary",
    "neutral",
    "parse_msg_param",
    "validate_chat_msg",
    "validate_webhook_msg",
    "webhook_text_fields",
]
