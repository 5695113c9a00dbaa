"""The registry and the shared-state store: Unicode names, sharding, locking, atomic files, 0600."""

from __future__ import annotations

import json
import multiprocessing
import stat
from pathlib import Path

import pytest

from groupmsg.errors import BadInput, DuplicateGroup, StateError, UnknownGroup
from groupmsg.state.files.registry import Registry
from groupmsg.state.model import Group
from groupmsg.state.files.store import Store


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry")


def test_add_find_and_list_with_chinese_names(reg: Registry) -> None:
    reg.add(Group(name="项目A群", kind="app", chat_id="chat1"))
    reg.add(Group(name="运维告警", kind="webhook", webhook="https://oapi.dingtalk.com/robot/send?access_token=t"))
    assert reg.get("项目A群").chat_id == "chat1"
    assert [g.name for g in reg.list()] == sorted(["项目A群", "运维告警"])


def test_names_are_compared_after_unicode_normalisation(reg: Registry) -> None:
    reg.add(Group(name="Café", kind="app", chat_id="c"))  # é precomposed
    assert reg.get("Cafe\u0301 ").chat_id == "c"  # e + combining accent, trailing space
    with pytest.raises(DuplicateGroup):
        reg.add(Group(name="Cafe\u0301", kind="app", chat_id="d"))


def test_unknown_name_suggests_close_names(reg: Registry) -> None:
    reg.add(Group(name="项目A群", kind="app", chat_id="c"))
    with pytest.raises(UnknownGroup) as err:
        reg.get("项目A")
    assert "项目A群" in (err.value.hint or "")


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "a\x00b"])
def test_bad_names_are_refused(reg: Registry, name: str) -> None:
    with pytest.raises(BadInput):
        reg.add(Group(name=name, kind="app", chat_id="c"))


def test_rename_and_remove(reg: Registry) -> None:
    reg.add(Group(name="旧名", kind="app", chat_id="c"))
    reg.add(Group(name="其他", kind="app", chat_id="d"))
    with pytest.raises(DuplicateGroup):
        reg.rename("旧名", "其他")
    reg.rename("旧名", "新名")
    assert reg.find("旧名") is None and reg.get("新名").chat_id == "c"
    reg.remove("新名")
    assert reg.names() == ["其他"]
    with pytest.raises(UnknownGroup):
        reg.remove("新名")


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


def _add_25(args: tuple[str, int]) -> None:
    directory, worker = args
    registry = Registry(Path(directory))
    for i in range(25):
        registry.add(Group(name=f"w{worker}-群{i}", kind="app", chat_id=f"chat{worker}-{i}"))


def test_eight_processes_adding_25_groups_each_register_all_200(reg: Registry) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(8) as pool:
        pool.map(_add_25, [(str(reg.directory), w) for w in range(8)])
    names = reg.names()
    assert len(names) == 200 and len(set(names)) == 200
    for shard in reg.directory.glob("groups-*.json"):
        json.loads(shard.read_text())  # every file valid
