"""`groupmsg flows tick`: run each scheduled flow (定时触发) whose occurrence is due — once per
occurrence, however many ticks run at once on however many hosts share the state.

The state keeps a mark per flow (`state.base.ScheduleStore`): the last occurrence a tick took. A
tick at `now`, for each scheduled flow:

1. No mark: the flow is new. Its mark is set to `now` and nothing runs: a flow runs from its next
   occurrence, never from the past.
2. The occurrences in (mark, now] are due. None: nothing to do. Several (the host was down, cron
   missed some): they collapse into one run, for the latest, which says how many it skipped.
3. The latest is claimed as the dedupe key `schedule:FLOW:OCCURRENCE` (`DedupeStore.claim`): of
   several ticks at once, one wins and the others report the occurrence as claimed. A claim held
   by a run that a killed process left unfinished resumes that run instead.
4. The winner saves its run (every step pending), then moves the mark to the occurrence
   (compare-and-set, never backwards), then runs the nodes.

The claim decides which tick takes an occurrence; the mark makes a taken occurrence never due
again. Dedupe keys are forgotten after 7 days, so the claim alone would not do: the mark has moved
long before. The one gap it leaves: a tick killed after saving its run but before moving the mark
leaves the run unsettled; the next tick finds the claim and resumes the run — unless that tick
comes more than 7 days later with no newer occurrence due (a monthly or yearly schedule), when the
claim is forgotten and the occurrence starts afresh, the unsettled run staying in `runs list
--status unsettled`.

A disabled flow's occurrences pass by: its mark follows them, so that, enabled again, it runs from
its next occurrence rather than catching up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import BadInput
from .model import SCHEDULE, Flow
from .results import CLAIMED, DISABLED, FIRST_SEEN, NOT_DUE, RAN, TickOutcome, TickResult
from .schedule import Zone, local_iso, zone

if TYPE_CHECKING:
    from ..state.base import ScheduleStore
    from .engine import Engine


def scheduled(engine: Engine) -> list[Flow]:
    return [f for f in engine.model.flows if f.trigger.kind == SCHEDULE]


def flow_zone(flow: Flow) -> Zone:
    try:
        return zone(flow.trigger.timezone)
    except ValueError as exc:  # checked when the file was loaded; this machine's tz database disagrees
        raise BadInput(f"flow {flow.name}: {exc}", hint="install the tz database (tzdata)") from None


def tick(engine: Engine, marks: ScheduleStore, now: datetime) -> TickResult:
    """Run what is due at `now` (an aware datetime), flow by flow, in file order."""
    return TickResult(now.astimezone().isoformat(timespec="seconds"), [_tick(engine, marks, f, now) for f in scheduled(engine)])


def upcoming(engine: Engine, marks: ScheduleStore, now: datetime) -> list[dict[str, Any]]:
    """Each scheduled flow's next occurrence after `now`, and its mark (`flows next`)."""
    rows = []
    for flow in scheduled(engine):
        z = flow_zone(flow)
        assert flow.trigger.schedule is not None
        nxt = flow.trigger.schedule.next_after(now, z.tz)
        rows.append(
            {
                "flow": flow.name,
                "enabled": flow.enabled,
                "schedule": flow.trigger.schedule.source,
                "timezone": z.label,
                "next": local_iso(nxt, z.tz) if nxt else None,
                "last": marks.last(flow.name),
            }
        )
    return rows


def _tick(engine: Engine, marks: ScheduleStore, flow: Flow, now: datetime) -> TickOutcome:
    cron = flow.trigger.schedule
    assert cron is not None
    z = flow_zone(flow)
    result = TickOutcome(flow.name, NOT_DUE, schedule=cron.source, timezone=z.label)
    nxt = cron.next_after(now, z.tz)
    result.next = local_iso(nxt, z.tz) if nxt else None
    text = marks.last(flow.name)
    mark = _parse(text)
    if mark is None:
        marks.compare_and_set(flow.name, text, local_iso(now, z.tz))  # lost to another tick: the same
        result.status, result.note = FIRST_SEEN, "new: it runs from its next occurrence"
        return result
    due = cron.between(mark, now, z.tz)
    if not due:
        return result
    occurrence = due[-1]
    result.occurrence = local_iso(occurrence, z.tz)
    if len(due) > 1:
        result.skipped, result.skipped_since = len(due) - 1, local_iso(due[0], z.tz)
    if not flow.enabled:
        advance(marks, flow.name, occurrence, z)
        result.status, result.note = DISABLED, "disabled: the occurrence passed without a run"
        return result
    context = {
        "event": "schedule",
        "values": {},
        "schedule": {
            "time": result.occurrence,
            "date": occurrence.astimezone(z.tz).date().isoformat(),
            "timezone": z.name,
            "skipped": result.skipped,
            "skipped_since": result.skipped_since,
            "expression": cron.source,
            "timezone_label": z.label,
        },
    }
    key = f"schedule:{flow.name}:{result.occurrence}"
    outcome = engine.launch(
        flow,
        context,
        claim=lambda run: engine.claim_key(flow, key, run, shown=f"occurrence {result.occurrence}"),
        prepare=lambda: advance(marks, flow.name, occurrence, z),
    )
    result.outcome = outcome
    if outcome.status == "duplicate":
        result.status, result.note = CLAIMED, outcome.note
    else:
        advance(marks, flow.name, occurrence, z)  # a resumed run did not pass through `prepare`
        result.status = RAN
    return result


def advance(marks: ScheduleStore, flow: str, occurrence: datetime, z: Zone) -> None:
    """Move the flow's mark to `occurrence`, unless another tick has moved it there or beyond."""
    while True:
        current = marks.last(flow)
        mark = _parse(current)
        if mark is not None and mark >= occurrence:
            return
        if marks.compare_and_set(flow, current, local_iso(occurrence, z.tz)):
            return


def _parse(text: str | None) -> datetime | None:
    """A stored mark; None when there is none (or it is not a time with an offset: start again)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.astimezone(UTC) if value.tzinfo is not None else None
