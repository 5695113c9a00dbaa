"""Use case: `groupmsg send` — one message to the named groups, as one recorded run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..delivery import DeliveryService, SendOptions, SendResult
    from ..dingtalk.messages import Message
    from ..groups import Directory
    from .preview import Preview


class MessagesService:
    def __init__(self, directory: Directory, delivery: DeliveryService) -> None:
        self.directory = directory
        self.delivery = delivery

    def send(
        self,
        names: list[str],
        msg: Message,
        options: SendOptions,
        *,
        all_groups: bool = False,
        dedupe_key: str | None = None,
    ) -> SendResult:
        """Resolve the groups (names, globs or --all), then send; nothing is sent if any is wrong."""
        groups = self.directory.targets(names, all_groups=all_groups)
        return self.delivery.send(groups, msg, options, dedupe_key=dedupe_key)

    def preview(self, names: list[str], msg: Message, *, all_groups: bool = False) -> list[dict[str, Any]]:
        """The exact requests `send` would make (secrets masked); nothing is sent or recorded."""
        return self.delivery.preview(self.directory.targets(names, all_groups=all_groups), msg)

    def render(self, names: list[str], msg: Message, *, all_groups: bool = False) -> Preview:
        """How the message will look in each group (HTML, as the sandbox inbox shows it) and what
        DingTalk would refuse; nothing is sent or recorded."""
        from .preview import render

        return render(self.directory, self.delivery, names, msg, all_groups=all_groups)
