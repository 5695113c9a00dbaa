"""From a group and a message to the one request that delivers it: routing and building.

Routing by the group's kind:
- webhook groups → the custom-robot webhook (signed when the group has a secret);
- app groups → `/v1.0/robot/groupMessages/send` with the open conversation id when
  DINGTALK_ROBOT_CODE is set, otherwise `chat/send` with the chat id (Yida's 「发送消息到企业群」).

A request is built once, here, with every check that can be made before sending (the kind the
channel takes, sizes with the idempotency key that will be sent, mentions, keywords, secrets), and
then passed on.

One-shot targets (`send --webhook URL`, `--chat-id ID`, `--open-conversation-id ID`) are groups that
are not in the registry. A run keeps what reaches them again, except a webhook's URL: its
access_token is a secret, so the run keeps the URL masked and `runs retry` needs the URL once more.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..dingtalk.messages import CHAT, ROBOT, WEBHOOK, Refused
from ..errors import BadInput, ConfigError
from ..masking import mask
from ..state.model import Group, parse_webhook

if TYPE_CHECKING:
    from ..dingtalk.client import DingTalkClient, Request
    from ..dingtalk.messages import Message


@dataclass(frozen=True)
class Prepared:
    """One message for one group, routed and built: ready to send as many times as it takes."""

    group: Group
    channel: str
    request: Request
    msg_uuid: str | None = None


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
    value = os.environ.get(group.webhook_env or "")
    if not (group.webhook_env and value):
        raise ConfigError(
            f"group {group.name!r} reads its webhook URL from ${group.webhook_env}, which is not set",
            hint=f"export {group.webhook_env}='https://oapi.dingtalk.com/robot/send?access_token=…' "
            "(in CI, map it from your secrets)",
        )
    try:
        return parse_webhook(value, group.allow_host)  # the same hosts as a stored URL
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
    text = msg.visible_text()
    if group.keywords and not any(k in text for k in group.keywords):
        raise BadInput(
            f"the message contains none of {group.name!r}'s keywords ({', '.join(group.keywords)})",
            hint="DingTalk drops it with 310000 otherwise: include one of them in the text",
        )


def prepare(client: DingTalkClient, group: Group, msg: Message, *, msg_uuid: str | None = None) -> Prepared:
    """Route and build; raises BadInput/ConfigError for anything DingTalk would refuse."""
    channel = channel_of(group, client.robot_code)
    try:
        if channel == WEBHOOK:
            check_keywords(group, msg)
            req = client.webhook_request(group_webhook(group), msg, secret=group_secret(group), msg_uuid=msg_uuid)
        elif channel == ROBOT:
            assert group.open_conversation_id
            req = client.robot_send_request(group.open_conversation_id, msg)
        else:
            assert group.chat_id
            req = client.chat_send_request(group.chat_id, msg)
    except Refused as exc:  # say which group, when a send names several
        raise Refused(f"group {group.name}: {exc.message}", hint=exc.hint) from None
    return Prepared(group, channel, req, msg_uuid)


# One-shot targets --------------------------------------------------------------------------------
ONE_SHOT = "one_shot"  # the key a step's inputs carry for a target outside the registry


def one_shot(
    *,
    webhook: str | None = None,
    secret_env: str | None = None,
    chat_id: str | None = None,
    open_conversation_id: str | None = None,
) -> Group:
    """A group for one send that is not in the registry (nothing is added to it)."""
    if secret_env and not webhook:
        raise BadInput("--secret-env goes with --webhook (it names the variable holding the robot's SEC… secret)")
    if len([x for x in (webhook, chat_id, open_conversation_id) if x]) != 1:
        raise BadInput("give exactly one of --webhook, --chat-id, --open-conversation-id")
    if webhook:
        from urllib.parse import parse_qs, urlsplit

        url = parse_webhook(webhook)
        token = parse_qs(urlsplit(url).query).get("access_token", [""])[0]
        return Group(name=f"webhook {mask(token)}", kind="webhook", webhook=url, secret_env=secret_env or None)
    if chat_id:
        return Group(name=chat_id.strip(), kind="app", chat_id=chat_id.strip())
    assert open_conversation_id
    return Group(name=open_conversation_id.strip(), kind="app", open_conversation_id=open_conversation_id.strip())


def one_shot_inputs(group: Group) -> dict[str, Any]:
    """What a run's step keeps to reach a one-shot target again: never a webhook's token, only a
    short fingerprint of it, to tell the URL given to `runs retry` from another robot's."""
    kept = {k: v for k, v in (("chat_id", group.chat_id), ("open_conversation_id", group.open_conversation_id),
                              ("secret_env", group.secret_env)) if v}
    if group.webhook:
        kept["webhook_fingerprint"] = _fingerprint(group.webhook)
    return {ONE_SHOT: True, **kept}


def _fingerprint(webhook: str) -> str:
    """16 hex digits of SHA-256 over the webhook's access_token (a 64-hex-digit random secret:
    nothing about it can be learnt from this)."""
    import hashlib
    from urllib.parse import parse_qs, urlsplit

    token = parse_qs(urlsplit(webhook).query).get("access_token", [""])[0]
    return hashlib.sha256(f"groupmsg-webhook:{token}".encode()).hexdigest()[:16]


def one_shot_again(inputs: dict[str, Any], webhook: str | None) -> Group:
    """The one-shot target of a run's step, for `runs retry`. A webhook run needs its URL again:
    the token was never stored; the URL given must be the one the run was sent to."""
    if inputs.get("channel") != WEBHOOK:
        return one_shot(chat_id=inputs.get("chat_id"), open_conversation_id=inputs.get("open_conversation_id"))
    if not webhook:
        raise BadInput(
            f"this run was sent to {inputs.get('group')}, a webhook given on the command line; its access_token "
            "is a secret and was not stored",
            hint="give the URL again: `groupmsg runs retry RUN --webhook URL`",
        )
    group = one_shot(webhook=webhook, secret_env=inputs.get("secret_env"))
    if _fingerprint(group.webhook or "") != inputs.get("webhook_fingerprint"):
        raise BadInput(
            f"--webhook names another robot than the one this run was sent to ({inputs.get('group')})",
            hint="give the webhook URL the run was sent to",
        )
    return group
