"""Message kinds × channels through `groupmsg send`: every cell the capability matrix sends arrives as
exactly the JSON DingTalk documents (docs/dingtalk-api.md §4.1, §4.2, §5.1), `--dry-run` shows that
request, and every refused cell exits 2 naming the channel that takes it, with nothing sent. The same
messages as `--message` documents (YAML or JSON, groupmsg's channel-neutral form) arrive the same."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
import yaml

from groupmsg.sandbox.config import DEMO_CHAT_ID, DEMO_OPEN_CONVERSATION_ID, DEMO_WEBHOOK_PLAIN_TOKEN
from kinds_support import CELLS, GROUP, MEDIA, PNG, Cell, arrived

PLAIN_HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"
UUID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}-s1")


@pytest.fixture
def groups(cli, creds):
    assert cli("groups", "add", "应用群", "--chat-id", DEMO_CHAT_ID, "--open-conversation-id",
               DEMO_OPEN_CONVERSATION_ID).exit_code == 0
    assert cli("groups", "add", "通知群", "--webhook", PLAIN_HOOK).exit_code == 0


@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def setup_cell(cell: Cell, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, data in cell.files.items():
        (folder / name).write_bytes(data)
    if cell.channel == "robot":
        monkeypatch.setenv("DINGTALK_ROBOT_CODE", "demo-robot")


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.id)
def test_each_cell_arrives_as_documented(cli, groups, sandbox, in_folder, monkeypatch, cell):
    setup_cell(cell, in_folder, monkeypatch)
    r = cli("send", "-g", cell.group, *cell.args)
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"sent to {cell.group} ({cell.channel})\n", "")
    [m] = sandbox.messages()
    if cell.channel == "webhook":
        assert UUID.fullmatch(m["body"]["msgUuid"])  # the idempotency key: <run>-<step>
    assert arrived(sandbox) == (cell.wire, cell.message)
    uploads = [q for q in sandbox.requests() if q["path"] == "/media/upload"]
    assert len(uploads) == (1 if cell.files else 0)


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.id)
def test_dry_run_shows_the_exact_request_and_sends_nothing(cli, groups, sandbox, in_folder, monkeypatch, cell):
    setup_cell(cell, in_folder, monkeypatch)
    r = cli("send", "--dry-run", "-g", cell.group, *cell.args)
    n = 2 if cell.files else 1
    assert (r.exit_code, r.stderr) == (0, f"dry run: {n} request(s) not sent\n")
    previews = json.loads(r.stdout)
    request = previews[-1]
    assert (request["group"], request["channel"], request["method"]) == (cell.group, cell.channel, "POST")
    body = request["json"]
    if cell.channel == "robot":
        body["msgParam"] = json.loads(body["msgParam"])
    expected = json.loads(json.dumps(cell.wire).replace(MEDIA, "@<media_id of chart.png>"))
    assert body == expected
    if cell.files:
        upload = previews[0]
        assert upload == {
            "group": None,
            "channel": "media",
            "method": "POST",
            "url": "https://oapi.dingtalk.com/media/upload?type=image&access_token=…",
            "headers": {"Content-Type": "multipart/form-data; boundary=…", "Accept": "application/json"},
            "multipart": {"type": "image", "media": {"filename": "chart.png", "content_type": "image/png", "bytes": len(PNG)}},
        }
    assert sandbox.requests() == []


def test_an_image_file_is_uploaded_once_for_several_groups_and_the_run_keeps_its_media_id(cli, creds, sandbox, in_folder):
    (in_folder / "chart.png").write_bytes(PNG)
    other = sandbox.add_chat(name="另一个", owner="demo-user", app_key="demo-app-key")
    cli("groups", "add", "应用群", "--chat-id", DEMO_CHAT_ID)
    cli("groups", "add", "另一个", "--chat-id", other["chat_id"])
    r = cli("send", "-g", "应用群", "-g", "另一个", "--image", "chart.png", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    run = json.loads(r.stdout)
    assert [q["path"] for q in sandbox.requests() if q["path"] != "/v1.0/oauth2/accessToken"] == [
        "/media/upload", "/chat/send", "/chat/send"]
    media_ids = {m["message"]["image"] for m in sandbox.messages()}
    assert len(media_ids) == 1 and run["context"]["message"]["image"] == media_ids.pop()


# --- refused before sending (exit 2) -------------------------------------------------------------------

REFUSED = [
    # (id, channel, args, the message on stderr, its hint)
    ("webhook-image-url", "webhook", ("--image", "https://e.example.com/a.png"),
     "Error: group 通知群: an image cannot be sent through a custom robot's webhook (groups added with --webhook): "
     "DingTalk takes images only through chat/send (app groups, by chat id) and the robot API (app groups, with "
     "DINGTALK_ROBOT_CODE)", "or embed it in a markdown message: --markdown --title TITLE '![](IMAGE_URL)'"),
    ("webhook-image-file", "webhook", ("--image", "chart.png"),
     "Error: group 通知群: an image cannot be sent through a custom robot's webhook", None),
    ("chat-feed", "chat", ("--feed", "周报=https://e.example.com/w=https://e.example.com/w.png"),
     "Error: group 应用群: a feed card cannot be sent through chat/send (app groups, by chat id): DingTalk takes feed "
     "cards only through a custom robot's webhook (groups added with --webhook)", "send it to a group reached that way"),
    ("robot-feed", "robot", ("--feed", "周报=https://e.example.com/w=https://e.example.com/w.png"),
     "Error: group 应用群: a feed card cannot be sent through the robot API (app groups, with DINGTALK_ROBOT_CODE): "
     "DingTalk takes feed cards only through a custom robot's webhook", None),
    ("chat-image-url", "chat", ("--image", "https://e.example.com/a.png"),
     "Error: group 应用群: chat/send takes an image only as a media id, not a URL",
     "give the image as a local file (groupmsg uploads it through /media/upload), or send the URL to a group reached "
     "through the robot API (DINGTALK_ROBOT_CODE)"),
    ("chat-link-no-pic", "chat", ("--title", "T", "--link", "https://e.example.com", "x"),
     "Error: group 应用群: a link message through chat/send needs a picture: DingTalk requires picUrl there (only "
     "webhooks take a link without one)", "add --pic URL (or `pic:` in a message document)"),
    ("robot-link-no-pic", "robot", ("--title", "T", "--link", "https://e.example.com", "x"),
     "Error: group 应用群: a link message through the robot API needs a picture", None),
    ("robot-six-buttons", "robot", ("--title", "T", *[f"--button=b{i}=https://e.example.com/{i}" for i in range(6)], "x"),
     "Error: group 应用群: the robot API shows at most 5 buttons on a card (sampleActionCard5); this card has 6",
     "keep 5 buttons or fewer, or send it to a webhook group or through chat/send"),
    ("robot-three-side-by-side", "robot",
     ("--title", "T", "--horizontal", *[f"--button=b{i}=https://e.example.com/{i}" for i in range(3)], "x"),
     "Error: group 应用群: the robot API puts buttons side by side only in a pair (sampleActionCard6); this card has 3",
     "drop --horizontal (up to 5 buttons stack vertically), or keep 2 buttons; a webhook group or chat/send takes any "
     "number side by side"),
    ("chat-mention", "chat", ("--at-all", "x"),
     "Error: group 应用群: @ mentions are not supported when sending through chat/send (app groups)", None),
    ("robot-mention", "robot", ("--at-user", "u1", "x"),
     "Error: group 应用群: @ mentions are not supported when sending through the robot API (DINGTALK_ROBOT_CODE)", None),
    ("webhook-mention-on-a-link", "webhook", ("--title", "T", "--link", "https://e.example.com", "--at-all", "x"),
     "Error: @mentions go only with text and markdown messages",
     "DingTalk ignores `at` on a link message: drop --at-*, or send the mention as a text message"),
    ("webhook-mention-on-a-card", "webhook", ("--title", "T", "--button", "a=https://e.example.com", "--at-mobile", "138", "x"),
     "Error: @mentions go only with text and markdown messages", None),
    ("webhook-feed-without-picture", "webhook", ("--feed", "周报=https://e.example.com/w"),
     "Error: feed link 1 ('周报') has no picture: DingTalk requires one (picURL) for every link of a feed card",
     "write --feed 'TITLE=URL=PIC_URL'"),
    # limits, with the number that was exceeded
    ("chat-title-65", "chat", ("--markdown", "--title", "标" * 65, "x"),
     "Error: the markdown title is 65 characters; chat/send accepts at most 64", "shorten it"),
    ("chat-card-title-65", "chat", ("--title", "标" * 65, "--button", "a=https://e.example.com", "x"),
     "Error: the card title is 65 characters; chat/send accepts at most 64", None),
    ("chat-link-title-65", "chat", ("--title", "标" * 65, "--link", "https://e.example.com", "--pic", "https://e.example.com/p", "x"),
     "Error: the link title is 65 characters; chat/send accepts at most 64", None),
    ("chat-button-title-21", "chat", ("--title", "T", "--button", "按" * 21 + "=https://e.example.com", "x"),
     "Error: the button title is 21 characters; chat/send accepts at most 20", None),
    ("chat-single-url-501", "chat", ("--title", "T", "--button", "a=https://e.example.com/" + "u" * 479, "x"),
     "Error: the button URL is 501 characters; chat/send accepts at most 500", None),
    ("chat-action-url-701", "chat",
     ("--title", "T", "--button", "a=https://e.example.com", "--button", "b=https://e.example.com/" + "u" * 679, "x"),
     "Error: the URL of button 2 is 701 characters; chat/send accepts at most 700", None),
    ("chat-buttons-json-over-1000", "chat",
     ("--title", "T", *[f"--button=b{i}=https://e.example.com/{'u' * 200}" for i in range(5)], "x"),
     "Error: the button list (btn_json_list, as JSON) is 1266 characters; chat/send accepts at most 1000", "shorten it"),
    ("chat-card-text-5001", "chat", ("--title", "T", "--button", "a=https://e.example.com", "x" * 5001),
     "Error: the card text is 5001 characters; chat/send accepts at most 5000", None),
    ("webhook-card-over-20000-bytes", "webhook", ("--title", "T", "--button", "a=https://e.example.com", "字" * 6700),
     "Error: the message is 20253 bytes as sent; a webhook robot accepts at most 20000 bytes (UTF-8, whole JSON body)",
     "shorten the text (Chinese characters take 3 bytes each) or split it into several messages"),
    ("robot-card-over-15000-bytes", "robot", ("--title", "T", "--button", "a=https://e.example.com", "字" * 5001),
     "Error: the message is 15080 bytes; the robot API accepts at most 15000 bytes", None),
    ("chat-image-over-1mb", "chat", ("--image", "big.png"),
     "Error: the image big.png is 1,048,585 bytes; DingTalk accepts images of at most 1,048,576 bytes (1 MB)", None),
    ("chat-image-not-an-image", "chat", ("--image", "notes.txt"),
     "Error: notes.txt is not a JPG, PNG, GIF or BMP image", "DingTalk's media upload takes only those"),
    ("robot-image-missing-file", "robot", ("--image", "missing.png"),
     "Error: cannot read the image missing.png: No such file or directory", "give a readable file or a URL"),
]


@pytest.mark.parametrize(("channel", "args", "error", "hint"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused_cells_exit_2_naming_the_reason_and_send_nothing(
    cli, groups, sandbox, in_folder, monkeypatch, channel, args, error, hint
):
    (in_folder / "chart.png").write_bytes(PNG)
    (in_folder / "big.png").write_bytes(PNG[:8] + b"\0" * (1024 * 1024 + 1))
    (in_folder / "notes.txt").write_text("not an image")
    if channel == "robot":
        monkeypatch.setenv("DINGTALK_ROBOT_CODE", "demo-robot")
    r = cli("send", "-g", GROUP[channel], *args)
    assert (r.exit_code, r.stdout) == (2, "")
    first, *rest = r.stderr.splitlines()
    assert first.startswith(error), r.stderr
    if hint is not None:
        assert rest == [f"  Hint: {hint}"], r.stderr
    assert sandbox.requests() == []
    assert json.loads(cli("runs", "list", "--json").stdout) == []  # refused before a run was recorded


def test_one_refused_group_stops_a_send_to_several(cli, groups, sandbox):
    r = cli("send", "-g", "通知群", "-g", "应用群", "--feed", "周报=https://e.example.com/w=https://e.example.com/w.png")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr.startswith("Error: group 应用群: a feed card cannot be sent through chat/send")
    assert sandbox.requests() == []


# --- the flags themselves ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (("--markdown", "--button", "a=https://e.example.com", "x"),
         "Error: --markdown and --button make different kinds of message: choose one\n"),
        (("--link", "https://e.example.com", "--image", "https://e.example.com/a.png", "x"),
         "Error: --link and --image make different kinds of message: choose one\n"),
        (("--pic", "https://e.example.com/p.png", "x"), "Error: --pic goes with --link (the picture of a link message)\n"),
        (("--horizontal", "x"), "Error: --horizontal goes with --button (several buttons side by side)\n"),
        (("--button", "no-url", "x"),
         "Error: --button 'no-url' is not TITLE=URL\n  Hint: e.g. --button '查看构建=https://ci.example.com/1'\n"),
        (("--feed", "=https://e.example.com", ),
         "Error: --feed '=https://e.example.com' is not TITLE=URL=PIC_URL\n"
         "  Hint: e.g. --feed '周报=https://e.com/r=https://e.com/r.png'\n"),
        (("--title", "T", "x"),
         "Error: a text message has no title\n  Hint: drop --title TEXT (it belongs to another kind of message)\n"),
        (("--button", "a=https://e.example.com", "x"),
         "Error: an action card needs a title\n  Hint: add --title TEXT (or `title:` in a message document)\n"),
        (("--title", "T", "--link", "https://e.example.com", " "),
         "Error: a link message needs a text\n  Hint: add the text (an argument, or `-` for stdin) (or `text:` in a "
         "message document)\n"),
        (("--feed", "a=https://e.example.com=https://e.example.com/p.png", "x"),
         "Error: a feed card has no text\n  Hint: drop the text (an argument, or `-` for stdin) (it belongs to another "
         "kind of message)\n"),
    ],
)
def test_bad_flag_combinations_exit_2(cli, groups, sandbox, args, stderr):
    r = cli("send", "-g", "通知群", *args)
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", stderr)
    assert sandbox.requests() == []


def test_a_feed_card_or_an_image_does_not_read_stdin(cli, groups, sandbox, monkeypatch):
    import io
    import sys

    class Unreadable(io.StringIO):
        def read(self, *a):  # a cron job's stdin may never close: reading it would hang
            raise AssertionError("stdin was read")

    monkeypatch.setattr(sys, "stdin", Unreadable())
    r = cli("send", "-g", "通知群", "--feed", "周报=https://e.example.com/w=https://e.example.com/w.png")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to 通知群 (webhook)\n", "")


def test_a_card_text_from_stdin(cli, groups, sandbox):
    r = cli("send", "-g", "通知群", "--title", "T", "--button", "看=https://e.example.com", "-", input="### 多行\n正文\n")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to 通知群 (webhook)\n", "")
    assert sandbox.messages()[0]["message"]["text"] == "### 多行\n正文\n"


def test_keywords_are_looked_for_in_button_titles_too(cli, creds):
    from groupmsg.sandbox import Sandbox, SandboxConfig, WebhookRobot

    robots = dict(SandboxConfig.demo().webhooks)
    robots["kw-token"] = WebhookRobot(keywords=("发布",), name="kw")
    sb = Sandbox(SandboxConfig.demo(webhooks=robots))
    hook = "https://oapi.dingtalk.com/robot/send?access_token=kw-token"
    assert cli("groups", "add", "关键词群", "--webhook", hook, "--keyword", "发布", transport=sb.transport()).exit_code == 0
    r = cli("send", "-g", "关键词群", "--title", "上线", "--button", "发布详情=https://e.example.com", "完成",
            transport=sb.transport())
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to 关键词群 (webhook)\n", "")
    r = cli("send", "-g", "关键词群", "--title", "上线", "--button", "详情=https://e.example.com/发布", "完成",
            transport=sb.transport())
    assert (r.exit_code, r.stdout) == (2, "") and "contains none of '关键词群''s keywords (发布)" in r.stderr
    assert len(sb.messages()) == 1


# --- message documents: send --message FILE|- ------------------------------------------------------------

DOC_CELLS = [c for c in CELLS if not c.id.startswith("robot-card-vertical-")]


@pytest.mark.parametrize("cell", DOC_CELLS, ids=lambda c: c.id)
def test_a_document_sends_what_the_flags_send(cli, groups, sandbox, in_folder, monkeypatch, cell: Cell):
    setup_cell(cell, in_folder, monkeypatch)
    as_json = CELLS.index(cell) % 2 == 1
    path = in_folder / ("message.json" if as_json else "message.yaml")
    path.write_text(json.dumps(cell.document, ensure_ascii=False) if as_json
                    else yaml.safe_dump(cell.document, allow_unicode=True), encoding="utf-8")
    r = cli("send", "-g", cell.group, "--message", path.name)
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"sent to {cell.group} ({cell.channel})\n", "")
    assert arrived(sandbox) == (cell.wire, cell.message)


def test_a_document_from_stdin(cli, groups, sandbox):
    doc = {"kind": "feed_card", "links": ["周报=https://e.example.com/w=https://e.example.com/w.png"]}
    r = cli("send", "-g", "通知群", "--message", "-", input=json.dumps(doc, ensure_ascii=False))
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to 通知群 (webhook)\n", "")
    assert sandbox.messages()[0]["message"]["links"] == [
        {"title": "周报", "url": "https://e.example.com/w", "pic": "https://e.example.com/w.png"}]
    r = cli("send", "-g", "通知群", "--message", "-", input='{"kind": "text"}')
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr.startswith("Error: <stdin> has 1 problem:\n  <stdin>:1: the message: a text message needs `text:`\n")


def test_a_markdown_document_with_mentions(cli, groups, sandbox, in_folder):
    (in_folder / "m.yaml").write_text(textwrap.dedent("""\
        kind: markdown
        title: 告警
        text: "### 磁盘满了"
        at: {mobiles: ["13800000000", "13900000000"], all: true}
        """), encoding="utf-8")
    r = cli("send", "-g", "通知群", "--message", "m.yaml")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to 通知群 (webhook)\n", "")
    [m] = sandbox.messages()
    assert m["body"]["at"] == {"atMobiles": ["13800000000", "13900000000"], "atUserIds": [], "isAtAll": True}
    assert m["message"]["text"] == "### 磁盘满了\n@13800000000 @13900000000"


@pytest.mark.parametrize(
    ("document", "problems"),
    [
        ("kind: acton_card\ntitle: T\n",
         ["m.yaml:1: unknown message kind 'acton_card' — fix: did you mean 'action_card'?"]),
        ("kind: link\ntitle: T\ntext: x\nurl: https://e.example.com\nbuttons: [a=https://e.example.com]\n",
         ["m.yaml:5: the message: a link message has no `buttons:` — fix: `buttons:` belongs to kind: action_card"]),
        ("kind: action_card\ntitle: T\ntext: x\n",
         ["m.yaml:1: the message: an action card needs `buttons:`"]),
        ("kind: action_card\ntitle: T\ntext: x\nbuttons: []\n",
         ["m.yaml:4: the message buttons is empty — fix: give at least one"]),
        ("kind: action_card\ntitle: T\ntext: x\nbuttons: [no-url]\nlayout: diagonal\n",
         ["m.yaml:4: the message buttons: 'no-url' is not TITLE=URL",
          "m.yaml:5: the message layout 'diagonal' is not one of vertical, horizontal — fix: use one: vertical, horizontal"]),
        ("kind: action_card\ntitle: T\ntext: x\nbuttons:\n  - {title: a}\n",
         ["m.yaml:5: an item of the message buttons needs `url:`"]),
        ("kind: feed_card\nlinks:\n  - {title: a, url: https://e.example.com}\n",
         ["m.yaml:3: the message links: a link of a feed card needs a picture (`pic:`, or TITLE=URL=PIC) — fix: "
          "DingTalk requires picURL for every link of a feed card"]),
        ("kind: text\ntext: 你好 {{ 名字 }}\n",
         ["m.yaml:2: the message text: {{ 名字 }} — a message document given to `send --message` is not filled in — "
          "fix: write the value itself (or \\{{ for a literal {{); templates are filled in by flows"]),
        ("kind: text\ntext: a\ntext: b\n", ["m.yaml:3: duplicate key 'text' (first at line 2) — fix: keep only one of them"]),
        ("title: T\n", ["m.yaml:1: the message needs `kind:` — fix: one of text, markdown, link, action_card, "
                        "feed_card, image"]),
        ("", ["m.yaml:1: the message document is empty — fix: start it with `kind:`"]),
        ("- kind: text\n", ["m.yaml:1: the message must be a mapping with `kind:`, not a list"]),
    ],
)
def test_a_wrong_document_exits_2_with_every_problem(cli, groups, sandbox, in_folder, document, problems):
    (in_folder / "m.yaml").write_text(document, encoding="utf-8")
    r = cli("send", "-g", "通知群", "--message", "m.yaml")
    assert (r.exit_code, r.stdout) == (2, "")
    noun = "problem" if len(problems) == 1 else "problems"
    assert r.stderr == (
        f"Error: m.yaml has {len(problems)} {noun}:\n" + "".join(f"  {p}\n" for p in problems)
        + "  Hint: fix them; the README's `send --message` section shows each kind's document\n"
    )
    assert sandbox.requests() == []


def test_a_document_that_passes_the_loader_but_not_dingtalk_is_refused_like_flags(cli, groups, sandbox, in_folder):
    (in_folder / "m.yaml").write_text("kind: feed_card\nlinks: ['a=https://e.example.com=https://e.example.com/p.png']\n")
    r = cli("send", "-g", "应用群", "--message", "m.yaml")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr.startswith("Error: group 应用群: a feed card cannot be sent through chat/send")


def test_message_is_the_whole_message(cli, groups, sandbox, in_folder):
    (in_folder / "m.yaml").write_text("kind: text\ntext: hi\n")
    r = cli("send", "-g", "通知群", "--message", "m.yaml", "--title", "T", "--at-all", "extra")
    assert (r.exit_code, r.stdout, r.stderr) == (
        2, "", "Error: --message is the whole message: drop TEXT, --title, --at-*\n  Hint: put them in the document\n")
    r = cli("send", "-g", "通知群", "--message", "nowhere.yaml")
    assert (r.exit_code, r.stdout, r.stderr) == (
        2, "", "Error: no message document at nowhere.yaml\n  Hint: give a YAML or JSON file, or `-` for stdin\n")
    assert sandbox.requests() == []


def test_the_readme_documents_are_valid(cli, groups, sandbox, in_folder):
    """The message documents shown in the README are read as they are written there."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Message documents", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```yaml\n")[1:]]
    assert len(blocks) >= 3
    for i, block in enumerate(blocks):
        path = in_folder / f"doc{i}.yaml"
        path.write_text(block, encoding="utf-8")
        r = cli("send", "--dry-run", "-g", "通知群", "--message", path.name)
        if r.exit_code == 2 and "cannot be sent through a custom robot's webhook" in r.stderr:
            r = cli("send", "--dry-run", "-g", "应用群", "--message", path.name)
        assert r.exit_code == 0, (block, r.stderr)


def test_the_readme_matrix_is_the_one_enforced():
    """Each kind's row of the README's capability matrix names, per channel, the wire type the
    code sends (in backticks), or `—` where the code refuses it."""
    from groupmsg.dingtalk.messages import CHANNELS, WIRE_TYPES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Message kinds", 1)[1].split("| kind | webhook groups |", 1)[1].split("\n\n", 1)[0]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:5]]
            for line in table.splitlines()[2:] if line.startswith("|")}
    names = {"text": "text", "markdown": "markdown", "link": "link", "action_card": "action card",
             "feed_card": "feed card", "image": "image"}
    assert set(rows) == {*names.values(), "@mentions"}
    for kind, wires in WIRE_TYPES.items():
        for channel, cell in zip(CHANNELS, rows[names[kind]], strict=True):
            if channel in wires:
                assert cell.startswith(f"`{wires[channel]}`"), (kind, channel, cell)
            else:
                assert cell.startswith("—"), (kind, channel, cell)


def test_an_image_file_in_a_document_is_relative_to_the_document(cli, groups, sandbox, in_folder):
    (in_folder / "cards").mkdir()
    (in_folder / "cards" / "chart.png").write_bytes(PNG)
    (in_folder / "cards" / "image.yaml").write_text("kind: image\nimage: chart.png\n")
    r = cli("send", "-g", "应用群", "--message", "cards/image.yaml")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to 应用群 (chat)\n", "")
    assert sandbox.messages()[0]["media"]["filename"] == "chart.png"
