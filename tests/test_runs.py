"""The run log: size-bounded segments, the HEAD pointer, lookups."""

from __future__ import annotations

from groupmsg.state.files import runs
from groupmsg.state.files.runs import RunLog
from groupmsg.state.model import Run, Step


def make(i: int) -> Run:
    return Run(id=f"20260101-000000-{i:06x}", kind="send", name="send",
               steps=[Step(id="s1", name="g", kind="send_group_message", inputs={"group": "g" * 200})])


def test_segments_rotate_by_size_and_head_names_the_newest(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(runs, "SEGMENT_BYTES", 1000)
    log = RunLog(tmp_path)
    for i in range(10):
        log.save(make(i))
    segments = sorted(p.name for p in tmp_path.glob("runs-*.json"))
    assert len(segments) >= 3
    assert (tmp_path / "HEAD").read_text() == segments[-1]
    assert all(p.stat().st_size < 2000 for p in tmp_path.glob("runs-*.json"))
    assert [r.id for r in log.list(limit=3)] == [make(i).id for i in (9, 8, 7)]
    (tmp_path / "HEAD").unlink()  # lost: the folder says where new runs go
    log.save(make(10))
    assert log.get(make(10).id).segment in {segments[-1], f"runs-{len(segments) + 1:06d}.json"}
    assert log.find("nope") is None and log.find(make(3).id).id == make(3).id
