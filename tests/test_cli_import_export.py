"""`groups export` / `groups import`: round trips, validation of every row, all-or-nothing."""

from __future__ import annotations

import json

HOOK = "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789abcdef"
SECRET = "SEC0123456789abcdef0123"


def seed(cli) -> None:
    assert cli("groups", "add", "项目A", "--chat-id", "chat1", "--owner", "u1").exit_code == 0
    assert cli("groups", "add", "告警", "--webhook", HOOK, "--secret", SECRET).exit_code == 0
    assert cli("groups", "add", "CI", "--webhook", HOOK, "--secret-env", "CI_SECRET").exit_code == 0


def test_export_leaves_secrets_out_unless_asked(cli) -> None:
    seed(cli)
    r = cli("groups", "export")
    assert r.exit_code == 0 and "2 webhook group(s) exported without their URL" in r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["项目A"]["chat_id"] == "chat1" and rows["告警"]["webhook"] is None
    assert "abcdef0123456789" not in r.stdout and SECRET not in r.stdout
    r = cli("groups", "export", "--include-secrets", "--format", "csv")
    assert r.exit_code == 0 and r.stderr == ""
    assert r.stdout.splitlines()[0] == "name,kind,chat_id,open_conversation_id,webhook,secret,secret_env,keywords,owner,webhook_env,allow_host"
    assert HOOK in r.stdout and SECRET in r.stdout


def test_csv_and_json_round_trip_into_a_fresh_home(cli, tmp_path, home) -> None:
    seed(cli)
    for fmt in ("csv", "json"):
        out = tmp_path / f"groups.{fmt}"
        r = cli("groups", "export", "--include-secrets", "-o", str(out))
        assert r.exit_code == 0 and r.stdout == "" and f"exported 3 group(s) to {out}" in r.stderr
        fresh = tmp_path / f"fresh-{fmt}"
        r = cli("--home", str(fresh), "groups", "import", str(out))
        assert (r.exit_code, r.stdout, r.stderr) == (0, f"imported 3 group(s) from {out}\n", "")
        r = cli("--home", str(fresh), "groups", "list", "--json")
        got = {g["name"]: g for g in json.loads(r.stdout)}
        assert got["项目A"]["chat_id"] == "chat1" and got["告警"]["signed"] and got["CI"]["secret_env"] == "CI_SECRET"
        assert {g["source"] for g in got.values()} == {"import"}


def test_import_reports_every_bad_row_and_imports_nothing(cli, tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "name,kind,chat_id,open_conversation_id,webhook,secret,secret_env,keywords,owner\n"
        "好群,app,chat1,,,,,,\n"
        ",app,chat2,,,,,,\n"
        "坏钩子,webhook,,,https://x/robot/send,,,,\n"
        "没地址,app,,,,,,,\n",
        encoding="utf-8",
    )
    r = cli("groups", "import", str(bad))
    assert r.exit_code == 2 and r.stdout == ""
    assert "3 bad row(s)" in r.stderr
    assert "line 3" in r.stderr and "line 4: the webhook URL has no access_token" in r.stderr and "line 5" in r.stderr
    r = cli("groups", "list", "--json")
    assert json.loads(r.stdout) == []


def test_import_of_an_existing_name_needs_replace(cli, tmp_path) -> None:
    seed(cli)
    f = tmp_path / "g.json"
    f.write_text(json.dumps([{"name": "项目A", "chat_id": "chat9"}, {"name": "新群", "chat_id": "chat8"}]))
    r = cli("groups", "import", str(f))
    assert r.exit_code == 2 and "'项目A' is already registered; nothing was added" in r.stderr
    assert cli("groups", "show", "新群").exit_code == 2
    r = cli("groups", "import", str(f), "--replace", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"imported": 2, "names": ["项目A", "新群"]}
    assert json.loads(cli("groups", "show", "项目A", "--json").stdout)["chat_id"] == "chat9"


def test_import_from_stdin_and_bad_json(cli) -> None:
    r = cli("groups", "import", "-", input='[{"name": "s", "chat_id": "c"}]')
    assert (r.exit_code, r.stdout, r.stderr) == (0, "imported 1 group(s) from <stdin>\n", "")
    r = cli("groups", "import", "-", input="[{")
    assert r.exit_code == 2 and r.stdout == "" and "<stdin>:1: not valid JSON" in r.stderr


def test_an_interrupted_import_is_completed_by_the_next_process(tmp_path) -> None:
    """A journal left by a killed import is rolled forward: all of the import, never half."""
    from groupmsg.state.files.registry import Registry
    from groupmsg.state.files.store import Store, atomic_write
    from groupmsg.state.model import Group

    reg = Registry(tmp_path / "registry")
    reg.add(Group(name="old", kind="app", chat_id="c0"))
    groups = [Group(name=f"g{i}", kind="app", chat_id=f"c{i}") for i in range(50)]
    by_shard: dict = {}
    for g in groups:
        by_shard.setdefault(reg._shard(g.name).path, []).append(g)
    staged = []
    for path, gs in by_shard.items():
        payload = Store(path, kind="registry").staged(lambda db, gs=gs: db.table("groups").insert_multiple(g.to_doc() for g in gs))
        tmp = path.with_name(f".{path.name}.staged")
        atomic_write(tmp, payload)
        staged.append([str(tmp), str(path)])
    atomic_write(reg.journal_path, json.dumps(staged).encode())
    import os

    os.replace(*staged[0])  # killed after the first rename
    assert len(Registry(tmp_path / "registry").names()) == 51  # the next reader completes it
    assert not reg.journal_path.exists()


def test_an_interrupted_import_is_completed_before_the_next_add_writes(tmp_path) -> None:
    from groupmsg.state.files.registry import Registry
    from groupmsg.state.files.store import atomic_write
    from groupmsg.state.model import Group

    reg = Registry(tmp_path / "registry")
    reg.add(Group(name="old", kind="app", chat_id="c0"))
    path = reg._shard("imported").path
    staged = reg._shard("imported").staged(
        lambda db: db.table("groups").insert(Group(name="imported", kind="app", chat_id="c1").to_doc()))
    tmp = path.with_name(f".{path.name}.staged")
    atomic_write(tmp, staged)
    atomic_write(reg.journal_path, json.dumps([[str(tmp), str(path)]]).encode())  # killed before renaming
    reg.add(Group(name="new", kind="app", chat_id="c2"))
    assert sorted(reg.names()) == ["imported", "new", "old"]


def test_rename_across_shards_is_one_step(tmp_path) -> None:
    from groupmsg.state.files.registry import Registry
    from groupmsg.state.model import Group

    reg = Registry(tmp_path / "registry")
    reg.add(Group(name="a", kind="app", chat_id="c"))
    new = next(n for n in (f"b{i}" for i in range(100)) if reg._shard(n).path != reg._shard("a").path)
    reg.rename("a", new)
    assert reg.names() == [new] and reg.get(new).chat_id == "c" and not reg.journal_path.exists()


def test_malformed_rows_are_bad_input_not_a_crash(cli) -> None:
    r = cli("groups", "import", "-", "--format", "csv", input="name,kind,chat_id\nx,app,c1,extra\n")
    assert r.exit_code == 2 and r.stdout == "" and "more cells than columns" in r.stderr and "Traceback" not in r.stderr
    r = cli("groups", "import", "-", input='[{"name": "w", "webhook": "https://x/robot/send?access_token=t", "keywords": 3}]')
    assert r.exit_code == 2 and r.stdout == "" and "keywords must be a list" in r.stderr
