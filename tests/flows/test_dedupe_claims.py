"""A flow's dedupe key held by a run another process has claimed but not saved yet."""

from __future__ import annotations

from flowtest_support import engine_of
from test_engine import model_of

from groupmsg.state.model import Group

FLOW = (
    "  - {name: 一次, trigger: {form: 工单}, dedupe: '{{ 标题 }}', "
    "nodes: [{kind: send_group_message, chat: 研发群, text: '{{ 标题 }}'}]}\n"
)


def test_a_key_claimed_by_a_run_not_saved_yet_is_a_duplicate_not_an_error(app, sandbox, write_flows):
    chat = sandbox.add_chat(name="研发群", owner="demo-user")
    app.state.registry.add(Group(name="研发群", kind="app", chat_id=chat["chat_id"]))
    model = model_of(write_flows, FLOW)
    app.state.dedupe.claim("flow:一次:同一件事", "20260101-000000-bbbbbb")  # another process, a moment ago
    outcome = engine_of(app, model).submit("工单", {"标题": "同一件事"}).outcomes[0]
    assert outcome.status == "duplicate" and outcome.run is None
    assert outcome.note == (
        "already running: run 20260101-000000-bbbbbb is being started by another process (dedupe key '同一件事')"
    )
    assert sandbox.messages() == []
