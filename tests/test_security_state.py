"""State that cannot be turned against its owner: folders of another user or writable by others, a
planted journal, lock files planted as symbolic links, and every state file in every wrong shape.

Each attack is tried through the command line and must end in exit 2 with the path and the fix, or
(for derived files: the runs HEAD, rate-limit windows, the token cache) in the file moved aside,
rebuilt and a note on stderr — and never in anything outside the home being touched.

The tests that need a second user (a folder owned by someone else) run only as root, which can
chown to an unused uid; elsewhere (a developer's machine) they are skipped.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from groupmsg.sandbox.config import DEMO_CHAT_ID, DEMO_WEBHOOK_PLAIN_TOKEN

REPO = Path(__file__).resolve().parent.parent
HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"
OTHER_UID = 12345  # no such user here: "another user on the same machine"
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown a folder to another user"
)


def refused(r, *fragments: str) -> None:
    """Exit 2, nothing on stdout, one clear message on stderr (never 'unexpected', never a traceback)."""
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == ""
    assert r.stderr.startswith("Error: ") and "unexpected" not in r.stderr and "Traceback" not in r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, (fragment, r.stderr)


def only(paths) -> Path:
    found = list(paths)
    assert len(found) == 1, found
    return found[0]


# --- a planted journal ---------------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "important.conf"
    target.write_text("root-only setting\n")
    return target


def _journals(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "registry").glob("registry.journal*"))


@pytest.mark.parametrize(
    "entries",
    [
        "outside",  # the issue's journal: payload → a file outside the home
        [["../../payload", "groups-01.json"]],
        [[".groups-01.json.staged", "../../important.conf"]],
        [["payload", "groups-01.json"]],  # not a staged file
        [[".registry.lock.staged", "registry.lock"]],  # not a shard
        {"payload": "groups-01.json"},  # wrong shape
        [[1, 2]],
    ],
    ids=["outside", "dotdot-source", "dotdot-target", "unstaged", "not-a-shard", "a-mapping", "numbers"],
)
def test_a_planted_journal_is_refused_moved_aside_and_nothing_is_renamed(cli, home, outside, entries) -> None:
    assert cli("groups", "add", "g", "--chat-id", "c").exit_code == 0
    registry = home / "registry"
    payload = registry / "payload"
    payload.write_text("attacker's content\n")
    if entries == "outside":
        entries = [[str(payload), str(outside)]]
    (registry / "registry.journal").write_text(json.dumps(entries))
    (registry / "registry.journal").chmod(0o600)
    before = sorted(p.name for p in registry.iterdir())

    r = cli("groups", "list")  # a read-only command replays journals: the attack's trigger
    refused(r, "registry.journal was not written by groupmsg", "nothing was renamed", "moved aside to")
    assert outside.read_text() == "root-only setting\n" and payload.read_text() == "attacker's content\n"
    assert [n for n in sorted(p.name for p in registry.iterdir()) if "journal" not in n] == [
        n for n in before if "journal" not in n
    ]
    assert len(_journals(home)) == 1 and _journals(home)[0].startswith("registry.journal.corrupt-")

    r = cli("groups", "list")  # once aside, the registry is usable again
    assert (r.exit_code, r.stderr) == (0, "") and r.stdout.splitlines()[1].startswith("g\tapp\tc")


@pytest.mark.parametrize("what", ["journal", "staged"])
def test_a_journal_or_staged_file_that_is_a_symbolic_link_is_refused(cli, home, outside, what) -> None:
    assert cli("groups", "add", "g", "--chat-id", "c").exit_code == 0
    registry = home / "registry"
    if what == "journal":
        elsewhere = outside.with_name("journal.json")
        elsewhere.write_text(json.dumps([[".groups-01.json.staged", "groups-01.json"]]))
        (registry / "registry.journal").symlink_to(elsewhere)
        fragment = "is a symbolic link"
    else:
        (registry / ".groups-01.json.staged").symlink_to(outside)
        (registry / "registry.journal").write_text(json.dumps([[".groups-01.json.staged", "groups-01.json"]]))
        (registry / "registry.journal").chmod(0o600)
        fragment = "is not a regular file"
    refused(cli("groups", "list"), "was not written by groupmsg", fragment, "nothing was renamed")
    assert outside.read_text() == "root-only setting\n"
    assert not (registry / "groups-01.json").is_symlink()


def test_a_journal_of_an_older_groupmsg_with_full_paths_is_still_completed(cli, home) -> None:
    """Journals written before this release name full paths: inside the registry, they are replayed."""
    from groupmsg.state.files.registry import Registry
    from groupmsg.state.files.store import atomic_write
    from groupmsg.state.model import Group

    reg = Registry(home / "registry")
    reg.add(Group(name="old", kind="app", chat_id="c0"))
    shard = reg._shard("imported")
    staged = shard.staged(lambda db: db.table("groups").insert(Group(name="imported", kind="app", chat_id="c1").to_doc()))
    tmp = shard.path.with_name(f".{shard.path.name}.staged")
    atomic_write(tmp, staged)
    atomic_write(reg.journal_path, json.dumps([[str(tmp), str(shard.path)]]).encode())
    r = cli("groups", "list", "--json")
    assert (r.exit_code, r.stderr) == (0, "") and sorted(g["name"] for g in json.loads(r.stdout)) == ["imported", "old"]
    assert not reg.journal_path.exists()


# --- folders that are not ours, or that others can write -------------------------------------------


@needs_root
@pytest.mark.parametrize("who", ["home", "registry"])
def test_the_issue_scenario_another_user_plants_a_journal_in_a_shared_folder(cli, tmp_path, outside, monkeypatch, who) -> None:
    """The home lives in a 1777 folder; another user created (part of) it with a journal that would
    replace a root-only file. Root runs a read-only command: refused, and nothing in it is touched."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    home = shared / "home"
    home.mkdir(mode=0o700)
    registry = home / "registry"
    registry.mkdir(mode=0o700)
    (registry / "payload").write_text("attacker's content\n")
    (registry / "registry.journal").write_text(json.dumps([[str(registry / "payload"), str(outside)]]))
    for path in [registry, *registry.iterdir()] + ([home] if who == "home" else []):
        os.chown(path, OTHER_UID, -1)
    monkeypatch.setenv("GROUPMSG_HOME", str(home))

    r = cli("groups", "list")
    refused(r, f"{home if who == 'home' else registry} belongs to uid {OTHER_UID}", "home of your own")
    assert outside.read_text() == "root-only setting\n"
    assert (registry / "registry.journal").exists()  # not even moved: nothing of theirs is touched


@needs_root
@pytest.mark.parametrize(
    "args",
    [("groups", "list"), ("groups", "add", "h", "--chat-id", "d"), ("send", "-g", "g", "hi"), ("paths",), ("runs", "list")],
)
def test_a_home_owned_by_another_user_is_refused_by_every_command(cli, home, args) -> None:
    assert cli("groups", "add", "g", "--chat-id", "c").exit_code == 0
    os.chown(home, OTHER_UID, -1)
    refused(cli(*args), f"{home} belongs to uid {OTHER_UID}", "not to you", "home of your own")


@needs_root
def test_a_state_file_owned_by_another_user_is_refused(cli, home) -> None:
    assert cli("groups", "add", "g", "--chat-id", "c").exit_code == 0
    shard = only((home / "registry").glob("groups-*.json"))
    os.chown(shard, OTHER_UID, -1)
    refused(cli("groups", "list"), f"{shard} belongs to uid {OTHER_UID}")


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o730, 0o702])
def test_a_home_others_can_write_is_refused_with_the_chmod_that_fixes_it(cli, home, mode) -> None:
    assert cli("groups", "add", "g", "--chat-id", "c").exit_code == 0
    home.chmod(mode)
    refused(cli("groups", "list"), f"{home} can be written by other users (mode {mode:04o})", f"chmod 700 '{home}'")
    refused(cli("send", "-g", "g", "hi"), f"{home} can be written by other users")
    home.chmod(0o700)
    assert cli("groups", "list").exit_code == 0


@pytest.mark.parametrize("folder", ["registry", "runs", "limits"])
def test_a_state_folder_others_can_write_is_refused(cli, creds, home, folder) -> None:
    assert cli("groups", "add", "g", "--webhook", HOOK).exit_code == 0
    assert cli("send", "-g", "g", "first").exit_code == 0
    (home / folder).chmod(0o777)
    refused(cli("send", "-g", "g", "second"), f"{home / folder} can be written by other users", f"chmod 700 '{home / folder}'")


def test_a_state_file_others_can_write_is_refused(cli, home) -> None:
    assert cli("groups", "add", "g", "--chat-id", "c").exit_code == 0
    shard = only((home / "registry").glob("groups-*.json"))
    shard.chmod(0o666)
    refused(cli("groups", "list"), f"{shard} can be written by other users", f"chmod 600 '{shard}'")


def test_doctor_reports_an_unsafe_home_without_reading_it(cli, home) -> None:
    assert cli("groups", "add", "g", "--chat-id", "c").exit_code == 0
    home.chmod(0o777)
    r = cli("doctor", "--offline")
    assert r.exit_code == 1 and r.stderr == ""
    assert "[FAIL] home:" in r.stdout and "can be written by other users" in r.stdout
    assert f"fix: chmod -R go-rwx '{home}'" in r.stdout
    assert "[skip] state: nothing else was checked" in r.stdout and "registry" not in r.stdout.split("[skip]")[1]


@pytest.mark.parametrize("where", ["home", "runs"])
def test_a_file_where_a_state_folder_belongs_is_refused(cli, home, tmp_path, monkeypatch, where) -> None:
    if where == "home":
        monkeypatch.setenv("GROUPMSG_HOME", str(tmp_path / "a-file"))
        (tmp_path / "a-file").write_text("x")
        path = tmp_path / "a-file"
    else:
        home.mkdir(mode=0o700)
        (home / "runs").write_text("x")
        path = home / "runs"
    refused(cli("runs", "list"), f"{path} is a file where groupmsg keeps a folder")


# --- lock files planted as symbolic links ------------------------------------------------------------


@pytest.mark.parametrize("command", ["groups add", "create-group"])
def test_a_registry_lock_planted_as_a_symbolic_link_is_not_followed(cli, creds, home, tmp_path, command) -> None:
    """The issue: a create-group created the symbolic link's target. Now nothing is created."""
    assert cli("groups", "add", "g", "--chat-id", "c").exit_code == 0
    target = tmp_path / "created-through-the-link"
    lock = home / "registry" / "registry.lock"
    lock.unlink()
    lock.symlink_to(target)
    args = ("groups", "add", "h", "--chat-id", "d") if command == "groups add" else ("create-group", "新群", "--owner", "demo-user")
    refused(cli(*args), f"{lock} is a symbolic link", f"rm '{lock}'")
    assert not target.exists() and lock.is_symlink()


def test_a_runs_lock_planted_as_a_symbolic_link_stops_the_send_before_anything_goes_out(cli, home, tmp_path, sandbox) -> None:
    assert cli("groups", "add", "g", "--webhook", HOOK).exit_code == 0
    assert cli("send", "-g", "g", "first").exit_code == 0
    target = tmp_path / "victim"
    target.write_text("keep me")
    lock = home / "runs" / "runs.lock"
    lock.unlink()
    lock.symlink_to(target)
    before = len(sandbox.messages())
    refused(cli("send", "-g", "g", "second"), f"{lock} is a symbolic link")
    assert target.read_text() == "keep me" and len(sandbox.messages()) == before


def test_a_lock_file_that_is_a_folder_is_refused(cli, home) -> None:
    assert cli("groups", "add", "g", "--chat-id", "c").exit_code == 0
    lock = home / "registry" / "registry.lock"
    lock.unlink()
    lock.mkdir()
    refused(cli("groups", "add", "h", "--chat-id", "d"), f"{lock} is a folder where groupmsg keeps a file")


# --- every state file in every wrong shape --------------------------------------------------------------

META = {"registry": "registry", "runs": "runs", "records": "records", "dedupe": "dedupe"}
WRONG_DOC = {
    "registry": ("groups", {"name": 5, "kind": "app"}),
    "runs": ("runs", {"id": "x", "kind": "send", "steps": "oops"}),
    "records": ("records", {"id": "FINST-1", "form": "群消息内容录入表", "values": [1, 2]}),
    "dedupe": ("keys", {"key": "k1", "run": "r", "at": "yesterday"}),
}
SHAPES = ["not-json", "undecodable", "a-list", "table-not-a-mapping", "wrong-document", "a-folder", "a-link", "empty"]


@pytest.fixture
def populated(cli, creds, home, monkeypatch):
    """A home with every kind of state: a registry, runs, a form record, a dedupe key, a token."""
    monkeypatch.setenv("GROUPMSG_FLOWS", str(REPO / "flows.yaml"))
    monkeypatch.setenv("GROUPMSG_WEBHOOK_RATE", "20/0.2")  # a window rebuilt as full is over at once
    assert cli("groups", "add", "hook", "--webhook", HOOK).exit_code == 0
    assert cli("groups", "add", "app", "--chat-id", DEMO_CHAT_ID).exit_code == 0
    assert cli("send", "-g", "hook", "--dedupe-key", "k1", "hi").exit_code == 0
    r = cli("submit", "群消息内容录入表", "-f", "选择群聊=app", "-f", "消息内容=hello", "--no-input")
    assert r.exit_code == 0, r.stderr
    return home


def _shard_of(home: Path, name: str) -> Path:
    from groupmsg.state.files.registry import Registry

    return Registry(home / "registry")._shard(name).path


PRIMARY = {
    # kind: (the file, the command that reads it)
    "registry": (lambda h: _shard_of(h, "hook"), ("groups", "list")),
    "runs": (lambda h: h / "runs" / "runs-000001.json", ("runs", "list")),
    "records": (lambda h: only((h / "records").glob("form-*/records-000001.json")), ("forms", "records", "群消息内容录入表")),
    "dedupe": (lambda h: only((h / "dedupe").glob("keys-*.json")), ("send", "-g", "hook", "--dedupe-key", "k1", "again")),
}


def damage(path: Path, shape: str, kind: str, tmp: Path) -> None:
    meta = {"_meta": {"1": {"kind": kind, "version": 1}}}
    if shape in ("a-folder", "a-link"):
        good = path.read_bytes()
        path.unlink()
        if shape == "a-folder":
            path.mkdir()
        else:
            copy = tmp / f"elsewhere-{kind}.json"
            copy.write_bytes(good)
            path.symlink_to(copy)
        return
    payload = {
        "not-json": b"{oops",
        "undecodable": b"\xff\xfe\x00\x81 not utf-8",
        "a-list": b"[1, 2, 3]",
        "empty": b"",
        "table-not-a-mapping": json.dumps({**meta, WRONG_DOC[kind][0]: [1, 2]}).encode(),
        "wrong-document": json.dumps({**meta, WRONG_DOC[kind][0]: {"1": WRONG_DOC[kind][1]}}).encode(),
    }[shape]
    path.write_bytes(payload)


def snapshot(path: Path) -> object:
    if path.is_symlink():
        return ("link", os.readlink(path))
    if path.is_dir():
        return ("folder", sorted(os.listdir(path)))
    return ("file", path.read_bytes())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", list(PRIMARY))
def test_every_state_file_in_every_wrong_shape_is_bad_input_with_the_recovery_step(cli, populated, tmp_path, kind, shape) -> None:
    locate, command = PRIMARY[kind]
    path = locate(populated)
    damage(path, shape, META[kind], tmp_path)
    before = snapshot(path)
    r = cli(*command)
    refused(r, str(path))
    assert f"mv '{path}'" in r.stderr or f"rm '{path}'" in r.stderr
    assert snapshot(path) == before  # never overwritten, never moved without being asked


# --- derived files: moved aside and rebuilt, with a note --------------------------------------------------


def replace_with(path: Path, shape: str, target: Path, **payloads: bytes) -> None:
    """Put a folder, a symbolic link to `target`, or bytes (by shape name) where `path` is."""
    path.unlink()
    if shape == "a-folder":
        path.mkdir()
    elif shape == "a-link":
        path.symlink_to(target)
    else:
        path.write_bytes(payloads[shape])
        path.chmod(0o600)


def _send_ok(r) -> None:
    assert r.exit_code == 0 and r.stdout == "sent to hook (webhook)\n", (r.exit_code, r.stdout, r.stderr)


@pytest.mark.parametrize("shape", ["garbled", "not-utf8", "a-folder", "a-link"])
def test_a_damaged_runs_head_is_moved_aside_and_rebuilt(cli, populated, tmp_path, shape) -> None:
    head = populated / "runs" / "HEAD"
    target = tmp_path / "outside-head"
    target.write_text("runs-000001.json")
    replace_with(head, shape, target, garbled=b"../../../etc/passwd", **{"not-utf8": b"\xff\xfe"})
    r = cli("send", "-g", "hook", "after")
    _send_ok(r)
    assert r.stderr.startswith(f"note: {head} ") and "moved it aside to" in r.stderr and "rebuilt it" in r.stderr
    assert head.read_text() == "runs-000001.json" and not head.is_symlink()
    assert only(head.parent.glob("HEAD.corrupt-*")).exists() and target.read_text() == "runs-000001.json"
    r = cli("send", "-g", "hook", "again")
    _send_ok(r)
    assert r.stderr == ""


def _webhook_window(home: Path) -> Path:
    from groupmsg.state.files.limits import RateLimiter

    return RateLimiter(home / "limits")._path(f"webhook|oapi.dingtalk.com|{DEMO_WEBHOOK_PLAIN_TOKEN}")  # delivery.retry's key


@pytest.mark.parametrize("shape", ["garbled", "old-format", "a-folder", "a-link"])
def test_a_damaged_rate_limit_window_is_moved_aside_and_counted_as_full(cli, populated, tmp_path, shape) -> None:
    window = _webhook_window(populated)
    target = tmp_path / "outside-window"
    target.write_text("keep me")
    replace_with(window, shape, target, garbled=b'{"oops": ', **{"old-format": b"[1700000000.0, 1700000001.0]"})
    r = cli("send", "-g", "hook", "after")
    _send_ok(r)
    assert r.stderr.startswith(f"note: the rate-limit window {window} ") and "counted the window as full" in r.stderr
    assert only(window.parent.glob(f"{window.name}.corrupt-*")).exists() and target.read_text() == "keep me"
    assert stat.S_ISREG(window.lstat().st_mode) and isinstance(json.loads(window.read_bytes()), list)


@pytest.mark.parametrize("shape", ["not-a-time", "a-folder"])
def test_a_damaged_block_record_is_moved_aside(tmp_path, shape) -> None:
    """A record of DingTalk's block on a robot (read when DingTalk blocks it again)."""
    from groupmsg.state.files.limits import RateLimiter

    notes: list[str] = []
    limiter = RateLimiter(tmp_path / "limits", notify=notes.append)
    limiter.block("k", 600)
    assert 590 < limiter.blocked_for("k") < 601
    block = limiter._block_path("k")
    block.unlink()
    if shape == "a-folder":
        block.mkdir()
    else:
        block.write_text("until the heat death of the universe")
        block.chmod(0o600)
    assert limiter.blocked_for("k") == 0.0
    problem = "is not a time" if shape == "not-a-time" else "is not a regular file"
    assert len(notes) == 1 and notes[0].startswith(f"note: the block record {block} {problem}; moved it aside")
    assert not block.exists() and only(block.parent.glob(f"{block.name}.corrupt-*")).exists()
    limiter.block("k", 60)
    assert 50 < limiter.blocked_for("k") < 61 and len(notes) == 1


@pytest.mark.parametrize("shape", ["not-json", "undecodable", "table-not-a-mapping", "a-folder", "a-link"])
def test_a_damaged_token_cache_is_moved_aside_and_a_new_token_fetched(cli, populated, tmp_path, shape) -> None:
    tokens = populated / "tokens.json"
    assert tokens.exists()
    if shape == "a-link":
        damage(tokens, shape, "tokens", tmp_path)
    elif shape == "a-folder":
        tokens.unlink()
        tokens.mkdir()
    else:
        payload = {
            "not-json": b"{oops",
            "undecodable": b"\xff\xfe",
            "table-not-a-mapping": json.dumps({"_meta": {"1": {"kind": "tokens", "version": 1}}, "tokens": [1]}).encode(),
        }[shape]
        tokens.write_bytes(payload)
    r = cli("send", "-g", "app", "after")
    assert r.exit_code == 0 and r.stdout == "sent to app (chat)\n", r.stderr
    assert r.stderr.startswith(f"note: {tokens} ") and "moved it aside to" in r.stderr and "started a new one" in r.stderr
    assert only(populated.glob("tokens.json.corrupt-*")).exists()
    assert stat.S_ISREG(tokens.lstat().st_mode)


def test_a_token_cache_of_another_kind_is_refused_not_moved(cli, populated, sandbox) -> None:
    """Read while delivering, so it is the delivery that fails (exit 1, recorded, `runs retry` after the fix)."""
    tokens = populated / "tokens.json"
    tokens.write_text(json.dumps({"_meta": {"1": {"kind": "registry", "version": 1}}}))
    before = len(sandbox.messages())
    r = cli("send", "-g", "app", "after")
    assert r.exit_code == 1 and r.stdout == "" and "unexpected" not in r.stderr
    assert f"Error: app: {tokens} is not a groupmsg tokens file" in r.stderr and f"mv '{tokens}'" in r.stderr
    assert not list(populated.glob("tokens.json.corrupt-*")) and len(sandbox.messages()) == before
