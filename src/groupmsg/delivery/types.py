"""The values the delivery service takes and gives: the caller's options, each request's outcome,
a message built for several groups, and a recorded send's result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..settings import DEFAULT_CONCURRENCY
from .retry import OnAttempt, OnWait

if TYPE_CHECKING:
    from ..dingtalk.client import Request, Sent
    from ..dingtalk.messages import Message
    from ..errors import GroupmsgError
    from ..state.model import Run
    from .route import Prepared

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class SendOptions:
    """How to send: the caller's choices, per call."""

    timeout: float | None = None  # seconds for retries and rate-limit waits (default: the service's)
    wait: bool = True  # wait for a rate-limit slot, or fail at once
    concurrency: int = DEFAULT_CONCURRENCY
    on_wait: OnWait | None = None
    on_progress: Progress | None = None
    # Repeat a request that may have been delivered (HTTP 500/502/504, no answer) even without an
    # idempotency key: a rare duplicate instead of a lost message (chat/send and the robot API).
    at_least_once: bool = False
    on_attempt: OnAttempt | None = None  # told how each attempt ended (progress lines, --verbose)


@dataclass
class Outcome:
    """What happened to one prepared request."""

    sent: Sent | None
    error: GroupmsgError | None
    attempts: int
    duration_ms: int


@dataclass(frozen=True)
class Built:
    """One message routed and built for several groups, every check made. An image given as a
    local file needs an `upload` first; until `DeliveryService.upload()` has made it, the requests
    carry a stand-in media id (what a dry run shows)."""

    items: list[Prepared]
    message: Message  # as it is sent: an uploaded image's media id in place of its file
    upload: Request | None = None
    uploaded: bool = False


@dataclass
class SendResult:
    run: Run
    duplicate: bool = False  # the dedupe key had already been claimed by this run
    resumed: bool = False  # … which had failed or been abandoned, and was resumed now
