"""Runs on every backend: insert and update, newest first, lookups, holding, unsettled, prune."""

from __future__ import annotations

import pytest

from groupmsg.errors import BadInput, NothingToDo
from groupmsg.state.model import FAILED, PENDING, RUNNING, SUCCEEDED, Run, Step


def make(i: int, status: str = RUNNING) -> Run:
    return Run(id=f"20260101-000000-{i:06x}", kind="send", name="send", status=status,
               steps=[Step(id="s1", name="g", kind="send_group_message", status=PENDING, inputs={"group": "g"})])


def test_save_find_get_and_list_newest_first(state) -> None:
    runs = state.runs
    for i in range(5):
        runs.save(make(i))
    done = make(2, SUCCEEDED)
    runs.save(done)  # an update keeps the run's place
    assert [r.id for r in runs.list(limit=3)] == [make(i).id for i in (4, 3, 2)]
    assert [r.id for r in runs.list(status=SUCCEEDED)] == [done.id]
    assert runs.find(done.id).status == SUCCEEDED and runs.find("nope") is None
    assert runs.get("000003").id == make(3).id  # a unique end of the id
    with pytest.raises(BadInput, match="matches 5 runs"):
        runs.get("20260101")
    with pytest.raises(BadInput, match="no run"):
        runs.get("zzz")


def test_a_held_run_is_not_unsettled_and_cannot_be_held_twice(state, spec) -> None:
    runs = state.runs
    run = make(1)
    runs.save(run)
    run = runs.find(run.id)
    assert runs.unsettled(run)  # saved, running, nobody holds it
    other = spec.open()  # another host (or process) sharing the state
    with runs.hold(run) as held:
        assert held.id == run.id
        assert not other.runs.unsettled(run)
        with pytest.raises(NothingToDo, match="being sent right now"), other.runs.hold(run):
            pass
        assert [r.id for r in other.runs.list(status="unsettled")] == []
    assert other.runs.unsettled(run)
    assert [r.id for r in other.runs.list(status="unsettled")] == [run.id]
    other.close()


def test_hold_yields_the_run_as_stored(state, spec) -> None:
    runs = state.runs
    run = make(1)
    runs.save(run)
    stale = runs.find(run.id)
    other = spec.open()
    done = other.runs.find(run.id)
    done.steps[0].status = SUCCEEDED
    done.settle()
    other.runs.save(done)
    with runs.hold(stale) as held:
        assert held.status == SUCCEEDED and held.steps[0].status == SUCCEEDED
    assert not runs.unsettled(held)
    other.close()


def test_prune_forgets_finished_runs_only(state) -> None:
    runs = state.runs
    done = make(1)
    done.steps[0].status = SUCCEEDED
    done.settle()
    runs.save(done)
    failed = make(2)
    failed.steps[0].status = FAILED
    failed.settle()
    runs.save(failed)
    runs.save(make(3))  # still running
    assert runs.prune(3600) == 0
    assert runs.prune(0) == 2
    assert [r.id for r in runs.list()] == [make(3).id]
