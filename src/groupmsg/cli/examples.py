"""The "Examples" block at the end of a command's --help.

Each example is a comment and a command that works as written (tests/test_help_examples.py runs
every one against the sandbox). `\\b` keeps Click from re-wrapping the block.
"""

from __future__ import annotations


def examples(*pairs: tuple[str, str]) -> str:
    lines = ["Examples:", "", "\b"]
    for comment, command in pairs:
        lines += [f"  # {comment}", f"  {command}"]
    return "\n".join(lines)


SEND = examples(
    ("text to a registered group", "groupmsg send --group 运维告警 '发布完成'"),
    ("markdown to every group whose name starts with 项目", "groupmsg send -g '项目*' --markdown --title 发布 '### v1.2 已上线'"),
    ("@ someone (webhook groups)", "groupmsg send -g 运维告警 --at-mobile 13800000000 '磁盘 92%，请处理'"),
    ("an action card with a button", "groupmsg send -g 运维告警 --title 发布 --button '查看=https://ci.example.com' v1.2"),
    ("once to a webhook, no registry (CI); URL and secret from the environment",
     "groupmsg send --webhook \"$OPS_WEBHOOK\" --secret-env OPS_SECRET '构建完成'"),
    ("the message from a file, at most once a day (cron)",
     "groupmsg -q send -g 运维告警 --dedupe-key \"roster-$(date +%F)\" - < today.txt"),
    ("show the exact request; send nothing", "groupmsg send -g 运维告警 --dry-run '试一下'"),
)

CREATE_GROUP = examples(
    ("create a group (app credentials in DINGTALK_APP_KEY / DINGTALK_APP_SECRET)",
     "groupmsg create-group 项目B群 --owner demo-user --member dev-1 --member dev-2"),
    ("the same from a script that may run twice: reuse it if it is registered",
     "groupmsg create-group 项目B群 --owner demo-user --member dev-1 --reuse --json"),
)

SUBMIT = examples(
    ("create a group through the 创建群聊 flow (the bundled flows.yaml)",
     "groupmsg submit 创建群聊 -f 群名=项目C群 -f 群主=demo-user -f 成员=dev-1,dev-2"),
    ("send to it through 群消息内容录入表 (群ID filled by data linkage)",
     "groupmsg submit 群消息内容录入表 -f 选择群聊=项目C群 -f 消息内容=今晚八点发版"),
    ("a field's value from a file; validate and show the requests only",
     "groupmsg submit 群消息内容录入表 -f 选择群聊=项目C群 -f 消息内容=@today.txt --dry-run"),
    ("a flows file that does not depend on the current folder (cron, systemd)",
     "groupmsg --flows ~/ops/flows.yaml forms list"),
)

GROUPS_ADD = examples(
    ("a custom robot, its URL and secret read from the environment at send time (nothing secret stored)",
     "groupmsg groups add 运维告警 --webhook-env OPS_WEBHOOK --secret-env OPS_SECRET"),
    ("a custom robot, URL and secret stored in the registry (0600)",
     "groupmsg groups add 值班群 --webhook \"$OPS_WEBHOOK\" --secret - <<< \"$OPS_SECRET\""),
    ("an app group by its chat id (chat/send)", "groupmsg groups add 项目A群 --chat-id chat0123456789abcdef"),
)

SANDBOX = examples(
    ("a local DingTalk with the demo app and robots; then export the printed variables",
     "groupmsg sandbox --port 8765"),
    ("your own app and a signed robot", "groupmsg sandbox --port 8765 --app my-key:my-secret --webhook my-token:SECmy-secret"),
)
