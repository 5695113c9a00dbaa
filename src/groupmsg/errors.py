"""One exception tree for groupmsg, and the exit codes it maps to.

Every error carries a message written for a person, an optional hint saying how to fix it, and its
exit code. The CLI turns them into `Error: …` on stderr in exactly one place (`groupmsg.cli`).
This module is a leaf: it imports nothing of ours.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in `groupmsg --help` and the README."""

    OK = 0
    DELIVERY_FAILED = 1  # a message (or a flow run) could not be delivered
    BAD_INPUT = 2  # unknown group, bad option, invalid file, missing field, corrupt state
    NOTHING_TO_DO = 3  # nothing matched: no flow ran, nothing to retry
    STORE_UNAVAILABLE = 4  # the shared state store (Redis) cannot be reached or refuses to work


class GroupmsgError(Exception):
    """Base of every error groupmsg reports to a person."""

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


# --- bad input (exit 2) -----------------------------------------------------------------------


class BadInput(GroupmsgError):
    """The user asked for something that cannot be done as asked."""


class UnknownGroup(BadInput):
    """A group name that is not in the registry."""


class DuplicateGroup(BadInput):
    """A group name that is already in the registry."""


class ConfigError(BadInput):
    """Missing or malformed settings (credentials, URLs, home folder)."""


class StateError(BadInput):
    """A state file in the home is unreadable, corrupt or foreign."""


class MessageTooLarge(BadInput):
    """A message exceeds what the channel accepts."""


class ValidationError(BadInput):
    """A form submission or a flows file does not validate."""

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message, hint)
        self.problems = problems or []


# --- delivery failures (exit 1) -------------------------------------------------------------


class DeliveryError(GroupmsgError):
    """A request to DingTalk did not succeed."""

    exit_code = ExitCode.DELIVERY_FAILED

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        code: str | None = None,
        retryable: bool = False,
        ambiguous: bool = False,
        reached: bool = True,
        retry_after: float | None = None,
        retry: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.code = code
        self.retryable = retryable
        # The request reached DingTalk and no answer came back (a read timeout, a dropped
        # connection, an HTTP 500/502/504): it may have been delivered. Only safe to repeat with an
        # idempotency key (or when the sender chose at-least-once delivery).
        self.ambiguous = ambiguous
        # False: the request never left this machine or never got to DingTalk (connection refused,
        # DNS, TLS, connect timeout): DingTalk did not count it against any rate limit.
        self.reached = reached
        self.retry_after = retry_after  # seconds DingTalk (or a proxy) asked to wait (Retry-After)
        # What a later `runs retry` can do about it: RETRY_LATER, RETRY_AFTER_FIX, RETRY_NEVER or
        # RETRY_CHECK_FIRST (see below).
        self.retry = retry or (RETRY_LATER if retryable else RETRY_AFTER_FIX)
        self.attempts = 0  # set by the retry loop


# What sending the same message again can do about a failure (stored with a failed step):
RETRY_LATER = "later"  # transient (network, busy, throttled, blocked): a retry later may succeed
RETRY_AFTER_FIX = "after_fix"  # a setting is wrong (secret, credentials, URL): fix it, then retry
RETRY_NEVER = "never"  # the message itself is refused (keywords, size, content): send another one
RETRY_CHECK_FIRST = "check"  # it may have been delivered: look in the group before sending it again


class DingTalkError(DeliveryError):
    """DingTalk answered with an error code (errcode != 0, or an HTTP error with `code`)."""


class TokenError(DingTalkError):
    """The access token was rejected; refreshing it may help."""


class TransportError(DeliveryError):
    """The request did not get an answer: connection refused, timeout, a non-JSON reply."""

    host: str | None = None  # the host that could not be reached or did not answer


class RateLimited(DeliveryError):
    """A local rate limit slot was not available and the caller asked not to wait."""


class RobotBlocked(DeliveryError):
    """DingTalk blocked a webhook robot (130101 / 410100) until a time recorded in the state."""


# --- nothing to do (exit 3) -----------------------------------------------------------------


class NothingToDo(GroupmsgError):
    """The command had nothing to act on."""

    exit_code = ExitCode.NOTHING_TO_DO


# --- the state store is unavailable (exit 4) ----------------------------------------------


class StoreUnavailable(GroupmsgError):
    """The shared state store (Redis) is unreachable, refuses the password, is a read-only replica,
    is out of memory, or went away mid-command. Never a reason to fall back to local files: the
    hosts sharing the store would then disagree on what was sent."""

    exit_code = ExitCode.STORE_UNAVAILABLE
