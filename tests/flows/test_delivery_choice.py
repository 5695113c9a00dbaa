"""A flow's `delivery: at_least_once`: its messages are repeated when they may have been delivered
(a rare duplicate instead of a lost alert); the default never repeats them without an idempotency key."""

from __future__ import annotations

import pytest
from flowtest_support import engine_of
from test_engine import model_of

from groupmsg.errors import ValidationError
from groupmsg.state.model import Group


def flow(delivery: str | None) -> str:
    line = f", delivery: {delivery}" if delivery else ""
    return (
        f"  - {{name: 告警, trigger: {{form: 工单}}{line}, "
        "nodes: [{kind: send_group_message, chat: 值班群, text: '{{ 标题 }}'}]}\n"
    )


@pytest.mark.parametrize("delivery,status,delivered", [(None, "failed", 1), ("at_least_once", "succeeded", 2)])
def test_a_504_after_delivery_is_repeated_only_at_least_once(app, sandbox, write_flows, delivery, status, delivered):
    chat = sandbox.add_chat(name="值班群", owner="demo-user")
    app.state.registry.add(Group(name="值班群", kind="app", chat_id=chat["chat_id"]))
    sandbox.inject_fault("http504", path="/chat/send")  # processed, then the gateway gave up
    outcome = engine_of(app, model_of(write_flows, flow(delivery))).submit("工单", {"标题": "磁盘满了"}).outcomes[0]
    assert outcome.status == status
    assert [m["content"] for m in sandbox.messages()] == ["磁盘满了"] * delivered
    step = outcome.run.steps[0]
    if status == "failed":
        assert "may have been delivered, so it was not sent again" in step.error["message"]
        assert step.error["retry"] == "check" and "--at-least-once" in step.error["hint"]
    else:
        assert step.attempts == 1 and step.status == "succeeded"  # one node run, two requests inside it


def test_an_unknown_delivery_choice_is_a_file_line_problem(write_flows):
    with pytest.raises(ValidationError) as err:
        model_of(write_flows, flow("twice"))
    assert any("flow 告警 delivery 'twice' is not one of no_duplicates, at_least_once" in p for p in err.value.problems)
