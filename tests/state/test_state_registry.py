"""The registry on every backend: Unicode names, duplicates, renames, many processes at once."""

from __future__ import annotations

import multiprocessing

import pytest

from groupmsg.errors import BadInput, DuplicateGroup, UnknownGroup
from groupmsg.state.model import Group


@pytest.fixture
def reg(state):
    return state.registry


def test_add_find_and_list_with_chinese_names(reg) -> None:
    reg.add(Group(name="项目A群", kind="app", chat_id="chat1"))
    reg.add(Group(name="运维告警", kind="webhook", webhook="https://oapi.dingtalk.com/robot/send?access_token=t"))
    assert reg.get("项目A群").chat_id == "chat1"
    assert [g.name for g in reg.list()] == sorted(["项目A群", "运维告警"])


def test_names_are_compared_after_unicode_normalisation(reg) -> None:
    reg.add(Group(name="Café", kind="app", chat_id="c"))  # é precomposed
    assert reg.get("Cafe\u0301 ").chat_id == "c"  # e + combining accent, trailing space
    with pytest.raises(DuplicateGroup):
        reg.add(Group(name="Cafe\u0301", kind="app", chat_id="d"))


def test_unknown_name_suggests_close_names(reg) -> None:
    reg.add(Group(name="项目A群", kind="app", chat_id="c"))
    with pytest.raises(UnknownGroup) as err:
        reg.get("项目A")
    assert "项目A群" in (err.value.hint or "")


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "a\x00b"])
def test_bad_names_are_refused(reg, name: str) -> None:
    with pytest.raises(BadInput):
        reg.add(Group(name=name, kind="app", chat_id="c"))


def test_rename_and_remove(reg) -> None:
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


def test_add_many_is_all_or_nothing_and_replace_replaces(reg) -> None:
    reg.add(Group(name="g2", kind="app", chat_id="old"))
    with pytest.raises(DuplicateGroup, match="g2"):
        reg.add_many([Group(name=f"g{i}", kind="app", chat_id=f"c{i}") for i in range(5)])
    assert reg.names() == ["g2"]
    assert reg.add_many([Group(name=f"g{i}", kind="app", chat_id=f"c{i}") for i in range(5)], replace_existing=True) == 5
    assert reg.get("g2").chat_id == "c2" and len(reg.names()) == 5
    with pytest.raises(DuplicateGroup, match="twice"):
        reg.add_many([Group(name="x", kind="app", chat_id="1"), Group(name="x", kind="app", chat_id="2")])


def test_find_by_address_and_secrets_round_trip(reg) -> None:
    hook = "https://oapi.dingtalk.com/robot/send?access_token=" + "a" * 64
    reg.add(Group(name="hook", kind="webhook", webhook=hook, secret="SEC" + "b" * 64, keywords=("告警",)))
    reg.add(Group(name="app", kind="app", chat_id="chat9", open_conversation_id="cid9"))
    got = reg.get("hook")
    assert (got.webhook, got.secret, got.keywords) == (hook, "SEC" + "b" * 64, ("告警",))
    assert reg.find_by_address("cid9").name == "app" and reg.find_by_address("nope") is None


def _add_25(args: tuple[object, int]) -> None:
    spec, worker = args
    registry = spec.open().registry
    for i in range(25):
        registry.add(Group(name=f"w{worker}-群{i}", kind="app", chat_id=f"chat{worker}-{i}"))


@pytest.mark.slow
def test_eight_processes_adding_25_groups_each_register_all_200(spec, reg) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(8) as pool:
        pool.map(_add_25, [(spec, w) for w in range(8)])
    names = reg.names()
    assert len(names) == 200 and len(set(names)) == 200
