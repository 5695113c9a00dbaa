"""Wiring: builds the registry, run log and DingTalk client from settings, and the services the CLI
calls. Tests pass an httpx transport here (usually the in-process sandbox) instead of patching.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .delivery import build_request, channel_of, deliver
from .dingtalk.client import DingTalkClient, Sent
from .dingtalk.messages import Message
from .errors import BadInput, ConfigError, DeliveryError, DuplicateGroup, GroupmsgError, NothingToDo
from .limits import Rate, RateLimiter
from .registry import Group, Registry
from .runs import FAILED, PENDING, Run, RunLog
from .sending import Sender, SendResult
from .settings import Settings
from .store import ensure_private_dir

if TYPE_CHECKING:
    import httpx

    from .dedupe import DedupeIndex
    from .records import Records


@dataclass(frozen=True)
class Preview:
    group: str
    channel: str
    request: dict[str, Any]


class App:
    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.transport = transport

    @cached_property
    def registry(self) -> Registry:
        return Registry(self.settings.registry_dir)

    @cached_property
    def runs(self) -> RunLog:
        return RunLog(self.settings.runs_dir)

    @cached_property
    def records(self) -> Records:
        """Form submissions (Yida's form data)."""
        from .records import Records

        return Records(self.settings.records_dir)

    @cached_property
    def client(self) -> DingTalkClient:
        from .tokens import FileTokenCache  # app groups only: webhook sends never need a token

        ensure_private_dir(self.settings.home)
        s = self.settings
        return DingTalkClient(
            oapi_url=s.oapi_url,
            api_url=s.api_url,
            app_key=s.app_key,
            app_secret=s.app_secret,
            robot_code=s.robot_code,
            tokens=FileTokenCache(s.tokens_file),
            transport=self.transport,
            timeout=s.timeout,
        )

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()

    def paths(self) -> dict[str, str]:
        s = self.settings
        return {
            "home": str(s.home),
            "registry": str(s.registry_dir),
            "runs": str(s.runs_dir),
            "records": str(s.records_dir),
            "tokens": str(s.tokens_file),
            "flows": str(s.flows_file.resolve()),
        }

    # Groups -----------------------------------------------------------------------------------
    def create_group(
        self,
        name: str,
        owner: str,
        members: list[str],
        *,
        template_id: str | None = None,
        reuse: bool = False,
        source: str = "create-group",
    ) -> tuple[Group, bool]:
        """Create a DingTalk group and record it (Yida's 创建群聊 + 新增数据). Returns (group, created).

        A name already in the registry never creates a second DingTalk group: it is an error, or with
        `reuse` the registered group is returned.
        """
        existing = self.registry.find(name)
        if existing is not None:
            if reuse:
                return existing, False
            raise DuplicateGroup(
                f"a group named {existing.name!r} is already registered; no new DingTalk group was created",
                hint="pass --reuse to use the registered group, or choose another name",
            )
        limit = 30 if template_id else 20  # scene-group titles ≤ 30, group names 1–20 characters
        if len(name.strip()) > limit:
            raise BadInput(f"DingTalk group names are at most {limit} characters; {name!r} has {len(name.strip())}")
        members = list(dict.fromkeys([owner, *members]))  # DingTalk wants the owner among the members
        # A scene group takes an idempotency key: a retry after a lost answer creates no second group.
        uuid = f"groupmsg-{os.urandom(8).hex()}" if template_id else None
        chat_id, cid = self.client.create_group(name, owner, members, template_id=template_id, uuid=uuid)
        group = Group(
            name=name, kind="app", chat_id=chat_id or None, open_conversation_id=cid or None, owner=owner, source=source
        )
        try:
            return self.registry.add(group), True
        except GroupmsgError as exc:  # e.g. another process registered the name meanwhile
            raise type(exc)(
                f"created DingTalk group {name!r} (chat id {chat_id}, open conversation id {cid}) but could not "
                f"record it: {exc.message}",
                hint=f"register it under another name: groupmsg groups add NAME --chat-id {chat_id}",
            ) from None

    # Sending ----------------------------------------------------------------------------------
    @cached_property
    def limiter(self) -> RateLimiter:
        return RateLimiter(self.settings.limits_dir)

    @cached_property
    def dedupe(self) -> DedupeIndex:
        from .dedupe import DedupeIndex

        return DedupeIndex(self.settings.dedupe_dir, run_exists=lambda run_id: self.runs.find(run_id) is not None)

    def rates(self) -> tuple[Rate, Rate]:
        """(per webhook robot, per app and API), from GROUPMSG_WEBHOOK_RATE / GROUPMSG_API_RATE."""
        try:
            return Rate.parse(self.settings.webhook_rate), Rate.parse(self.settings.api_rate)
        except ValueError:
            raise ConfigError(
                "GROUPMSG_WEBHOOK_RATE / GROUPMSG_API_RATE must look like COUNT/SECONDS, e.g. 20/60"
            ) from None

    def sender(self, **options: Any) -> Sender:
        return Sender(self, **options)

    def send(self, names: list[str], msg: Message, *, dedupe_key: str | None = None, **options: Any) -> SendResult:
        """Send `msg` to the named groups as one recorded run."""
        sender = self.sender(**options)
        return sender.send(sender.targets(names), msg, dedupe_key=dedupe_key)

    def preview(self, groups: list[Group], msg: Message) -> list[Preview]:
        return [Preview(g.name, channel_of(g, self.client), build_request(self.client, g, msg).public()) for g in groups]

    def deliver_one(self, group: Group, msg: Message, *, msg_uuid: str | None = None) -> Sent:
        """Deliver one message to one group, paced and retried within the timeout."""
        req = build_request(self.client, group, msg, msg_uuid=msg_uuid)
        pacing = self.sender().pacing
        sent, _ = deliver(
            self.client, req, deadline=time.monotonic() + self.settings.timeout, pacing=pacing, label=group.name
        )
        return sent

    def resolve_chat(self, name_or_id: str) -> Group:
        """A registered group by name; else a raw chat id (`chat…`) or open conversation id (`cid…`)."""
        group = self.registry.find(name_or_id)
        if group is not None:
            return group
        if name_or_id.startswith("chat"):
            return self.registry.find_by_address(name_or_id) or Group(name=name_or_id, kind="app", chat_id=name_or_id)
        if name_or_id.startswith("cid"):
            return self.registry.find_by_address(name_or_id) or Group(
                name=name_or_id, kind="app", open_conversation_id=name_or_id
            )
        raise self.registry.unknown(name_or_id)

    def retry(self, run_id: str, **options: Any) -> Run:
        """Resume a run from its failed or unsettled steps; steps that succeeded are not repeated."""
        run = self.runs.get(run_id)
        if run.kind == "flow":
            from .flows.engine import resume

            if not any(s.status in (FAILED, PENDING) for s in run.steps):
                raise NothingToDo(f"run {run.id} has nothing to retry (status {run.status})")
            return resume(self, run)
        return self.sender(**options).resume(run)


def delivery_failed(run: Run) -> DeliveryError | None:
    failed = [s for s in run.steps if s.status == FAILED]
    if not failed:
        return None
    first = failed[0].error or {}
    return DeliveryError(
        f"{len(failed)} of {len(run.steps)} deliveries failed (run {run.id})",
        hint=f"retry them with `groupmsg runs retry {run.id}`",
        code=first.get("code"),
    )

