"""Input that cannot hurt: bounded reads (`@/dev/zero`), stored strings without escape sequences or
look-alike characters, output that never carries a control character to a terminal, CSV cells a
spreadsheet will not run, and webhooks that send their access token only where the user said.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from groupmsg.sandbox.config import DEMO_WEBHOOK_PLAIN_TOKEN

REPO = Path(__file__).resolve().parent.parent
HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"
ESC = "\x1b]0;owned\x07\x1b[31m"  # an OSC window title and an SGR colour


def refused(r, *fragments: str) -> None:
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == "" and r.stderr.startswith("Error: ") and "unexpected" not in r.stderr
    assert not controls(r.stderr), r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, (fragment, r.stderr)


def controls(text: str, allowed: str = "\n") -> list[str]:
    """The C0/C1 control characters (and DEL) in `text`, apart from `allowed`."""
    return [c for c in text if unicodedata.category(c) == "Cc" and c not in allowed]


@pytest.fixture
def seed(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GROUPMSG_FLOWS", str(REPO / "flows.yaml"))
    return REPO / "flows.yaml"


# --- bounded input -----------------------------------------------------------------------------------


def test_a_field_read_from_dev_zero_is_refused_at_once(cli, seed) -> None:
    r = cli("submit", "群消息内容录入表", "--no-input", "-f", "消息内容=@/dev/zero", "-f", "选择群聊=g")
    refused(r, "--field 消息内容=@/dev/zero: /dev/zero is a device or a socket, not a regular file or a pipe")


def run_limited(args: list[str], stdin_path: str, home: Path) -> subprocess.CompletedProcess[str]:
    """groupmsg in a process that may not use more than 1 GiB of address space, stdin from a file."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    env = {**os.environ, "GROUPMSG_HOME": str(home), "GROUPMSG_FLOWS": str(REPO / "flows.yaml"), "NO_COLOR": "1"}
    with open(stdin_path, "rb") as stdin:
        return subprocess.run([sys.executable, "-m", "groupmsg", *args], stdin=stdin, capture_output=True,
                              text=True, env=env, preexec_fn=limit, timeout=60)


@pytest.mark.parametrize(
    "args,what",
    [
        (["submit", "群消息内容录入表", "--no-input", "-f", "消息内容=-", "-f", "选择群聊=g"], "--field 消息内容=-"),
        (["submit", "群消息内容录入表", "--no-input", "-f", "消息内容=@/dev/stdin", "-f", "选择群聊=g"], "/dev/stdin is a device"),
        (["send", "-g", "g", "-"], "the message read from stdin"),
        (["groups", "import", "-", "--format", "csv"], "<stdin>: larger than 64 MiB"),
        (["groups", "add", "g", "--webhook", HOOK, "--secret", "-"], "the secret read from stdin is longer than 256"),
    ],
    ids=["field-stdin", "field-dev-stdin", "send-stdin", "import-stdin", "secret-stdin"],
)
def test_an_endless_stdin_is_read_only_up_to_its_limit(home, args, what) -> None:
    p = run_limited(args, "/dev/zero", home)  # within 1 GiB: it would take 22 GB to read it all
    assert p.returncode == 2 and p.stdout == "", (p.returncode, p.stderr)
    assert p.stderr.startswith("Error: ") and what in p.stderr and "MemoryError" not in p.stderr


def test_a_field_longer_than_its_max_length_is_refused_naming_the_limit(cli, seed, tmp_path) -> None:
    long_name = tmp_path / "name.txt"
    long_name.write_text("群" * 300 + "\n")
    r = cli("submit", "创建群聊", "--no-input", "-f", f"群名=@{long_name}", "-f", "群主=u", "-f", "成员=u")
    refused(r, f"--field 群名=@{long_name}: more than 20 characters, the most this field takes (its max_length)")
    just_right = tmp_path / "ok.txt"
    just_right.write_text("群" * 20 + "\n")  # the newline a file ends with does not count
    r = cli("submit", "创建群聊", "--dry-run", "-f", f"群名=@{just_right}", "-f", "群主=u", "-f", "成员=u")
    assert r.exit_code == 0 and json.loads(r.stdout)["record"]["values"]["群名"] == "群" * 20


def test_a_value_larger_than_1_mib_is_refused(cli, seed, tmp_path) -> None:
    big = tmp_path / "big.md"
    big.write_bytes(b"x" * ((1 << 20) + 1))
    r = cli("submit", "群消息内容录入表", "--no-input", "-f", f"消息内容=@{big}", "-f", "选择群聊=g")
    refused(r, "larger than 1 MiB (1,048,576 bytes), the most groupmsg reads for it")
    r = cli("groups", "add", "g", "--chat-id", "c")
    r = cli("send", "-g", "g", "-", input="x" * ((1 << 20) + 1))
    refused(r, "the message read from stdin: larger than 1 MiB")


def test_a_folder_or_a_missing_file_as_a_value(cli, seed, tmp_path) -> None:
    r = cli("submit", "群消息内容录入表", "--no-input", "-f", f"消息内容=@{tmp_path}", "-f", "选择群聊=g")
    refused(r, f"{tmp_path} is a folder, not a regular file or a pipe")
    r = cli("submit", "群消息内容录入表", "--no-input", "-f", f"消息内容=@{tmp_path}/nope", "-f", "选择群聊=g")
    refused(r, f"no such file {tmp_path}/nope", "write @@")


def test_a_value_from_a_pipe_is_read(cli, seed, tmp_path) -> None:
    import threading

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text("从管道来的消息\n"))
    writer.start()
    r = cli("submit", "创建群聊", "--dry-run", "-f", f"群名=@{fifo}", "-f", "群主=u", "-f", "成员=u")
    writer.join(5)
    assert r.exit_code == 0 and json.loads(r.stdout)["record"]["values"]["群名"] == "从管道来的消息"


def test_an_import_larger_than_its_limit_is_refused(cli, tmp_path, monkeypatch) -> None:
    from groupmsg.cli import inputs

    monkeypatch.setattr(inputs, "MAX_IMPORT_BYTES", 1000)
    f = tmp_path / "groups.json"
    f.write_text(json.dumps([{"name": f"g{i}", "chat_id": f"c{i}"} for i in range(100)]))
    refused(cli("groups", "import", str(f)), f"{f}: larger than 1,000 bytes")
    refused(cli("groups", "import", "/dev/zero", "--format", "json"), "/dev/zero is a device or a socket")


@pytest.mark.parametrize("shape", ["large", "folder", "device"])
def test_a_flows_file_that_is_too_large_or_not_a_file_is_refused(cli, tmp_path, shape) -> None:
    path = {"large": tmp_path / "big.yaml", "folder": tmp_path, "device": Path("/dev/zero")}[shape]
    if shape == "large":
        path.write_bytes(b"version: 1\n" + b"# " + b"x" * (5 << 20) + b"\n")
    r = cli("flows", "check", str(path))
    if shape == "large":
        refused(r, f"the flows file {path} is larger than 4 MiB")
    else:
        refused(r, f"the flows file {path} is not a regular file")


def test_a_secret_typed_at_a_terminal_is_not_echoed(home) -> None:
    from test_terminal import run_on_tty

    secret = "SEC" + "ab12" * 16
    code, screen = run_on_tty(["groups", "add", "g", "--webhook", HOOK, "--secret", "-"], home, typed=secret.encode() + b"\n")
    assert code == 0 and "Signing secret (SEC…, not shown):" in screen and secret not in screen
    assert "added g (webhook:" in screen


# --- clean stored strings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,what",
    [
        (("groups", "add", f"g{ESC}", "--chat-id", "c"), "group name"),
        (("groups", "add", "g", "--chat-id", "c", "--owner", f"u{ESC}"), "the owner"),
        (("groups", "add", "g", "--chat-id", f"c{ESC}"), "the chat id"),
        (("groups", "add", "g", "--open-conversation-id", f"cid{ESC}"), "the open conversation id"),
        (("groups", "add", "g", "--webhook", HOOK, "--keyword", f"k{ESC}"), "a keyword"),
        (("groups", "add", "g", "--webhook", HOOK, "--secret-env", f"V{ESC}"), "is not an environment variable name"),
        (("groups", "add", "g", "--webhook", HOOK, "--secret-env", "1ST"), "is not an environment variable name"),
        (("groups", "add", "g", "--webhook", HOOK + ESC), "the webhook URL"),
        (("groups", "add", "g", "--webhook", HOOK, "--allow-host", f"h{ESC}"), "--allow-host"),
        (("groups", "add", "g", "--webhook", HOOK, "--secret", f"SEC{ESC}"), "a signing secret is letters and digits only"),
        (("groups", "add", "g", "--chat-id", "c", "--owner", "a\u2028b"), "the owner"),
    ],
    ids=["name", "owner", "chat-id", "cid", "keyword", "secret-env", "secret-env-digit", "webhook", "allow-host",
         "secret", "owner-line-separator"],
)
def test_an_escape_sequence_in_a_stored_field_is_refused(cli, args, what) -> None:
    refused(cli(*args), what)
    assert json.loads(cli("groups", "list", "--json").stdout) == []


@pytest.mark.parametrize(
    "args,what",
    [
        (("send", "-g", "g", "--markdown", "--title", f"t{ESC}", "hi"), "the title"),
        (("send", "-g", "g", "--at-mobile", f"138{ESC}", "hi"), "an @mention"),
    ],
)
def test_an_escape_sequence_in_a_message_title_or_mention_is_refused(cli, sandbox, args, what) -> None:
    assert cli("groups", "add", "g", "--webhook", HOOK).exit_code == 0
    refused(cli(*args), what, "contains a control character")
    assert sandbox.messages() == []
    r = cli("runs", "list", "--json")
    assert json.loads(r.stdout) == []  # refused before a run was recorded


def test_an_escape_sequence_in_an_imported_row_is_refused(cli, tmp_path) -> None:
    f = tmp_path / "g.csv"
    f.write_text(f"name,chat_id,owner\nok,c1,u1\nbad,c2,u{ESC}\n", encoding="utf-8")
    refused(cli("groups", "import", str(f)), f"{f} line 3: the owner", "nothing was imported")


def test_every_backend_stores_only_checked_groups(tmp_path) -> None:
    """The rules live with the value (Group.checked via stamped): a flow's add_data, an import, a
    rename, whichever backend."""
    from groupmsg.errors import BadInput
    from groupmsg.state.files.registry import Registry
    from groupmsg.state.model import Group

    reg = Registry(tmp_path / "registry")
    for bad in (Group(name="g", kind="app", chat_id="c", owner=f"u{ESC}"), Group(name="o\u200bps", kind="app", chat_id="c"),
                Group(name="w", kind="webhook", webhook="https://evil.example/robot/send?access_token=t")):
        with pytest.raises(BadInput):
            reg.add(bad)
    reg.add(Group(name="ops", kind="app", chat_id="c"))
    with pytest.raises(BadInput):
        reg.rename("ops", "op\u202es")
    assert reg.names() == ["ops"]


# --- look-alike names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["op\u200bs", "ops\u202e", "\u2066ops", "o\u00adps", "ops\ufeff", "op\u2060s", "ops\U000e0041"],
    ids=["zero-width-space", "rtl-override", "lri", "soft-hyphen", "bom", "word-joiner", "tag"],
)
def test_a_look_alike_name_is_refused(cli, tmp_path, name) -> None:
    assert cli("groups", "add", "ops", "--chat-id", "c").exit_code == 0
    refused(cli("groups", "add", name, "--chat-id", "d"), "contains the invisible formatting character U+")
    refused(cli("groups", "rename", "ops", name), "invisible formatting character")
    f = tmp_path / "g.json"
    f.write_text(json.dumps([{"name": name, "chat_id": "e"}]))
    refused(cli("groups", "import", str(f)), "invisible formatting character")
    r = cli("groups", "list", "--json")
    assert [g["name"] for g in json.loads(r.stdout)] == ["ops"]


def test_a_send_picks_the_one_group_there_is(cli, sandbox) -> None:
    assert cli("groups", "add", "ops", "--webhook", HOOK).exit_code == 0
    refused(cli("groups", "add", "op\u200bs", "--chat-id", "c"))
    r = cli("send", "-g", "ops", "hi")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to ops (webhook)\n", "")


# --- CSV cells a spreadsheet would run -----------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","点我")', "+SUM(1,2)", "-2+3", "@SUM(A1)", "'quoted", "=cmd|' /C calc'!A0"]


def test_formula_cells_are_neutralised_in_csv_and_survive_a_round_trip(cli, tmp_path) -> None:
    for i, text in enumerate(FORMULAS):
        r = cli("groups", "add", "--chat-id", f"c{i}", "--owner", text, "--", text)
        assert r.exit_code == 0, r.stderr
    r = cli("groups", "export", "--format", "csv")
    assert r.exit_code == 0 and r.stderr == ""
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == len(FORMULAS)
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert sorted(row["name"] for row in rows) == sorted("'" + t for t in FORMULAS)

    export = tmp_path / "groups.csv"
    export.write_text(r.stdout, encoding="utf-8")
    r = cli("--home", str(tmp_path / "fresh"), "groups", "import", str(export))
    assert (r.exit_code, r.stderr) == (0, "")
    got = json.loads(cli("--home", str(tmp_path / "fresh"), "groups", "list", "--json").stdout)
    assert sorted((g["name"], g["owner"]) for g in got) == sorted((t, t) for t in FORMULAS)


def test_json_exports_are_not_neutralised(cli) -> None:
    assert cli("groups", "add", "--chat-id", "c", "--", "=1+1").exit_code == 0
    r = cli("groups", "export")
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["name"] == "=1+1"


# --- where the access token goes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,fragment",
    [
        ("http://attacker.example/robot/send?access_token=t0ken-t0ken", "sends its access token to attacker.example"),
        ("https://attacker.example/robot/send?access_token=t0ken-t0ken", "sends its access token to attacker.example"),
        ("https://oapi.dingtalk.com.attacker.example/robot/send?access_token=t0ken-t0ken", "to oapi.dingtalk.com.attacker.example"),
        ("https://oapi.dingtalk.com@attacker.example/robot/send?access_token=t0ken-t0ken", "to attacker.example"),
        ("http://oapi.dingtalk.com/robot/send?access_token=t0ken-t0ken", "plain http://"),
        ("http://192.168.1.10:8765/robot/send?access_token=t0ken-t0ken", "to 192.168.1.10"),
    ],
    ids=["http-other", "https-other", "suffix", "userinfo", "http-dingtalk", "lan-address"],
)
def test_a_webhook_that_sends_its_token_elsewhere_is_refused(cli, url, fragment) -> None:
    r = cli("groups", "add", "g", "--webhook", url)
    refused(r, fragment, "--allow-host")
    assert "t0ken-t0ken" not in r.stderr
    assert json.loads(cli("groups", "list", "--json").stdout) == []


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8765/robot/send?access_token=t",
    "http://localhost:8765/robot/send?access_token=t",
    "http://[::1]:8765/robot/send?access_token=t",
    HOOK,
])
def test_dingtalk_and_this_machine_need_no_permission(cli, url) -> None:
    r = cli("groups", "add", "g", "--webhook", url)
    assert r.exit_code == 0 and r.stderr == ""


def test_an_allowed_host_is_recorded_and_shown_by_show_and_doctor(cli, tmp_path) -> None:
    url = "https://gw.example.com/robot/send?access_token=t0ken-t0ken"
    refused(cli("groups", "add", "g", "--webhook", url, "--allow-host", "other.example.com"), "to gw.example.com")
    r = cli("groups", "add", "g", "--webhook", url, "--allow-host", "GW.example.com")
    assert r.exit_code == 0 and r.stderr == ""
    r = cli("groups", "show", "g")
    assert r.exit_code == 0 and r.stderr == "" and "allow_host  gw.example.com\n" in r.stdout
    assert json.loads(cli("groups", "show", "g", "--json").stdout)["allow_host"] == "gw.example.com"
    r = cli("doctor", "--offline")
    assert r.exit_code == 0 and r.stderr == ""
    assert ("[ok  ] group g: webhook host: the access token goes to gw.example.com, not DingTalk "
            "(allowed with --allow-host gw.example.com)") in r.stdout
    refused(cli("groups", "add", "a", "--chat-id", "c", "--allow-host", "gw.example.com"), "webhook groups only")

    # It travels through export and import, and an import row names it the same way.
    r = cli("groups", "export", "--include-secrets", "--format", "csv")
    assert r.stdout.splitlines()[0].endswith(",allow_host") and r.stdout.splitlines()[1].endswith(",gw.example.com")
    export = tmp_path / "g.csv"
    export.write_text(r.stdout)
    assert cli("--home", str(tmp_path / "fresh"), "groups", "import", str(export)).exit_code == 0
    f = tmp_path / "rows.json"
    f.write_text(json.dumps([{"name": "h", "webhook": url}]))
    refused(cli("groups", "import", str(f)), f"{f} item 1: the webhook sends its access token to gw.example.com")
    f.write_text(json.dumps([{"name": "h", "webhook": url, "allow_host": "gw.example.com"}]))
    assert cli("groups", "import", str(f)).exit_code == 0


def test_plain_http_to_an_allowed_host_is_a_doctor_warning(cli) -> None:
    url = "http://gw.example.com/robot/send?access_token=t0ken-t0ken"
    assert cli("groups", "add", "g", "--webhook", url, "--allow-host", "gw.example.com").exit_code == 0
    r = cli("doctor", "--offline")
    assert r.exit_code == 1 and r.stderr == ""
    assert "[WARN] group g: webhook host: the access token goes to gw.example.com over plain http://" in r.stdout


def test_a_group_registered_before_hosts_were_checked_fails_doctor(cli, home) -> None:
    from groupmsg.state.files.registry import Registry
    from groupmsg.state.files.store import Store

    shard = Registry(home / "registry")._shard("legacy").path
    with Store(shard, kind="registry").transaction() as db:  # as an older groupmsg stored it
        db.table("groups").insert({"name": "legacy", "kind": "webhook",
                                   "webhook": "http://attacker.example/robot/send?access_token=t0ken-t0ken"})
    r = cli("doctor", "--offline")
    assert r.exit_code == 1 and r.stderr == "" and "t0ken-t0ken" not in r.stdout
    assert "[FAIL] group legacy: webhook host: the webhook sends its access token to attacker.example" in r.stdout


# --- nothing reaches the terminal as stored ---------------------------------------------------------------


def _store_raw(home: Path, docs: list[dict]) -> None:
    """Groups written as they are, as a state file from an older groupmsg (or an editor) could hold them."""
    from groupmsg.state.files.registry import Registry
    from groupmsg.state.files.store import Store

    reg = Registry(home / "registry")
    for doc in docs:
        with Store(reg._shard(doc["name"]).path, kind="registry").transaction() as db:
            db.table("groups").insert(doc)


ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=("Cs",)), max_size=12)
LOOKUP_NAME = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=12)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=LOOKUP_NAME,
    other=ANY_TEXT.filter(lambda t: t.strip()),
    owner=ANY_TEXT,
    keywords=st.lists(ANY_TEXT, max_size=3),
    secret_env=ANY_TEXT,
    chat=ANY_TEXT,
    created=ANY_TEXT,
)
def test_no_output_of_list_show_or_export_carries_a_control_character(cli, name, other, owner, keywords, secret_env, chat, created) -> None:
    name = unicodedata.normalize("NFC", name).strip()  # as a registry stores names
    assume(name and other != name)
    with tempfile.TemporaryDirectory(prefix="gm-hyp-") as tmp:  # one home per example
        home = Path(tmp) / "home"
        docs = [
            {"name": name, "kind": "webhook", "webhook": f"https://oapi.dingtalk.com/robot/send?access_token={chat}",
             "owner": owner, "keywords": keywords, "secret_env": secret_env, "created_at": created, "source": owner},
            {"name": other, "kind": "app", "chat_id": chat, "owner": owner, "created_at": created},
        ]
        _store_raw(home, docs)
        runs = {
            "list": cli("--home", str(home), "groups", "list"),
            "list --json": cli("--home", str(home), "groups", "list", "--json"),
            "show": cli("--home", str(home), "groups", "show", "--", name),
            "show --json": cli("--home", str(home), "groups", "show", "--json", "--", name),
            "export csv": cli("--home", str(home), "groups", "export", "--include-secrets", "--format", "csv"),
            "export json": cli("--home", str(home), "groups", "export", "--include-secrets"),
        }
    for what, r in runs.items():
        assert r.exit_code == 0, (what, r.stderr)
        separators = "\n\t" if what == "list" else "\n"  # the table's own line and column breaks
        assert not controls(r.stdout, separators) and not controls(r.stderr), (what, r.stdout, r.stderr)
    # Tab-separated lines stay one line per group with one tab per column break.
    lines = runs["list"].stdout.splitlines()
    assert len(lines) == 3 and all(line.count("\t") == 6 for line in lines), lines
    # JSON loses nothing: the escapes decode to the stored strings.
    by_name = {g["name"]: g for g in json.loads(runs["list --json"].stdout)}
    assert by_name[name]["owner"] == owner and by_name[name]["keywords"] == keywords
    assert json.loads(runs["show --json"].stdout)["secret_env"] == secret_env
    assert {g["name"] for g in json.loads(runs["export json"].stdout)} == {name, other}
    assert len(list(csv.reader(io.StringIO(runs["export csv"].stdout)))) == 3


def test_table_cells_on_a_terminal_are_never_read_as_markup(capsys, monkeypatch) -> None:
    from groupmsg.cli import output

    monkeypatch.setattr(output, "colour_ok", lambda stream=None: True)
    output.Output().table(["name"], [["[link=http://evil.example]click[/link] [bold]x\x1b[2J"]])
    shown = capsys.readouterr().out
    assert "[link=http://evil.example]click[/link]" in shown and "[bold]x\\x1b[2J" in shown and "\x1b[2J" not in shown


def test_the_unsafe_characters_are_exactly_unicodes_controls_and_formats() -> None:
    """masking.UNSAFE is spelt out for speed; it must cover what this Python's tables call Cc, Cf,
    Zl, Zp and Cs, and nothing printable."""
    from groupmsg.masking import UNSAFE

    for code in range(0x110000):
        ch = chr(code)
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            assert UNSAFE.match(ch), f"U+{code:04X} ({category}) is not escaped"
        elif category != "Cn":  # unassigned here, possibly Cf in a newer Unicode
            assert not UNSAFE.match(ch), f"U+{code:04X} ({category}) is escaped"


@pytest.mark.parametrize("args,what", [
    (("create-group", "op\u200bs", "--owner", "demo-user"), "invisible formatting character U+200B"),
    (("create-group", "新群", "--owner", f"demo{ESC}"), "the owner"),
])
def test_create_group_refuses_what_the_registry_would_before_a_dingtalk_group_exists(cli, creds, sandbox, args, what) -> None:
    refused(cli(*args), what)
    assert [r for r in sandbox.requests() if "create" in r["path"] or "chat" in r["path"]] == []
