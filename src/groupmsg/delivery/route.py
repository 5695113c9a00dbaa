"""From a group and a message to the one request that delivers it: routing and building.

Routing by the group's kind:
- webhook groups → the custom-robot webhook (signed when the group has a secret);
- app groups → `/v1.0/robot/groupMessages/send` with the open conversation id when
  DINGTALK_ROBOT_CODE is set, otherwise `chat/send` with the chat id (Yida's 「发送消息到企业群」).

A request is built once, here, with every check that can be made before sending (sizes with the
idempotency key that will be sent, mentions, keywords, secrets), and then passed on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import BadInput, ConfigError

if TYPE_CHECKING:
    from ..dingtalk.client import DingTalkClient, Request
    from ..dingtalk.messages import Message
    from ..state.model import Group

WEBHOOK, CHAT, ROBOT = "webhook", "chat", "robot"


@dataclass(frozen=True)
class Prepared:
    """One message for one group, routed and built: ready to send as many times as it takes."""

    group: Group
    channel: str
    request: Request


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


def group_webhook(group: Group) -> str:
    """The group's webhook URL: stored, or read from the variable a registry kept in git names."""
    if group.webhook:
        return group.webhook
    from ..state.model import parse_webhook

    value = os.environ.get(group.webhook_env or "")
    if not (group.webhook_env and value):
        raise ConfigError(
            f"group {group.name!r} reads its webhook URL from ${group.webhook_env}, which is not set",
            hint=f"export {group.webhook_env}='https://oapi.dingtalk.com/robot/send?access_token=…' "
            "(in CI, map it from your secrets)",
        )
    try:
        return parse_webhook(value)
    except BadInput as exc:
        raise ConfigError(f"${group.webhook_env} (group {group.name!r}): {exc.message}", hint=exc.hint) from None


def channel_of(group: Group, robot_code: str | None) -> str:
    if group.kind == "webhook":
        return WEBHOOK
    if robot_code and group.open_conversation_id:
        return ROBOT
    if group.chat_id:
        return CHAT
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


def prepare(client: DingTalkClient, group: Group, msg: Message, *, msg_uuid: str | None = None) -> Prepared:
    """Route and build; raises BadInput/ConfigError for anything DingTalk would refuse."""
    channel = channel_of(group, client.robot_code)
    if channel == WEBHOOK:
        check_keywords(group, msg)
        req = client.webhook_request(group_webhook(group), msg, secret=group_secret(group), msg_uuid=msg_uuid)
    elif channel == ROBOT:
        assert group.open_conversation_id
        req = client.robot_send_request(group.open_conversation_id, msg)
    else:
        assert group.chat_id
        req = client.chat_send_request(group.chat_id, msg)
    return Prepared(group, channel, req)
