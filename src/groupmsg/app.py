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
from .dingtalk.client import DingTalkClient, Request, Sent
from .dingtalk.messages import Message
from .errors import BadInput, DeliveryError, DuplicateGroup, GroupmsgError, NothingToDo
from .registry import Group, Registry
from .runs import FAILED, PENDING, RUNNING, SUCCEEDED, Run, RunLog, Step, new_run_id, now_iso
from .settings import Settings
from .store import ensure_private_dir
from .tokens import FileTokenCache

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class Preview:
    group: str
    channel: str
    request: dict[str, Any]


def error_doc(exc: GroupmsgError) -> dict[str, Any]:
    return {"code": getattr(exc, "code", None), "message": exc.message, "hint": exc.hint}


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
    def client(self) -> DingTalkClient:
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
        members = list(dict.fromkeys([owner, *members]))  # DingTalk wants the owner among the members
        chat_id, cid = self.client.create_group(name, owner, members, template_id=template_id)
        group = Group(
            name=name, kind="app", chat_id=chat_id or None, open_conversation_id=cid or None, owner=owner, source=source
        )
        return self.registry.add(group), True

    # Sending ----------------------------------------------------------------------------------
    def prepare(self, names: list[str], msg: Message) -> list[tuple[Group, Request]]:
        """Resolve every group and build every request before anything is sent: a bad name or an
        oversized message fails the whole command with nothing sent."""
        if not names:
            raise BadInput("no group given", hint="name one with --group NAME")
        prepared = []
        for name in dict.fromkeys(names):
            group = self.registry.get(name)
            prepared.append((group, build_request(self.client, group, msg)))
        return prepared

    def preview(self, names: list[str], msg: Message) -> list[Preview]:
        return [Preview(g.name, channel_of(g, self.client), req.public()) for g, req in self.prepare(names, msg)]

    def send(self, names: list[str], msg: Message) -> Run:
        prepared = self.prepare(names, msg)
        run = Run(id=new_run_id(), kind="send", name="send", context={"message": _message_doc(msg)})
        for i, (group, req) in enumerate(prepared, 1):
            run.steps.append(
                Step(
                    id=f"s{i}",
                    name=group.name,
                    kind="send_group_message",
                    inputs={"group": group.name, "channel": channel_of(group, self.client), "to": group.address},
                )
            )
        self.runs.save(run)  # recorded before anything is sent
        self._deliver_steps(run, msg, {g.name: g for g, _ in prepared})
        return run

    def deliver_one(self, group: Group, msg: Message, *, msg_uuid: str | None = None) -> Sent:
        """Deliver one message to one group, retrying transient failures within the timeout."""
        req = build_request(self.client, group, msg, msg_uuid=msg_uuid)
        return deliver(self.client, req, deadline=time.monotonic() + self.settings.timeout)

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

    def _deliver_steps(self, run: Run, msg: Message, groups: dict[str, Group] | None = None) -> None:
        deadline = time.monotonic() + self.settings.timeout
        for step in run.steps:
            if step.status == SUCCEEDED:
                continue
            name = step.inputs["group"]
            started = time.monotonic()
            try:
                group = (groups or {}).get(name) or self.registry.get(name)
                req = build_request(self.client, group, msg, msg_uuid=f"{run.id}-{step.id}")
                sent = deliver(self.client, req, deadline=max(deadline, time.monotonic() + 1))
            except GroupmsgError as exc:
                step.status, step.error = FAILED, error_doc(exc)
            else:
                step.status, step.error = SUCCEEDED, None
                step.outputs = {"message_id": sent.message_id} if sent.message_id else {}
            step.attempts += 1
            step.duration_ms = int((time.monotonic() - started) * 1000)
            step.finished_at = now_iso()
            self.runs.save(run)
        run.settle()
        self.runs.save(run)

    def retry(self, run_id: str) -> Run:
        """Resume a run from its failed or unsettled steps; steps that succeeded are not repeated."""
        run = self.runs.get(run_id)
        if not any(s.status in (FAILED, PENDING) for s in run.steps):
            raise NothingToDo(f"run {run.id} has nothing to retry (status {run.status})")
        run.status, run.finished_at, run.pid = RUNNING, None, os.getpid()
        if run.kind == "flow":
            from .flows.engine import resume

            return resume(self, run)
        m = run.context["message"]
        msg = Message(
            text=m["text"],
            markdown=m["markdown"],
            title=m["title"],
            at_mobiles=tuple(m["at_mobiles"]),
            at_user_ids=tuple(m["at_user_ids"]),
            at_all=m["at_all"],
        )
        self._deliver_steps(run, msg)
        return run


def _message_doc(msg: Message) -> dict[str, Any]:
    return {
        "text": msg.text,
        "markdown": msg.markdown,
        "title": msg.title,
        "at_mobiles": list(msg.at_mobiles),
        "at_user_ids": list(msg.at_user_ids),
        "at_all": msg.at_all,
    }


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

