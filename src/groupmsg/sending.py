"""Sending one message to one or many groups as a recorded, resumable run.

- Every group is resolved and every request built before anything is sent: a bad name or an
  oversized message fails the whole command with nothing sent.
- The run is saved (steps pending) before the first request, and outcomes after; a broadcast
  saves outcomes in batches (every FLUSH_EVERY_S) instead of rewriting the run per message.
- Broadcasts go out on a pool of threads, each with its own HTTP connection, paced by the shared
  rate limiter; webhook requests carry `msgUuid = <run>-<step>` so a retry after a lost answer
  cannot show a message twice.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .delivery import Pacing, build_request, channel_of, deliver
from .dingtalk.messages import Message
from .errors import BadInput, GroupmsgError, NothingToDo
from .registry import Group
from .runs import FAILED, PENDING, RUNNING, SUCCEEDED, Run, Step, error_doc, new_run_id, now_iso
from .settings import DEFAULT_CONCURRENCY

if TYPE_CHECKING:
    from .app import App

FLUSH_EVERY_S = 0.25  # at least; a run whose save takes longer is saved less often (≤ 10% of the time)
GLOB_CHARS = "*?["

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class SendResult:
    run: Run
    duplicate: bool = False  # the dedupe key had already been claimed by this run
    resumed: bool = False  # … which had failed or been abandoned, and was resumed now


def message_doc(msg: Message) -> dict[str, Any]:
    return {
        "text": msg.text,
        "markdown": msg.markdown,
        "title": msg.title,
        "at_mobiles": list(msg.at_mobiles),
        "at_user_ids": list(msg.at_user_ids),
        "at_all": msg.at_all,
    }


def message_from_doc(doc: dict[str, Any]) -> Message:
    return Message(
        text=doc["text"],
        markdown=doc.get("markdown", False),
        title=doc.get("title"),
        at_mobiles=tuple(doc.get("at_mobiles", ())),
        at_user_ids=tuple(doc.get("at_user_ids", ())),
        at_all=doc.get("at_all", False),
    )


class Sender:
    def __init__(
        self,
        app: App,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        wait: bool = True,
        on_wait: Callable[[float, str], None] | None = None,
        on_progress: Progress | None = None,
    ) -> None:
        if concurrency < 1:
            raise BadInput("--concurrency must be at least 1")
        self.app = app
        self.concurrency = concurrency
        self.pacing = Pacing(app.limiter, *app.rates(), wait=wait, on_wait=on_wait)
        self.on_progress = on_progress

    # Targets ------------------------------------------------------------------------------
    def targets(self, names: list[str], *, all_groups: bool = False) -> list[Group]:
        registry = self.app.registry
        if all_groups:
            groups = registry.list()
            if not groups:
                raise NothingToDo("the registry is empty: there is no group to send to")
            return groups
        if not names:
            raise BadInput("no group given", hint="name one with --group NAME (or --all)")
        chosen: dict[str, Group] = {}
        everything: list[Group] | None = None
        for name in names:
            exact = registry.find(name)  # a registered name wins, even with * ? [ in it
            if exact is not None:
                chosen[exact.name] = exact
            elif any(c in name for c in GLOB_CHARS):
                everything = everything if everything is not None else registry.list()
                matched = [g for g in everything if fnmatch.fnmatchcase(g.name, name)]
                if not matched:
                    raise BadInput(f"no registered group matches {name!r}", hint="see `groupmsg groups list`")
                chosen.update((g.name, g) for g in matched)
            else:
                group = registry.get(name)
                chosen[group.name] = group
        return list(chosen.values())

    # Sending ------------------------------------------------------------------------------
    def send(self, groups: list[Group], msg: Message, *, dedupe_key: str | None = None) -> SendResult:
        client = self.app.client
        run = Run(id=new_run_id(), kind="send", name="send", context={"message": message_doc(msg)})
        for i, group in enumerate(groups, 1):
            # Validate everything (sizes with the msgUuid that will be sent, mentions, secrets,
            # credentials) before anything is sent.
            step = Step(id=f"s{i}", name=group.name, kind="send_group_message")
            build_request(client, group, msg, msg_uuid=f"{run.id}-{step.id}")
            channel = channel_of(group, client)
            if client.needs_token(channel):
                client.check_credentials()
            step.inputs = {"group": group.name, "channel": channel, "to": group.address}
            run.steps.append(step)
        if dedupe_key:
            run.context["dedupe_key"] = dedupe_key
            holder = self.app.dedupe.claim(dedupe_key, run.id)
            if holder is not None:
                return self._repeat(holder)
        with self.app.runs.active(run):
            self.app.runs.save(run)  # recorded before anything is sent
            self.deliver_steps(run, msg, {g.name: g for g in groups})
        return SendResult(run)

    def _repeat(self, run_id: str) -> SendResult:
        """The dedupe key is held: report a finished run, resume an abandoned or failed one."""
        run = self.app.runs.find(run_id)
        if run is None:  # claimed a moment ago by a process that has not saved its run yet
            raise NothingToDo(
                f"run {run_id} is being started by another process for this dedupe key; nothing sent",
                hint="see `groupmsg runs list`",
            )
        if run.status == SUCCEEDED or (run.status == RUNNING and not self.app.runs.unsettled(run)):
            return SendResult(run, duplicate=True)
        return SendResult(self.resume(run), duplicate=True, resumed=True)

    def resume(self, run: Run) -> Run:
        if not any(s.status in (FAILED, PENDING) for s in run.steps):
            raise NothingToDo(f"run {run.id} has nothing to retry (status {run.status})")
        with self.app.runs.active(run):
            run.status, run.finished_at = RUNNING, None
            self.deliver_steps(run, message_from_doc(run.context["message"]))
        return run

    def deliver_steps(self, run: Run, msg: Message, groups: dict[str, Group] | None = None) -> None:
        todo = [s for s in run.steps if s.status != SUCCEEDED]
        deadline = time.monotonic() + self.app.settings.timeout
        lookup = groups or {}

        def attempt(step: Step) -> dict[str, Any]:
            started = time.monotonic()
            outcome: dict[str, Any]
            try:
                group = lookup.get(step.inputs["group"]) or self.app.registry.get(step.inputs["group"])
                req = build_request(self.app.client, group, msg, msg_uuid=f"{run.id}-{step.id}")
                sent, attempts = deliver(self.app.client, req, deadline=deadline, pacing=self.pacing, label=group.name)
                outputs = {"message_id": sent.message_id} if sent.message_id else {}
                outcome = {"status": SUCCEEDED, "error": None, "outputs": outputs, "attempts": attempts}
            except GroupmsgError as exc:
                outcome = {"status": FAILED, "error": error_doc(exc), "attempts": getattr(exc, "attempts", 0) or 1}
            outcome["duration_ms"] = int((time.monotonic() - started) * 1000)
            return outcome

        def apply(step: Step, outcome: dict[str, Any]) -> None:
            step.status, step.error = outcome["status"], outcome["error"]
            step.outputs = outcome.get("outputs", step.outputs)
            step.attempts += outcome["attempts"]
            step.duration_ms, step.finished_at = outcome["duration_ms"], now_iso()

        total, done = len(todo), 0
        if self.concurrency == 1 or total <= 1:
            for step in todo:
                apply(step, attempt(step))
                done += 1
                if done < total:  # the last outcome is saved with the run's final status below
                    self.app.runs.save(run)
                self._progress(done, total)
        else:
            if any(self.app.client.needs_token(channel) for channel in {s.inputs["channel"] for s in todo}):
                self.app.client.access_token()  # once, before the threads start
            from concurrent.futures import ThreadPoolExecutor, as_completed

            flushed, interval = time.monotonic(), FLUSH_EVERY_S
            with ThreadPoolExecutor(min(self.concurrency, total), thread_name_prefix="send") as pool:
                futures = {pool.submit(attempt, step): step for step in todo}
                for future in as_completed(futures):
                    apply(futures[future], future.result())
                    done += 1
                    self._progress(done, total)
                    if time.monotonic() - flushed >= interval:
                        started = time.monotonic()
                        self.app.runs.save(run)
                        flushed = time.monotonic()
                        interval = max(FLUSH_EVERY_S, 10 * (flushed - started))
        run.settle()
        self.app.runs.save(run)

    def _progress(self, done: int, total: int) -> None:
        if self.on_progress:
            self.on_progress(done, total)
