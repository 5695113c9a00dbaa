"""Scheduled flows' marks (ScheduleStore) and the run log's record filter, on every backend."""

from __future__ import annotations

import threading

from groupmsg.state.model import Run


def test_compare_and_set_per_flow(state, spec) -> None:
    marks = state.schedules
    assert marks.last("早报") is None
    assert marks.compare_and_set("早报", None, "2027-01-04T09:00:00+08:00")
    assert marks.compare_and_set("早报", None, "2027-01-04T09:00:00+08:00")  # a repeat finds its own effect
    assert not marks.compare_and_set("早报", None, "2027-01-05T09:00:00+08:00")  # set already
    assert not marks.compare_and_set("早报", "2027-01-03T09:00:00+08:00", "2027-01-05T09:00:00+08:00")  # stale
    assert marks.last("早报") == "2027-01-04T09:00:00+08:00"
    assert marks.compare_and_set("早报", "2027-01-04T09:00:00+08:00", "2027-01-05T09:00:00+08:00")
    assert marks.last("早报") == "2027-01-05T09:00:00+08:00" and marks.last("晚报") is None
    assert marks.compare_and_set("晚报", None, "2027-01-04T18:00:00+08:00")
    other = spec.open()  # another process, or another host
    try:
        assert other.schedules.last("早报") == "2027-01-05T09:00:00+08:00"
    finally:
        other.close()


def test_one_of_many_concurrent_compare_and_sets_wins(state, spec) -> None:
    assert state.schedules.compare_and_set("f", None, "2027-01-01T00:00:00+00:00")
    wins: list[str] = []

    def attempt(i: int) -> None:
        st = spec.open()
        try:
            if st.schedules.compare_and_set("f", "2027-01-01T00:00:00+00:00", f"2027-01-01T09:{i:02d}:00+00:00"):
                wins.append(f"2027-01-01T09:{i:02d}:00+00:00")
        finally:
            st.close()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and state.schedules.last("f") == wins[0]


def test_runs_of_one_form_record(state) -> None:
    for run_id, record in (("r1", "FINST-20270104090000-aaaaaaaa"), ("r2", None), ("r3", "FINST-20270104090000-bbbbbbbb"),
                           ("r4", "FINST-20270104090000-aaaaaaaa")):
        state.runs.save(Run(id=run_id, kind="flow", name="f", record_id=record, status="succeeded"))
    assert [r.id for r in state.runs.list(record_id="FINST-20270104090000-aaaaaaaa", limit=None)] == ["r4", "r1"]
    assert [r.id for r in state.runs.list(record_id="bbbbbbbb", limit=None)] == ["r3"]
    assert state.runs.list(record_id="cccccccc", limit=None) == []
    assert [r.id for r in state.runs.list(record_id="aaaaaaaa", limit=1)] == ["r4"]
