"""`groupmsg submit`, `forms …`, `flows …` end to end through the `cli` fixture and the sandbox.
Every test asserts the exit code, stdout and stderr."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest
from flowtest_support import EXAMPLES, REPO, SEED_FLOWS, FailFirst

RUN_ID = r"\d{8}-\d{6}-[0-9a-f]{6}"
RECORD_ID = r"FINST-\d{14}-[0-9a-f]{8}"


def create_group(cli, name: str = "项目A"):
    r = cli("submit", "创建群聊", "-f", f"群名={name}", "-f", "群主=demo-user", "-f", "成员=u2,u3")
    assert r.exit_code == 0, r.stderr
    return r


def group_json(cli, name: str) -> dict:
    r = cli("groups", "show", name, "--json")
    assert r.exit_code == 0 and r.stderr == ""
    return json.loads(r.stdout)


def nothing_stored_or_sent(cli, sandbox, form: str = "群消息内容录入表") -> None:
    records = cli("forms", "records", form)
    assert (records.exit_code, records.stdout) == (0, "")
    assert records.stderr == f"no records in {form} yet: submit one with `groupmsg submit {form}`\n"
    assert sandbox.messages() == []


# --- the seed scenario (the "done means") ---------------------------------------------------


def test_seed_scenario_end_to_end(cli, creds, sandbox, seed_flows):
    r = create_group(cli)
    assert r.stderr == ""
    assert re.fullmatch(
        rf"stored record {RECORD_ID} in 创建群聊\n"
        rf"flow 创建群聊: succeeded \(run {RUN_ID}\)\n"
        r"  succeeded 建群  created group 项目A \(chat id chat\w+\)\n"
        r"  succeeded 记录群  added a row to groups\n",
        r.stdout,
    ), r.stdout
    group = group_json(cli, "项目A")
    assert group["source"] == "flow:创建群聊" and group["owner"] == "demo-user"

    r = cli("submit", "群消息内容录入表", "--field", "选择群聊=项目A", "--field", "消息内容=今晚八点发版")
    assert r.exit_code == 0 and r.stderr == ""
    assert re.fullmatch(
        rf"stored record {RECORD_ID} in 群消息内容录入表\n"
        rf"flow 发送群消息: succeeded \(run {RUN_ID}\)\n"
        r"  succeeded 发送消息到企业群  sent to 项目A \(chat\)\n",
        r.stdout,
    ), r.stdout
    (message,) = sandbox.messages()
    assert (message["chat_id"], message["content"]) == (group["chat_id"], "今晚八点发版")

    runs = cli("runs", "list", "--flow", "发送群消息")
    assert runs.exit_code == 0 and runs.stderr == ""
    header, row = runs.stdout.splitlines()
    assert header.split("\t")[:3] == ["run", "status", "flow"]
    assert row.split("\t")[1:4] == ["succeeded", "发送群消息", "1/1"]

    records = cli("forms", "records", "群消息内容录入表", "--json")
    assert records.exit_code == 0 and records.stderr == ""
    (record,) = json.loads(records.stdout)
    assert record["values"] == {"消息内容": "今晚八点发版", "选择群聊": "项目A", "群ID": group["chat_id"]}


@pytest.mark.parametrize(
    ("fields", "stderr"),
    [
        (
            ["选择群聊=项目A"],
            "Error: 群消息内容录入表: 1 problem; nothing was stored or sent:\n  消息内容: is required\n",
        ),
        (
            ["选择群聊=项目Z", "消息内容=hi"],
            "Error: 群消息内容录入表: 1 problem; nothing was stored or sent:\n"
            "  选择群聊: '项目Z' is not a registered group (did you mean '项目A'?)\n",
        ),
        (
            ["选择群聊=项目A", "消息内容=hi", "群ID=chat123"],
            "Error: 群消息内容录入表: 1 problem; nothing was stored or sent:\n"
            "  群ID: is read-only and cannot be set by the submitter "
            "(it is filled by data linkage from 选择群聊; leave it out)\n",
        ),
    ],
    ids=["missing 消息内容", "unregistered 选择群聊", "群ID set directly"],
)
def test_the_three_invalid_submissions(cli, creds, sandbox, seed_flows, fields, stderr):
    create_group(cli)
    before = cli("runs", "list", "--json").stdout
    args = [a for f in fields for a in ("-f", f)]
    r = cli("submit", "群消息内容录入表", *args)
    hint = "  Hint: see the fields and their rules with `groupmsg forms show 群消息内容录入表`\n"
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", stderr + hint)
    nothing_stored_or_sent(cli, sandbox)
    assert cli("runs", "list", "--json").stdout == before  # no run recorded


def test_a_group_without_a_chat_id_is_refused_before_anything_is_stored(cli, creds, sandbox, seed_flows):
    hook = "https://oapi.dingtalk.com/robot/send?access_token=" + "a" * 64
    assert cli("groups", "add", "机器人群", "--webhook", hook).exit_code == 0
    r = cli("submit", "群消息内容录入表", "-f", "选择群聊=机器人群", "-f", "消息内容=hi")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        "Error: 群消息内容录入表: 1 problem; nothing was stored or sent:\n"
        "  群ID: is required, and the data linkage from 选择群聊 gave it no value (chat_id is empty)\n"
        "  Hint: see the fields and their rules with `groupmsg forms show 群消息内容录入表`\n"
    )
    nothing_stored_or_sent(cli, sandbox)


# --- submit: input, output, exit codes -------------------------------------------------------------


def test_values_from_a_file_and_from_stdin(cli, creds, sandbox, seed_flows, tmp_path):
    create_group(cli)
    note = tmp_path / "note.txt"
    note.write_text("第一行\n第二行\n", encoding="utf-8")
    r = cli("submit", "群消息内容录入表", "-f", f"消息内容=@{note}", "-f", "选择群聊=-", input="项目A\n")
    assert r.exit_code == 0 and r.stderr == "" and "sent to 项目A (chat)" in r.stdout
    assert sandbox.messages()[0]["content"] == "第一行\n第二行"  # the file's last newline is dropped
    r = cli("submit", "群消息内容录入表", "-f", "消息内容=@@不是文件", "-f", "选择群聊=项目A")
    assert r.exit_code == 0 and r.stderr == ""
    assert sandbox.messages()[1]["content"] == "@不是文件"


def test_bad_field_options(cli, creds, seed_flows, tmp_path):
    r = cli("submit", "群消息内容录入表", "-f", "消息内容")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == "Error: --field '消息内容' is not NAME=VALUE\n  Hint: e.g. --field 消息内容=你好\n"
    r = cli("submit", "群消息内容录入表", "-f", f"消息内容=@{tmp_path}/missing.txt")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr.startswith("Error: --field 消息内容=@") and "no such file" in r.stderr
    r = cli("submit", "群消息内容录入表", "-f", "消息内容=-", "-f", "选择群聊=-", input="x")
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", "Error: only one --field can read stdin (NAME=-)\n")


def test_unknown_form_and_missing_flows_file(cli, creds, seed_flows, tmp_path):
    r = cli("submit", "群消息录入表")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr.startswith("Error: no form named '群消息录入表' in ")
    assert "did you mean '群消息内容录入表'?" in r.stderr
    r = cli("--flows", str(tmp_path / "none.yaml"), "submit", "x")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr.startswith(f"Error: no flows file at {tmp_path / 'none.yaml'}\n  Hint: create one")


def test_dry_run_prints_the_requests_and_changes_nothing(cli, creds, sandbox, seed_flows):
    create_group(cli)
    group = group_json(cli, "项目A")
    r = cli("submit", "--dry-run", "群消息内容录入表", "-f", "选择群聊=项目A", "-f", "消息内容=预演")
    assert (r.exit_code, r.stderr) == (0, "dry run: nothing was stored, sent or recorded\n")
    doc = json.loads(r.stdout)
    assert doc["dry_run"] is True and doc["record"]["id"] is None
    assert doc["record"]["values"]["群ID"] == group["chat_id"]
    (flow,) = doc["flows"]
    assert (flow["flow"], flow["status"]) == ("发送群消息", "would succeed")
    (request,) = flow["would"]
    assert request["request"]["url"] == "https://oapi.dingtalk.com/chat/send?access_token=…"
    assert request["request"]["json"] == {
        "chatid": group["chat_id"],
        "msg": {"msgtype": "text", "text": {"content": "预演"}},
    }
    nothing_stored_or_sent(cli, sandbox)


def test_json_output(cli, creds, sandbox, seed_flows):
    create_group(cli)
    r = cli("submit", "--json", "群消息内容录入表", "-f", "选择群聊=项目A", "-f", "消息内容=hi")
    assert (r.exit_code, r.stderr) == (0, "")
    doc = json.loads(r.stdout)
    assert doc["form"] == "群消息内容录入表" and re.fullmatch(RECORD_ID, doc["record"]["id"])
    (flow,) = doc["flows"]
    assert flow["status"] == "succeeded" and flow["run"]["steps"][0]["status"] == "succeeded"


def test_no_matching_flow_stores_the_record_and_exits_3(cli, creds, sandbox, monkeypatch):
    monkeypatch.setenv("GROUPMSG_FLOWS", str(REPO / "examples" / "filters.yaml"))
    r = cli("submit", "报销单", "-f", "申请人=张三", "-f", "金额=200", "-f", "类型=办公", "-f", "说明=打印纸")
    assert r.exit_code == 3
    assert re.fullmatch(
        rf"stored record {RECORD_ID} in 报销单\n"
        r"flow 大额报销提醒: not matched — the trigger's filter did not match\n"
        r"flow 缺少说明提醒: not matched — the trigger's filter did not match\n",
        r.stdout,
    ), r.stdout
    assert re.fullmatch(
        rf"Error: record {RECORD_ID} is stored, but no enabled flow matched created on 报销单\n"
        r"  Hint: see the flows and their triggers with `groupmsg flows list`\n",
        r.stderr,
    ), r.stderr
    assert sandbox.messages() == []


WELCOME_FLOWS = """
version: 1
forms:
  - name: 开群
    fields: [{name: 群名, type: text, required: true}]
flows:
  - name: 开群欢迎
    trigger: {form: 开群}
    nodes:
      - {kind: create_group, name: 建群, group_name: "{{ 群名 }}", owner: demo-user, members: [u1]}
      - {kind: add_data, name: 记录, table: groups, values: {name: "{{ 群名 }}", chat_id: "{{ nodes.建群.chat_id }}"}}
      - {kind: send_group_message, name: 欢迎, chat: "{{ nodes.建群.chat_id }}", text: "欢迎来到 {{ 群名 }}"}
"""


def test_a_failed_run_exits_1_keeps_the_record_and_resumes(cli, creds, sandbox, write_flows):
    write_flows(WELCOME_FLOWS)
    flaky = FailFirst(sandbox.transport(), "/chat/send", errcode=43007)  # a permission, granted afterwards
    r = cli("submit", "开群", "-f", "群名=新项目", transport=flaky)
    assert r.exit_code == 1
    match = re.fullmatch(
        rf"stored record ({RECORD_ID}) in 开群\n"
        rf"flow 开群欢迎: failed \(run ({RUN_ID})\)\n"
        r"  succeeded 建群  created group 新项目 \(chat id chat\w+\)\n"
        r"  succeeded 记录  added a row to groups\n"
        r"  failed    欢迎  DingTalk error 43007: injected by the test\n",
        r.stdout,
    )
    assert match, r.stdout
    record_id, run_id = match.groups()
    assert r.stderr == (
        "Error: flow 开群欢迎 failed at node 欢迎: DingTalk error 43007: injected by the test\n"
        f"  Hint: the record {record_id} is kept; fix the cause (the app lacks the permission for this API: grant "
        f"it in the developer console) and resume with `groupmsg runs retry {run_id}`\n"
    )
    failed = cli("runs", "list", "--status", "failed")
    assert failed.exit_code == 0 and failed.stderr == "" and run_id in failed.stdout
    chats = len(sandbox.chats())

    retried = cli("runs", "retry", run_id, transport=flaky)
    assert (retried.exit_code, retried.stdout, retried.stderr) == (0, f"run {run_id}: succeeded\n", "")
    assert len(sandbox.chats()) == chats  # the group was not created again
    assert [m["content"] for m in sandbox.messages()] == ["欢迎来到 新项目"]
    shown = cli("runs", "show", run_id, "--json")
    assert shown.exit_code == 0 and shown.stderr == ""
    assert [(s["name"], s["status"], s["attempts"]) for s in json.loads(shown.stdout)["steps"]] == [
        ("建群", "succeeded", 1),
        ("记录", "succeeded", 1),
        ("欢迎", "succeeded", 2),
    ]


def test_prompts_for_missing_required_fields_on_a_terminal(cli, creds, sandbox, seed_flows, monkeypatch):
    create_group(cli)
    create_group(cli, "项目B")

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal("第一行\n第二行\n\n2\ny\n"))
    monkeypatch.setattr("groupmsg.cli.submit.interactive", lambda: True)  # stderr is captured, not a terminal
    r = cli("submit", "群消息内容录入表")
    assert r.exit_code == 0
    chat_b = json.loads(cli("groups", "show", "项目B", "--json").stdout)["chat_id"]
    assert r.stderr == (
        "消息内容 (end with an empty line):\n  1) 项目A\n  2) 项目B\n选择群聊 (a number or a name): "
        "About to submit to 群消息内容录入表:\n"
        "  消息内容  第一行\n            第二行\n"
        "  选择群聊  项目B\n"
        f"  群ID      {chat_b}\n"
        "flow 发送群消息 will:\n"
        "  - send a message to 项目B (chat)\n"
        "Submit? [Y/n]: "
    )
    assert r.stdout.startswith("stored record") and "sent to 项目B (chat)" in r.stdout
    assert sandbox.messages()[0]["content"] == "第一行\n第二行"


# --- forms ---------------------------------------------------------------------------------------


def test_forms_list_and_show(cli, creds, seed_flows):
    r = cli("forms", "list")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == (
        "form\tfields\tflows\n"
        "创建群聊\t群名, 群主, 成员\t创建群聊\n"
        "群消息内容录入表\t消息内容, 选择群聊, 群ID\t发送群消息\n"
    )
    r = cli("forms", "show", "群消息内容录入表")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == (
        "form 群消息内容录入表\n"
        "  消息内容  (textarea)  required\n"
        "  选择群聊  (select)  required\n"
        "      options from groups.name: (none yet)\n"
        "  群ID  (text)  required readonly max_length=200\n"
        "      default: data linkage: chat_id of the newest row of groups where name = {{ 选择群聊 }}\n"
    )
    create_group(cli)
    r = cli("forms", "show", "群消息内容录入表", "--json")
    assert (r.exit_code, r.stderr) == (0, "")
    assert json.loads(r.stdout)["fields"][1]["options"] == ["项目A"]


def test_forms_records_update_and_delete(cli, creds, sandbox, monkeypatch):
    monkeypatch.setenv("GROUPMSG_FLOWS", str(REPO / "examples" / "filters.yaml"))
    assert (
        cli(
            "groups", "add", "财务群", "--chat-id", sandbox.add_chat(name="财务群", owner="demo-user")["chat_id"]
        ).exit_code
        == 0
    )
    r = cli("submit", "报销单", "-f", "申请人=张三", "-f", "金额=8000", "-f", "类型=差旅", "-f", "说明=出差")
    assert r.exit_code == 0 and r.stderr == "" and "flow 大额报销提醒: succeeded" in r.stdout
    record_id = re.search(RECORD_ID, r.stdout).group(0)

    listed = cli("forms", "records", "报销单")
    assert (listed.exit_code, listed.stderr) == (0, "")
    assert listed.stdout.splitlines()[0] == "id\tcreated\t申请人\t金额\t类型\t日期\t说明"
    assert listed.stdout.splitlines()[1].split("\t")[2:] == ["张三", "8000", "差旅", "", "出差"]

    updated = cli("forms", "update", "报销单", record_id[-8:], "-f", "说明=")
    assert (updated.exit_code, updated.stderr) == (0, "")
    assert updated.stdout.startswith(f"updated record {record_id} in 报销单\n")
    assert "flow 缺少说明提醒: succeeded" in updated.stdout
    assert sandbox.messages()[-1]["content"] == "张三 的报销（差旅，8000 元）缺少说明或未写明客户，请补充。"

    deleted = cli("forms", "delete", "报销单", record_id)
    assert deleted.exit_code == 3  # no flow listens to deleted
    assert deleted.stdout == f"deleted record {record_id} in 报销单\n"
    assert "no enabled flow matched deleted on 报销单" in deleted.stderr
    empty = cli("forms", "records", "报销单")
    assert (empty.exit_code, empty.stdout) == (0, "")


# --- flows ---------------------------------------------------------------------------------------


def test_flows_list(cli, seed_flows):
    r = cli("flows", "list")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == (
        "flow\tenabled\ttrigger\tfilter\tnodes\n"
        "创建群聊\tyes\t创建群聊 created\tall data\t建群 (create_group) → 记录群 (add_data)\n"
        "发送群消息\tyes\t群消息内容录入表 created\tall data\t发送消息到企业群 (send_group_message)\n"
    )
    r = cli("flows", "list", "--json")
    assert (r.exit_code, r.stderr) == (0, "") and [f["flow"] for f in json.loads(r.stdout)] == [
        "创建群聊",
        "发送群消息",
    ]


@pytest.mark.parametrize("path", [SEED_FLOWS, *EXAMPLES], ids=lambda p: p.name)
def test_flows_check_passes_on_the_shipped_files(cli, path):
    r = cli("flows", "check", str(path))
    assert (r.exit_code, r.stderr) == (0, "")
    assert re.fullmatch(rf"{re.escape(str(path))}: ok — \d form\(s\), \d flow\(s\)\n", r.stdout)


def test_flows_check_reports_every_problem_with_its_line(cli, write_flows):
    path = write_flows(
        """
        version: 1
        forms:
          - name: 表
            fields:
              - {name: 内容, type: textarea}
        flows:
          - name: 流
            trigger: {form: 表, filter: {all: [{field: 内容, op: like, value: x}]}}
            nodes:
              - {kind: send_message, chat: 群, text: hi}
              - {kind: send_group_message, chat: 群, text: "{{ 内 }}"}
        """
    )
    r = cli("flows", "check")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        f"Error: {path} has 3 problems:\n"
        f"  {path}:8: flow 流 filter: unknown operator 'like' — fix: use an operator: equals, not_equals, contains, "
        "not_contains, is_empty, is_not_empty, gt, gte, lt, lte, in, not_in\n"
        f"  {path}:10: unknown node kind 'send_message' — fix: did you mean 'send_group_message'?\n"
        f"  {path}:11: node send_group_message-2 text: {{{{ 内 }}}}: form 表 has no field '内' — fix: did you mean '内容'?\n"
        f"  Hint: fix them and check again with `groupmsg flows check {path}`\n"
    )
    r = cli("flows", "check", "--json", str(path))
    assert r.exit_code == 2 and r.stderr.startswith(f"Error: {path} has 3 problems:")
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and [p.split(":")[1] for p in doc["problems"]] == ["8", "10", "11"]


def test_flows_check_of_a_missing_file(cli, tmp_path):
    r = cli("flows", "check", str(tmp_path / "nope.yaml"))
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr.startswith(f"Error: no flows file at {tmp_path / 'nope.yaml'}\n")


def test_a_broken_flows_file_stops_submit_before_anything_happens(cli, creds, sandbox, write_flows):
    write_flows("version: 1\nforms:\n  - name: 表\n    fields: [{name: a, type: texts}]\n")
    r = cli("submit", "表", "-f", "a=1")
    assert (r.exit_code, r.stdout) == (2, "")
    assert ":4: field type 'texts' is not one of" in r.stderr and sandbox.messages() == []


def test_the_command_line_loads_neither_yaml_nor_the_flows_engine_until_needed():
    code = (
        "import sys; import groupmsg.cli, groupmsg.app; "
        "print(sorted(m for m in sys.modules if m == 'yaml' or m.startswith('groupmsg.flows')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert (out.stdout, out.stderr) == ("[]\n", "")
