"""`groupmsg demo`: the whole path on an embedded sandbox, with no credentials and no network.

It does what a user would do with the CLI — create a group through the API, register a signed
webhook robot, send to both — and then shows what the sandbox (standing in for DingTalk) received.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .app import App, delivery_failed
from .dingtalk.messages import Message
from .registry import Group
from .runs import Run
from .settings import Settings


def run_demo(*, home: str | None, keep: bool, say: Callable[[str], None]) -> dict[str, Any]:
    import json
    import urllib.request

    from .sandbox import Sandbox, SandboxConfig, serve_in_thread
    from .sandbox.config import DEMO_APP_KEY, DEMO_APP_SECRET, DEMO_WEBHOOK_SECRET, DEMO_WEBHOOK_TOKEN

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
                say("\n$ groupmsg create-group 发布通知群 --owner demo-user --member dev-1 --member dev-2")
                group, _ = app.create_group("发布通知群", "demo-user", ["dev-1", "dev-2"], reuse=True)
                say(f"created 发布通知群: chat id {group.chat_id}, open conversation id {group.open_conversation_id}")

                webhook = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
                say("\n$ groupmsg groups add 运维告警 --webhook 'https://oapi.dingtalk.com/robot/send?access_token=…' "
                    "--secret SEC…")
                if app.registry.find("运维告警") is None:
                    app.registry.add(Group(name="运维告警", kind="webhook", webhook=webhook, secret=DEMO_WEBHOOK_SECRET))
                say("added 运维告警 (webhook, signed)")

                say("\n$ groupmsg send --group 发布通知群 '今晚 22:00 发布 v2.3，请留意。'")
                _report(app.send(["发布通知群"], Message(text="今晚 22:00 发布 v2.3，请留意。")).run, say)
                say("\n$ groupmsg send --group 运维告警 --markdown --title 磁盘告警 --at-mobile 13800000000 '### 磁盘告警 …'")
                run = app.send(
                    ["运维告警"],
                    Message(
                        text="### 磁盘告警\n- 主机: web-01\n- 使用率: **92%**",
                        markdown=True,
                        title="磁盘告警",
                        at_mobiles=("13800000000",),
                    ),
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
    failure = delivery_failed(run)
    if failure:
        raise failure
    for step in run.steps:
        say(f"sent to {step.name} via {step.inputs['channel']} (run {run.id})")
