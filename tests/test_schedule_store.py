"""The scheduled flows' marks (state.base.ScheduleStore) in the files backend: compare-and-set."""

from __future__ import annotations

import stat

from groupmsg.state.files import FileState


def test_compare_and_set_per_flow(home) -> None:
    marks = FileState(home).schedules
    assert marks.last("早报") is None
    assert marks.compare_and_set("早报", None, "2027-01-04T09:00:00+08:00")
    assert not marks.compare_and_set("早报", None, "2027-01-05T09:00:00+08:00")  # set already
    assert not marks.compare_and_set("早报", "2027-01-03T09:00:00+08:00", "2027-01-05T09:00:00+08:00")  # stale
    assert marks.last("早报") == "2027-01-04T09:00:00+08:00"
    assert marks.compare_and_set("早报", "2027-01-04T09:00:00+08:00", "2027-01-05T09:00:00+08:00")
    assert marks.last("早报") == "2027-01-05T09:00:00+08:00" and marks.last("晚报") is None
    assert marks.compare_and_set("晚报", None, "2027-01-04T18:00:00+08:00")
    assert FileState(home).schedules.last("早报") == "2027-01-05T09:00:00+08:00"  # on disk, for every process
    assert stat.S_IMODE((home / "schedules.json").stat().st_mode) == 0o600
