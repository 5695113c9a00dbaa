"""The delivery service: one path for every message groupmsg sends.

`deliver()` is the one entry point: prepared requests in, outcomes out, paced by the shared rate
limits, retried within a deadline, on a pool of threads when there are many. `send()` (a recorded
run of one message to many groups), `resume()` (what `runs retry` does to such a run) and the flow
nodes (`deliver_one`) all go through it.

- Every group is resolved and every request built before anything is sent: a bad name or an
  oversized message fails the whole command with nothing sent.
- A run is saved (steps pending) before the first request and outcomes after; a broadcast saves
  outcomes in batches (every FLUSH_EVERY_S) instead of rewriting the run per message.
- Webhook requests carry `msgUuid = <run>-<step>` so a retry after a lost answer cannot show a
  message twice.
- An image given as a local file is uploaded once (`/media/upload`), after every check and before
  the run is recorded; the run keeps the media id, so a retry does not need the file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..clock import now_iso
from ..dingtalk.messages import CHAT, ROBOT
from ..errors import BadInput, GroupmsgError, NothingToDo, StoreUnavailable, TransportError
from ..settings import DEFAULT_TIMEOUT, Rate
from ..state.model import FAILED, RUNNING, SUCCEEDED, Run, Step, error_doc, new_run_id, nothing_to_retry
from .retry import BLOCK_S, Pacing, send_with_retries, with_retries
from .route import ONE_SHOT, Prepared, one_shot_again, one_shot_inputs, prepare
from .types import Built, Outcome, SendOptions, SendResult

if TYPE_CHECKING:
    from ..dingtalk.client import DingTalkClient, Request, Sent
    from ..dingtalk.messages import Message
    from ..state.base import DedupeStore, RateLimitStore, RegistryStore, RunStore
    from ..state.model import Group

SAVED_WAIT_S = 5.0  # how long a repeated dedupe key waits for the claiming process to save its run
FLUSH_EVERY_S = 0.25  # at least; a run whose save takes longer is saved less often (≤ 10% of the time)

def shell_word(text: str) -> str:
    """`text` as one shell word: as it is when that is safe (Chinese included), else quoted."""
    import re
    import shlex

    return text if re.fullmatch(r"[\w@%+=:,./-]+", text) else shlex.quote(text)


class DeliveryService:
    def __init__(
        self,
        *,
        client: DingTalkClient,
        registry: RegistryStore,
        runs: RunStore,
        dedupe: Callable[[], DedupeStore],
        limits: RateLimitStore,
        webhook_rate: Rate,
        api_rate: Rate,
        timeout: float = DEFAULT_TIMEOUT,
        webhook_block_s: float = BLOCK_S,
    ) -> None:
        self.client = client
        self.registry = registry
        self.runs = runs
        self._dedupe = dedupe  # opened only when a dedupe key is given
        self.limits = limits
        self.webhook_rate = webhook_rate
        self.api_rate = api_rate
        self.timeout = timeout
        self.webhook_block_s = webhook_block_s

    # Building --------------------------------------------------------------------------------
    def prepare(self, group: Group, msg: Message, *, msg_uuid: str | None = None) -> Prepared:
        return prepare(self.client, group, msg, msg_uuid=msg_uuid)

    def build(self, groups: Sequence[Group], msg: Message, *, uuids: Sequence[str | None] | None = None) -> Built:
        """Route and build `msg` for every group, refusing before anything is sent what any of them
        would refuse. Nothing goes over the network: an image file is read and checked, and its
        upload request made, but not sent."""
        from ..dingtalk.messages import IMAGE, check_image_file, image_source

        uuids = list(uuids) if uuids is not None else [None] * len(groups)
        path = None
        staged = msg
        if msg.kind == IMAGE and msg.image and image_source(msg.image) == "file":
            from pathlib import Path

            path = Path(msg.image).expanduser()
            staged = msg.with_image(f"@<media_id of {path.name}>")
        items = [self.prepare(g, staged, msg_uuid=u) for g, u in zip(groups, uuids, strict=True)]
        if path is None or not any(item.channel in (CHAT, ROBOT) for item in items):
            return Built(items, staged)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read the image {path}: {exc.strerror}", hint="give a readable file or a URL") from None
        fmt = check_image_file(path.name, data)
        content_type = {"PNG": "image/png", "JPG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp"}[fmt]
        return Built(items, staged, self.client.upload_media_request(path.name, data, content_type=content_type))

    def upload(self, built: Built, options: SendOptions) -> Built:
        """Make the media upload `built` needs (if any) and rebuild its requests with the media id."""
        if built.upload is None or built.uploaded:
            return built
        self.client.check_credentials()
        deadline = time.monotonic() + (options.timeout if options.timeout is not None else self.timeout)
        sent, _ = send_with_retries(
            self.client, built.upload, deadline=deadline, pacing=self._pacing(options), label="media upload"
        )
        if not sent.media_id:
            raise TransportError("DingTalk's media upload answer has no media_id", code="bad-response")
        final = built.message.with_image(sent.media_id)
        items = [self.prepare(item.group, final, msg_uuid=item.msg_uuid) for item in built.items]
        return replace(built, items=items, message=final, uploaded=True)

    def _pacing(self, options: SendOptions) -> Pacing:
        return Pacing(
            self.limits,
            self.webhook_rate,
            self.api_rate,
            self.client.app_key,
            options.wait,
            options.on_wait,
            block_s=self.webhook_block_s,
        )

    # The one path -----------------------------------------------------------------------------
    def deliver(
        self,
        items: Sequence[Prepared],
        options: SendOptions,
        *,
        on_outcome: Callable[[int, Outcome], None] | None = None,
    ) -> list[Outcome]:
        """Send every prepared request; `on_outcome(index, outcome)` is called as each settles, in
        this thread. Failures are outcomes, not exceptions."""
        if options.concurrency < 1:
            raise BadInput("--concurrency must be at least 1")
        deadline = time.monotonic() + (options.timeout if options.timeout is not None else self.timeout)
        pacing = self._pacing(options)

        # A host found unreachable (every try failed before reaching it) fails the rest of this
        # delivery at once with the same cause: an outage is reported in seconds, not per group.
        unreachable: dict[str, GroupmsgError] = {}

        def attempt(item: Prepared) -> Outcome:
            started = time.monotonic()
            hosts = {urlsplit(item.request.url).netloc, self.client.token_host if item.request.auth else ""}
            down = next((unreachable[h] for h in hosts if h in unreachable), None)
            if down is not None:
                return Outcome(None, down, 0, 0)
            try:
                sent, attempts = send_with_retries(
                    self.client,
                    item.request,
                    deadline=deadline,
                    pacing=pacing,
                    label=item.group.name,
                    at_least_once=options.at_least_once,
                    on_attempt=options.on_attempt,
                )
                outcome = Outcome(sent, None, attempts, 0)
            except StoreUnavailable:
                raise  # not this message's failure: the run cannot be recorded (see below)
            except GroupmsgError as exc:
                if exc.hint and "groups set NAME" in exc.hint:  # the fix names the group to fix
                    exc.hint = exc.hint.replace("groups set NAME", f"groups set {shell_word(item.group.name)}")
                outcome = Outcome(None, exc, int(getattr(exc, "attempts", 0)), 0)
                if isinstance(exc, TransportError) and exc.host and not exc.reached and exc.attempts:
                    unreachable[exc.host] = exc
            outcome.duration_ms = int((time.monotonic() - started) * 1000)
            return outcome

        outcomes: list[Outcome | None] = [None] * len(items)

        def settle(i: int, outcome: Outcome) -> None:
            outcomes[i] = outcome
            if on_outcome:
                on_outcome(i, outcome)

        if options.concurrency == 1 or len(items) <= 1:
            for i, item in enumerate(items):
                settle(i, attempt(item))
        else:
            if any(item.request.auth for item in items):
                try:  # once, before the threads start (each would otherwise ask for it)
                    with_retries(
                        lambda until: self.client.access_token(deadline=until),
                        deadline=deadline,
                        label="access token",
                        on_attempt=options.on_attempt,
                    )
                except GroupmsgError as exc:  # every message needing it fails with the same cause
                    for i, item in enumerate(items):
                        settle(i, Outcome(None, exc, 0, 0) if item.request.auth else attempt(item))
                    return [o for o in outcomes if o is not None]
            from concurrent.futures import ThreadPoolExecutor, as_completed

            with ThreadPoolExecutor(min(options.concurrency, len(items)), thread_name_prefix="send") as pool:
                futures = {pool.submit(attempt, item): i for i, item in enumerate(items)}
                try:
                    for future in as_completed(futures):
                        settle(futures[future], future.result())
                except BaseException:
                    # The state store failed (or ^C): outcomes can no longer be recorded, so send
                    # nothing more; what was sent but not recorded stays pending for `runs retry`.
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
        return [o for o in outcomes if o is not None]

    def deliver_one(self, item: Prepared, options: SendOptions | None = None) -> Sent:
        """One message to one group (a flow node): what DingTalk answered, or the error raised."""
        (outcome,) = self.deliver([item], options or SendOptions())
        if outcome.error is not None:
            raise outcome.error
        assert outcome.sent is not None
        return outcome.sent

    # Recorded runs -----------------------------------------------------------------------------
    def send(
        self,
        groups: list[Group],
        msg: Message,
        options: SendOptions,
        *,
        dedupe_key: str | None = None,
        one_shot: bool = False,
    ) -> SendResult:
        """Send `msg` to `groups` as one recorded, resumable run. `one_shot`: the groups are targets
        given on the command line, not registered ones (the run keeps how to reach them again)."""
        run = Run(id=new_run_id(), kind="send", name="send")
        run.steps = [Step(id=f"s{i}", name=g.name, kind="send_group_message") for i, g in enumerate(groups, 1)]
        built = self.build(groups, msg, uuids=[f"{run.id}-{step.id}" for step in run.steps])
        if built.upload is not None or any(item.request.auth for item in built.items):
            self.client.check_credentials()  # bad input: fail before a run is recorded
        if dedupe_key:
            holder = self._dedupe().claim(dedupe_key, run.id)
            if holder is not None:
                return self._repeat(holder, options, webhook=groups[0].webhook if one_shot else None)
        built = self.upload(built, options)
        run.context["message"] = built.message.to_doc()
        if dedupe_key:
            run.context["dedupe_key"] = dedupe_key
        for step, item in zip(run.steps, built.items, strict=True):
            step.inputs = {"group": item.group.name, "channel": item.channel, "to": item.group.address}
            if one_shot:
                step.inputs.update(one_shot_inputs(item.group))
        with self.runs.hold(run):  # a new run: nothing to re-read
            self.runs.save(run)  # recorded before anything is sent
            self._deliver_run(run, run.steps, built.items, options)
        return SendResult(run)

    def _repeat(self, run_id: str, options: SendOptions, *, webhook: str | None = None) -> SendResult:
        """The dedupe key is held: report a finished run, resume an abandoned or failed one."""
        run = self._saved(run_id, options)
        if run is None:  # claimed by a process that has not saved its run, even after a wait
            raise NothingToDo(
                f"run {run_id} is being started by another process for this dedupe key; nothing sent",
                hint="see `groupmsg runs list`",
            )
        if run.status == SUCCEEDED or (run.status == RUNNING and not self.runs.unsettled(run)):
            return SendResult(run, duplicate=True)
        resumed, idle = self._resume(run, options, webhook=webhook)
        return SendResult(resumed, duplicate=True, resumed=idle is None)

    def _saved(self, run_id: str, options: SendOptions) -> Run | None:
        """The run that holds a dedupe key. A process saves its run right after claiming the key:
        give it a few seconds (a loaded host), within --timeout, before saying it is not there."""
        limit = min(SAVED_WAIT_S, options.timeout if options.timeout is not None else self.timeout)
        deadline, pause = time.monotonic() + limit, 0.01
        while (run := self.runs.find(run_id)) is None and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
        return run

    def resume(self, run: Run, options: SendOptions, *, webhook: str | None = None) -> Run:
        """Send a `send` run's failed or unsettled steps again; steps that succeeded are not repeated.
        A run sent to a webhook given on the command line needs that `webhook` URL again."""
        resumed, idle = self._resume(run, options, webhook=webhook)
        if idle:
            raise idle
        return resumed

    def _resume(
        self, run: Run, options: SendOptions, *, webhook: str | None = None
    ) -> tuple[Run, NothingToDo | None]:
        """(the run as it ends, why nothing was sent if nothing was). Decided on the run as stored
        once held: another process may have finished it since `run` was read."""
        with self.runs.hold(run) as held:
            idle = nothing_to_retry(held)
            if idle:
                return held, idle
            msg = self._message_of(held)
            held.status, held.finished_at = RUNNING, None
            todo = [s for s in held.steps if s.status != SUCCEEDED]
            items = [self.prepare(self._group_of(s, webhook), msg, msg_uuid=f"{held.id}-{s.id}") for s in todo]
            self._deliver_run(held, todo, items, options)
        return held, None

    def _group_of(self, step: Step, webhook: str | None) -> Group:
        if step.inputs.get(ONE_SHOT):
            return one_shot_again(step.inputs, webhook)
        return self.registry.get(step.inputs["group"])

    @staticmethod
    def _message_of(run: Run) -> Message:
        from ..dingtalk.messages import Message

        return Message.from_doc(run.context["message"])

    def _deliver_run(self, run: Run, steps: list[Step], items: list[Prepared], options: SendOptions) -> None:
        total, done = len(steps), 0
        batched = options.concurrency > 1
        flushed, interval = time.monotonic(), FLUSH_EVERY_S

        def record(i: int, outcome: Outcome) -> None:
            nonlocal done, flushed, interval
            step = steps[i]
            if outcome.error is None:
                assert outcome.sent is not None
                step.status, step.error = SUCCEEDED, None
                if outcome.sent.message_id:
                    step.outputs = {"message_id": outcome.sent.message_id}
            else:
                step.status, step.error = FAILED, error_doc(outcome.error)
            step.attempts += outcome.attempts
            step.duration_ms, step.finished_at = outcome.duration_ms, now_iso()
            done += 1
            if options.on_progress:
                options.on_progress(done, total)
            # Each outcome is saved as it comes, a broadcast's in batches; the last one is saved with
            # the run's final status below.
            if done == total or (batched and time.monotonic() - flushed < interval):
                return
            started = time.monotonic()
            self.runs.save(run)
            flushed = time.monotonic()
            interval = max(FLUSH_EVERY_S, 10 * (flushed - started))

        self.deliver(items, options, on_outcome=record)
        run.settle()
        self.runs.save(run)

    # Previews ----------------------------------------------------------------------------------
    def preview(self, groups: list[Group], msg: Message) -> list[dict[str, Any]]:
        """The exact requests `send` would make (secrets masked), sending nothing; a media upload,
        when the message needs one, comes first."""
        built = self.build(groups, msg)
        out = [preview_upload(built.upload)] if built.upload is not None else []
        out += [{"group": item.group.name, "channel": item.channel, **item.request.public()} for item in built.items]
        return out


def preview_upload(upload: Request) -> dict[str, Any]:
    return {"group": None, "channel": "media", **upload.public()}
