"""The values commands hand to the services and get back, re-exported so that `groupmsg.cli`
depends on `groupmsg.app` alone.

Form records and the results of form events and ticks are loaded on first use (PEP 562): `send`
from cron never builds their classes (each dataclass costs about a millisecond to build)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..delivery import SendOptions, SendResult
from ..dingtalk.messages import Button, FeedLink, Message, parse_button, parse_feed_link
from ..state.model import SUCCEEDED, UNSETTLED, Group, Run, Step, run_failure, same_cause
from .messages import Target

if TYPE_CHECKING:
    from ..flows.results import EventResult, FlowOutcome, TickResult
    from ..state.model import Record

_LAZY = {"EventResult": "flows.results", "FlowOutcome": "flows.results", "TickResult": "flows.results",
         "Record": "state.model.record"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"groupmsg.{_LAZY[name]}"), name)

__all__ = [
    "SUCCEEDED",
    "UNSETTLED",
    "Button",
    "EventResult",
    "FeedLink",
    "FlowOutcome",
    "Group",
    "Message",
    "Record",
    "Run",
    "SendOptions",
    "SendResult",
    "Step",
    "Target",
    "TickResult",
    "parse_button",
    "parse_feed_link",
    "run_failure",
    "same_cause",
]
