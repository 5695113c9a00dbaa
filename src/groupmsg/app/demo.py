"""`groupmsg demo`: the whole path on an embedded sandbox, with no credentials and no network.

It does what a user would do with the CLI: Yida's 「消息通知」 scenario through the bundled flows file
(create a group through the 创建群聊 form, which records it in the registry; submit
群消息内容录入表 choosing it by name), then a signed webhook robot with a markdown @mention — and
shows what the sandbox, standing in for DingTalk, received.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..delivery import SendOptions
from ..dingtalk.messages import Message
from ..settings import Settings
from ..state.model import Run, run_failure
from . import App


def run_demo(*, home: str | None, keep: bool, say: Callable[[str], None]) -> dict[str, Any]:
    import json
    import urllib.request

    from ..sandbox import Sandbox, SandboxConfig, serve_in_thread
    from ..sandbox.config import DEMO_APP_KEY, DEMO_APP_SECRET, DEMO_WEBHOOK_SECRET, DEMO_WEBHOOK_TOKEN

    tmp = None if home else tempfile.mkdtemp(prefix="groupmsg-demo-")
    home_path = Path(home or tmp or ".")
    sandbox = Sandbox(SandboxConfig.demo())
    try:
        with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
            say(f"DingTalk sandbox listening on {url} (stands in for oapi.dingtalk.com and api.dingtalk.com)")
            say(f"data folder: {home_path}{'' if keep or home else ' (temporary)'}")
            settings = Settings(
                home=home_path,
                flows_file=Path("flows.yaml"),
                oapi_url=url,
                api_url=url,
                app_key=DEMO_APP_KEY,
                app_secret=DEMO_APP_SECRET,
                timeout=10.0,
            )
            app = App(settings)
            try:
                _seed_scenario(app, say)

                webhook = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
                say("\n$ groupmsg groups add 运维告警 --webhook 'https://oapi.dingtalk.com/robot/send?access_token=…' "
                    "--secret - <<< \"$ROBOT_SECRET\"")
                if app.state.registry.find("运维告警") is None:
                    app.groups.add("运维告警", webhook=webhook, secret=DEMO_WEBHOOK_SECRET)
                say("added 运维告警 (webhook, signed)")

                say("\n$ groupmsg send --group 运维告警 --markdown --title 磁盘告警 --at-mobile 13800000000 '### 磁盘告警 …'")
                run = app.messages.send(
                    ["运维告警"],
                    Message(
                        text="### 磁盘告警\n- 主机: web-01\n- 使用率: **92%**",
                        markdown=True,
                        title="磁盘告警",
                        at_mobiles=("13800000000",),
                    ),
                    SendOptions(),
                ).run
                _report(run, say)
            finally:
                app.close()

            with urllib.request.urlopen(f"{url}/_sandbox/messages", timeout=5) as resp:
                received = json.loads(resp.read())
    finally:
        if tmp and not keep:
            shutil.rmtree(tmp, ignore_errors=True)

    say("\nWhat the sandbox (DingTalk) received:")
    for m in received:
        where = m.get("chat_id") or m.get("open_conversation_id") or m.get("robot")
        say(f"  [{m.get('channel')}] {where}  {m.get('msgtype')}: {str(m.get('content', '')).splitlines()[0]}")
    say("\nNext: read the README's quick start to point groupmsg at your own DingTalk app or robot.")
    return {"home": str(home_path), "kept": bool(keep or home), "received": received}


def _report(run: Run, say: Callable[[str], None]) -> None:
    failure = run_failure(run)
    if failure:
        raise failure
    for step in run.steps:
        say(f"sent to {step.name} via {step.inputs['channel']} (run {run.id})")


def _seed_scenario(app: App, say: Callable[[str], None]) -> None:
    from importlib.resources import files

    from ..flows.loader import load_text

    model = load_text((files("groupmsg") / "data" / "flows.yaml").read_text("utf-8"), "flows.yaml")
    engine = app.forms.engine(SendOptions(), model)
    say("\n$ groupmsg submit 创建群聊 -f 群名=发布通知群 -f 群主=demo-user -f 成员=dev-1,dev-2")
    result = engine.submit("创建群聊", {"群名": "发布通知群", "群主": "demo-user", "成员": ["dev-1", "dev-2"]})
    _check(result)
    group = app.state.registry.get("发布通知群")
    say(f"flow 创建群聊: created the group (chat id {group.chat_id}) and recorded it in the registry (新增数据)")

    text = "今晚 22:00 发布 v2.3，请留意。"
    say(f"\n$ groupmsg submit 群消息内容录入表 -f 选择群聊=发布通知群 -f 消息内容='{text}'")
    result = engine.submit("群消息内容录入表", {"选择群聊": "发布通知群", "消息内容": text})
    _check(result)
    say(f"群ID filled by data linkage: {result.event.record.values['群ID']}")
    for outcome in result.ran:
        say(f"flow {outcome.flow}: {outcome.status} (run {outcome.run.id if outcome.run else '-'})")


def _check(result: Any) -> None:
    error = result.error()
    if error:
        raise error
