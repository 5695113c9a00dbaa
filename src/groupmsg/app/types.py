"""The values commands hand to the services and get back, re-exported so that `groupmsg.cli`
depends on `groupmsg.app` alone."""

from __future__ import annotations

from ..delivery import SendOptions, SendResult
from ..dingtalk.messages import Message
from ..flows.results import EventResult, FlowOutcome, TickResult
from ..state.model import SUCCEEDED, UNSETTLED, Group, Record, Run, Step, run_failure

__all__ = [
    "SUCCEEDED",
    "UNSETTLED",
    "EventResult",
    "FlowOutcome",
    "Group",
    "Message",
    "Record",
    "Run",
    "SendOptions",
    "SendResult",
    "Step",
    "TickResult",
    "run_failure",
]
