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
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from .dingtalk.client import DingTalkClient, Request, Sent
from .dingtalk.messages import Message
from .errors import ConfigError, DeliveryError
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


def build_request(client: DingTalkClient, group: Group, msg: Message, *, msg_uuid: str | None = None) -> Request:
    channel = channel_of(group, client)
    if channel == "webhook":
        assert group.webhook
        return client.webhook_request(group.webhook, msg, secret=group_secret(group), msg_uuid=msg_uuid)
    if channel == "robot":
        assert group.open_conversation_id
        return client.robot_send_request(group.open_conversation_id, msg)
    assert group.chat_id
    return client.chat_send_request(group.chat_id, msg)


@dataclass
class Attempts:
    count: int = 0


def deliver(
    client: DingTalkClient,
    req: Request,
    *,
    deadline: float,
    attempts: Attempts | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Sent:
    """Send `req`, retrying transient failures until `deadline` (a time.monotonic() value)."""
    attempts = attempts if attempts is not None else Attempts()
    delay = BACKOFF_BASE_S
    while True:
        attempts.count += 1
        try:
            return client.deliver(req)
        except DeliveryError as exc:
            if not exc.retryable:
                raise
            pause = random.uniform(0, delay)  # full jitter: concurrent cron jobs spread out
            if exc.code and not exc.code.startswith(("http-", "timeout", "network")):
                pause = max(pause, THROTTLE_MIN_S)
            if time.monotonic() + pause >= deadline:
                exc.message += f" (gave up after {attempts.count} attempts)"
                raise
            sleep(pause)
            delay = min(delay * 2, BACKOFF_MAX_S)
