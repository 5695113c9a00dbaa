"""The values commands hand to the services and get back, re-exported so that `groupmsg.cli`
depends on `groupmsg.app` alone."""

from __future__ import annotations

from ..delivery import SendOptions, SendResult
from ..dingtalk.messages import Button, FeedLink, Message, parse_button, parse_feed_link
from ..flows.results import EventResult, FlowOutcome, TickResult
from ..state.model import SUCCEEDED, UNSETTLED, Group, Record, Run, Step, run_failure, same_cause
from .messages import Target

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
