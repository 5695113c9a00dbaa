"""From a registered group and a message to a delivered DingTalk message.

Routing by the group's kind:
- webhook groups → the custom-robot webhook (signed when the group has a secret);
- app groups → `/v1.0/robot/groupMessages/send` with the open conversation id when
  DINGTALK_ROBOT_CODE is set, otherwise `chat/send` with the chat id (Yida's 「发送消息到企业群」).

Transient failures (network, timeouts, HTTP 5xx/429, DingTalk busy and throttling codes) are retried
with exponential backoff and full jitter within a total deadline; anything else fails at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from .dingtalk.client import DingTalkClient, Request, Sent
from .dingtalk.messages import Message
from .errors import BadInput, ConfigError, DeliveryError
from .limits import Rate, RateLimiter
from .registry import Group

BACKOFF_BASE_S = 0.25
BACKOFF_MAX_S = 8.0
# The webhook block and QPS bans need longer pauses than a network blip.
THROTTLE_MIN_S = 1.0


def group_secret(group: Group) -> str | None:
    if group.secret:
        return group.secret
    if group.secret_env:
        value = os.environ.get(group.secret_env)
        if not value:
            raise ConfigError(
                f"group {group.name!r} is signed with the secret in ${group.secret_env}, which is not set",
                hint=f"export {group.secret_env}=SEC… (in CI, map it from your secrets)",
            )
        return value
    return None


def channel_of(group: Group, client: DingTalkClient) -> str:
    if group.kind == "webhook":
        return "webhook"
    if client.robot_code and group.open_conversation_id:
        return "robot"
    if group.chat_id:
        return "chat"
    raise ConfigError(
        f"group {group.name!r} has only an open conversation id, which needs the robot API",
        hint="export DINGTALK_ROBOT_CODE (the app robot's code), or register the group's chat id",
    )


def check_keywords(group: Group, msg: Message) -> None:
    """Refuse before sending what the robot would refuse with 310000 (keywords not in content)."""
    text = f"{msg.title or ''}\n{msg.text}"
    if group.keywords and not any(k in text for k in group.keywords):
        raise BadInput(
            f"the message contains none of {group.name!r}'s keywords ({', '.join(group.keywords)})",
            hint="DingTalk drops it with 310000 otherwise: include one of them in the text",
        )


def build_request(client: DingTalkClient, group: Group, msg: Message, *, msg_uuid: str | None = None) -> Request:
    channel = channel_of(group, client)
    if channel == "webhook":
        assert group.webhook
        check_keywords(group, msg)
        return client.webhook_request(group.webhook, msg, secret=group_secret(group), msg_uuid=msg_uuid)
    if channel == "robot":
        assert group.open_conversation_id
        return client.robot_send_request(group.open_conversation_id, msg)
    assert group.chat_id
    return client.chat_send_request(group.chat_id, msg)


@dataclass
class Pacing:
    """Shared rate limits: every attempt (retries too) takes a slot, as DingTalk counts them all."""

    limiter: RateLimiter
    webhook_rate: Rate
    api_rate: Rate
    wait: bool = True
    on_wait: Callable[[float, str], None] | None = None

    def slot(self, client: DingTalkClient, req: Request, deadline: float, label: str) -> Callable[[], None]:
        """Wait for a slot for `req`; returns the function that gives it back once answered."""
        parts = urlsplit(req.url)
        if req.family == "webhook":
            token = parse_qs(parts.query).get("access_token", [""])[0]
            key, rate, what = f"webhook|{parts.netloc}|{token}", self.webhook_rate, f"robot of {label}"
        else:
            key, rate, what = f"app|{client.app_key}|{parts.netloc}{parts.path}", self.api_rate, f"app API {parts.path}"
        ident = self.limiter.acquire(key, rate, label=what, wait=self.wait, deadline=deadline, on_wait=self.on_wait)
        return lambda: self.limiter.release(key, rate, ident)


def deliver(
    client: DingTalkClient,
    req: Request,
    *,
    deadline: float,
    pacing: Pacing | None = None,
    label: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Sent, int]:
    """Send `req`, retrying transient failures until `deadline` (a time.monotonic() value).
    Returns what DingTalk answered and the number of attempts."""
    delay = BACKOFF_BASE_S
    attempt = 0
    while True:
        attempt += 1
        try:
            done = pacing.slot(client, req, deadline, label) if pacing else None
            try:
                return client.send_message(req), attempt
            finally:
                if done:
                    done()
        except DeliveryError as exc:
            exc.attempts = attempt
            if not exc.retryable:
                raise
            if exc.ambiguous and not req.idempotent:
                # chat/send and the robot API take no idempotency key: repeating a request that
                # may have been delivered could post it twice. Say so, and leave it to a person.
                exc.message += " — it may have been delivered, so it was not sent again"
                exc.hint = "check the group; if the message is missing, `groupmsg runs retry` sends it again"
                raise
            import random

            pause = random.uniform(0, delay)  # full jitter: concurrent cron jobs spread out
            if exc.code and not exc.code.startswith(("http-", "timeout", "network")):
                pause = max(pause, THROTTLE_MIN_S)
            if time.monotonic() + pause >= deadline:
                exc.message += f" (gave up after {attempt} attempts)"
                raise
            sleep(pause)
            delay = min(delay * 2, BACKOFF_MAX_S)
