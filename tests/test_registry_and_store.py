"""The file store (TinyDB): sharding, locking, atomic files, 0600, corrupt and foreign files refused.

The registry's behaviour on every backend is in tests/state."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from groupmsg.errors import StateError
from groupmsg.state.files.registry import Registry
from groupmsg.state.files.store import Store
from groupmsg.state.model import Group


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry")


def test_state_files_are_private(reg: Registry) -> None:
    reg.add(Group(name="g", kind="app", chat_id="c"))
    for path in reg.directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(reg.directory.stat().st_mode) == 0o700


def test_a_corrupt_file_is_reported_and_never_overwritten(reg: Registry) -> None:
    reg.add(Group(name="g", kind="app", chat_id="c"))
    shard = next(reg.directory.glob("groups-*.json"))
    shard.write_text('{"groups": {"1": ')
    with pytest.raises(StateError) as err:
        reg.add(Group(name="g", kind="app", chat_id="c2"))
    assert "not valid JSON" in err.value.message and "mv" in (err.value.hint or "")
    assert shard.read_text() == '{"groups": {"1": '


def test_a_foreign_json_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"_default": {}}))
    with pytest.raises(StateError, match="not a groupmsg registry file"):
        Store(path, kind="registry").load()


def test_a_file_from_a_newer_groupmsg_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"_meta": {"1": {"kind": "registry", "version": 99}}}))
    with pytest.raises(StateError, match="newer groupmsg"):
        Store(path, kind="registry").load()


def test_a_failed_transaction_writes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.json", kind="t")
    with store.transaction() as db:
        db.table("x").insert({"a": 1})
    before = store.path.read_bytes()
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.table("x").insert({"a": 2})
        raise RuntimeError
    assert store.path.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_one_lookup_reads_one_shard(reg: Registry) -> None:
    reg.add_many([Group(name=f"g{i}", kind="app", chat_id=f"c{i}") for i in range(300)])
    assert len(list(reg.directory.glob("groups-*.json"))) > 16
    assert reg._shard("g7").table("groups")  # the name's shard holds it
    assert reg.get("g7").chat_id == "c7"


