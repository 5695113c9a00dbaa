"""Use case: `groupmsg send` — one message to the named groups (or to one target given on the command
line, without the registry), as one recorded run; and reading a message document (`--message FILE`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..delivery import DeliveryService, SendOptions, SendResult
    from ..dingtalk.messages import Message
    from ..groups import Directory
    from ..state.model import Group
    from .preview import Preview


@dataclass(frozen=True)
class Target:
    """Where a one-shot send goes: exactly one of a webhook URL (with the name of the variable holding
    its SEC… secret), a chat id, or an open conversation id. Nothing is added to the registry."""

    webhook: str | None = None
    secret_env: str | None = None
    chat_id: str | None = None
    open_conversation_id: str | None = None

    def __bool__(self) -> bool:
        return bool(self.webhook or self.chat_id or self.open_conversation_id or self.secret_env)


class MessagesService:
    def __init__(self, directory: Directory, delivery: DeliveryService) -> None:
        self.directory = directory
        self.delivery = delivery

    def _groups(self, names: list[str], all_groups: bool, target: Target | None) -> list[Group]:
        """The registered groups named (names, globs or --all), or the one-shot target."""
        if target:
            from ..delivery.route import one_shot
            from ..errors import BadInput

            if names or all_groups:
                raise BadInput(
                    "give either registered groups (-g/--all) or one target (--webhook, --chat-id, "
                    "--open-conversation-id), not both"
                )
            return [
                one_shot(
                    webhook=target.webhook,
                    secret_env=target.secret_env,
                    chat_id=target.chat_id,
                    open_conversation_id=target.open_conversation_id,
                )
            ]
        return self.directory.targets(names, all_groups=all_groups)

    def send(
        self,
        names: list[str],
        msg: Message,
        options: SendOptions,
        *,
        all_groups: bool = False,
        dedupe_key: str | None = None,
        target: Target | None = None,
    ) -> SendResult:
        """Resolve the groups, then send; nothing is sent if any is wrong. With a `target`, the one
        group is that target: the run is recorded, the registry is neither read nor changed."""
        groups = self._groups(names, all_groups, target)
        return self.delivery.send(groups, msg, options, dedupe_key=dedupe_key, one_shot=bool(target))

    def preview(
        self, names: list[str], msg: Message, *, all_groups: bool = False, target: Target | None = None
    ) -> list[dict[str, Any]]:
        """The exact requests `send` would make (secrets masked); nothing is sent or recorded."""
        return self.delivery.preview(self._groups(names, all_groups, target), msg)

    @staticmethod
    def load_message(source: str, text: str) -> Message:
        """A message document (YAML or JSON, groupmsg's channel-neutral form): `text`, read from the
        file `source` (or stdin when `-`); ValidationError lists every problem with file:line."""
        from ..flows.loader.message import load_message_document
        from ..flows.message import render

        spec = load_message_document(text, "<stdin>" if source == "-" else source)
        msg = render(spec, lambda ref: None)
        if msg.image and source != "-":  # a relative image file is relative to the document
            from pathlib import Path

            from ..dingtalk.messages import image_source

            path = Path(msg.image).expanduser()
            if image_source(msg.image) == "file" and not path.is_absolute():
                msg = msg.with_image(str(Path(source).parent / path))
        return msg

    def render(
        self, names: list[str], msg: Message, *, all_groups: bool = False, target: Target | None = None
    ) -> Preview:
        """How the message will look in each group (HTML, as the sandbox inbox shows it) and what
        DingTalk would refuse; nothing is sent or recorded. No names and no target: as given, with
        no channel's rules."""
        from .preview import render

        groups = self._groups(names, all_groups, target) if names or all_groups or target else None
        return render(self.delivery, groups, msg)
