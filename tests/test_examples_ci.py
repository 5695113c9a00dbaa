"""The CI, cron and systemd examples, run as written against the sandbox.

Each runs as its host would run it: GitHub's step (and the Action's steps, tests/github_actions.py),
GitLab's script, cron (its PATH, its folder, its `%` rule), systemd (EnvironmentFile=, specifiers,
`$$`, StandardInput=, a unit's folder /). The install lines run for real, with the repository's URL
pointed at a clone of this one; the machine's paths (/opt/groupmsg, /etc/groupmsg, /var/lib/…) are
mapped into the test's folder, and the example env file's placeholders get the sandbox's credentials.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from github_actions import run_action, substitute, workflow_step
from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import (
    DEMO_APP_KEY,
    DEMO_APP_SECRET,
    DEMO_CHAT_ID,
    DEMO_WEBHOOK_SECRET,
    DEMO_WEBHOOK_TOKEN,
)
from package_support import BIN, ROOT, cron_env, find_python, fresh_clone, version

pytestmark = pytest.mark.slow  # installs groupmsg and runs it in subprocesses

EXAMPLES = ROOT / "examples"
WEBHOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
GIT_URL = f"git+https://github.com/OWNER/groupmsg@v{version()}"
ARCHIVE_URL = f"https://github.com/OWNER/groupmsg/archive/refs/tags/v{version()}.tar.gz"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # systemd's for services


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> dict[str, str]:
    """This repository as OWNER/groupmsg would serve it: a clone tagged v<version>, and its release archive."""
    root = tmp_path_factory.mktemp("origin")
    repo = fresh_clone(root / "groupmsg")
    subprocess.run(["git", "tag", f"v{version()}"], cwd=repo, check=True)
    archive = root / f"v{version()}.tar.gz"
    subprocess.run(["git", "archive", "--format=tar.gz", f"--prefix=groupmsg-{version()}/", "-o", str(archive),
                    f"v{version()}"], cwd=repo, check=True)
    return {"repo": str(repo), GIT_URL: f"git+file://localhost{repo}@v{version()}", ARCHIVE_URL: f"file://{archive}"}


@pytest.fixture
def served():
    sandbox = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        yield sandbox, url


def python_image(tmp_path: Path) -> str:
    """What setup-python or the python:3.12 image give a job: a Python 3.12 with pip first on PATH."""
    venv = tmp_path / "python3.12"
    subprocess.run([find_python("3.12"), "-m", "venv", str(venv)], check=True)
    return f"{venv}/bin:/usr/bin:/bin"


def install_line(script: str, url: str, origin: dict[str, str]) -> str:
    assert url in script, f"the example installs from {url} (the version in src/groupmsg/__init__.py)"
    return script.replace(url, origin[url])


def bash(script: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-c", script], env=env, cwd=cwd, input=stdin, capture_output=True, text=True,
                          timeout=600)


# --- GitHub Actions -------------------------------------------------------------------------------


def test_github_actions_cli_step(served, origin, tmp_path, redis_shared) -> None:
    sandbox, url = served
    workflow = yaml.safe_load((EXAMPLES / "ci" / "github-actions.yml").read_text())
    step = next(s for s in workflow["jobs"]["deploy"]["steps"] if s.get("name") == "Notify DingTalk")
    setup = [s for s in workflow["jobs"]["deploy"]["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")]
    assert setup and setup[0]["with"]["python-version"] == "3.12"
    context = {"runner.temp": str(tmp_path / "run1"), "secrets.DINGTALK_WEBHOOK": WEBHOOK,
               "secrets.DINGTALK_SECRET": DEMO_WEBHOOK_SECRET, "secrets.GROUPMSG_STORE": redis_shared.url,
               "job.status": "success"}
    env = {**cron_env(tmp_path, PATH=python_image(tmp_path), GROUPMSG_OAPI_URL=url, GROUPMSG_API_URL=url),
           **{k: substitute(v, context) for k, v in step["env"].items()},
           "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "123", "GITHUB_RUN_ATTEMPT": "1",
           "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_SHA": "abc123", "GITHUB_ACTOR": "dev", "GROUPMSG_REDIS_PREFIX": redis_shared.prefix()}
    script = install_line(step["run"], GIT_URL, origin)
    p = bash(script, env, tmp_path)
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"sent to webhook \S+ \(webhook\)\n", p.stdout) and DEMO_WEBHOOK_TOKEN not in p.stdout + p.stderr
    [msg] = sandbox.messages()
    assert msg["msgtype"] == "actionCard" and msg["title"] == "Deploy success" and "acme/shop" in msg["content"]
    assert msg["message"]["buttons"] == [{"title": "View run", "url": "https://github.com/acme/shop/actions/runs/123"}]
    assert not (tmp_path / "run1" / "groupmsg" / "registry").exists()  # a one-shot send registers nothing
    # A re-run lands on another runner: a new, empty runner.temp. The key is in the team's Redis.
    p = bash(script, {**env, "GROUPMSG_HOME": str(tmp_path / "run2" / "groupmsg")}, tmp_path)
    assert p.returncode == 0 and "already sent" in p.stderr and len(sandbox.messages()) == 1
    # A wrong secret fails the step (exit 1) with DingTalk's code.
    p = bash(script, {**env, "DINGTALK_SECRET": "SEC" + "0" * 64, "GITHUB_RUN_ATTEMPT": "2"}, tmp_path)
    assert p.returncode == 1 and "310000" in p.stderr and len(sandbox.messages()) == 1


def test_github_action_example(served, origin, tmp_path) -> None:
    sandbox, url = served
    workflow = EXAMPLES / "ci" / "github-action.yml"
    step = workflow_step(workflow, "deploy", "OWNER/groupmsg@v0")
    context = {"secrets.DINGTALK_WEBHOOK": WEBHOOK, "secrets.DINGTALK_SECRET": DEMO_WEBHOOK_SECRET,
               "job.status": "success", "github.repository": "acme/shop", "github.sha": "abc123",
               "github.actor": "dev", "github.server_url": "https://github.com", "github.run_id": "99",
               "github.run_attempt": "1"}
    inputs = {k: substitute(v, context) for k, v in step["with"].items()}
    workspace, temp = tmp_path / "workspace", tmp_path / "temp"
    workspace.mkdir()
    temp.mkdir()
    env = cron_env(tmp_path, GROUPMSG_OAPI_URL=url, GROUPMSG_API_URL=url)
    r = run_action(Path(origin["repo"]), inputs, env=env, runner_temp=temp, workspace=workspace, context=context)
    assert r.code == 0 and r.outputs["status"] == "succeeded", r.stdout + r.stderr
    [card] = sandbox.messages()
    assert card["msgtype"] == "actionCard" and card["title"] == "Deploy success" and "acme/shop" in card["content"]
    assert card["body"]["actionCard"]["singleURL"] == "https://github.com/acme/shop/actions/runs/99"
    show = next(s for s in yaml.safe_load(workflow.read_text())["jobs"]["deploy"]["steps"] if s.get("name") == "Show the run")
    outputs = {f"steps.notify.outputs.{k}": v for k, v in r.outputs.items()}
    p = bash(substitute(show["run"], outputs), env, tmp_path)
    assert p.stdout == f"groupmsg run {r.outputs['run-id']}: succeeded\n"
    again = run_action(Path(origin["repo"]), inputs, env=env, runner_temp=temp, workspace=workspace, context=context)
    assert again.code == 0 and again.outputs["duplicate"] == "true" and len(sandbox.messages()) == 1


# --- GitLab CI ------------------------------------------------------------------------------------


def test_gitlab_ci_job(served, origin, tmp_path) -> None:
    sandbox, url = served
    job = yaml.safe_load((EXAMPLES / "ci" / "gitlab-ci.yml").read_text())["notify-dingtalk"]
    assert job["image"] == "python:3.12-slim"
    project = tmp_path / "project"
    (project / "ci").mkdir(parents=True)
    shutil.copy(EXAMPLES / "dingtalk-groups.json", project / "ci" / "dingtalk-groups.json")  # kept in git
    env = {**cron_env(tmp_path, PATH=python_image(tmp_path), GROUPMSG_OAPI_URL=url, GROUPMSG_API_URL=url),
           "CI_PROJECT_DIR": str(project), "DEPLOYS_WEBHOOK": WEBHOOK, "DEPLOYS_SECRET": DEMO_WEBHOOK_SECRET,
           "CI_PIPELINE_ID": "77", "CI_JOB_ID": "5", "CI_PROJECT_PATH": "acme/shop", "CI_COMMIT_SHORT_SHA": "abc"}
    env.update({k: v.replace("$CI_PROJECT_DIR", str(project)) for k, v in job["variables"].items()})
    p = bash(install_line("\n".join(job["script"]), ARCHIVE_URL, origin), env, project)
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith("sent to deploys (webhook)\n") and "Error" not in p.stderr
    assert [m["content"] for m in sandbox.messages()] == ["Pipeline 77 of acme/shop finished (abc)"]


# --- cron and systemd -----------------------------------------------------------------------------


@pytest.fixture
def host(tmp_path, served) -> dict[str, Path]:
    """The machine the examples describe, mapped into tmp_path: /etc/groupmsg with the example env file
    (its placeholders given the sandbox's credentials), the registry file and flows.yaml; the report
    and roster files; groupmsg installed at what /opt/groupmsg stands for."""
    _, url = served
    paths = {"/opt/groupmsg": BIN.parent, "/etc/groupmsg": tmp_path / "etc" / "groupmsg",
             "/var/lib/groupmsg": tmp_path / "var" / "lib" / "groupmsg", "/var/lib/report": tmp_path / "report",
             "/etc/oncall": tmp_path / "oncall", "home": tmp_path / "home"}
    for key, path in paths.items():
        if key != "/opt/groupmsg":
            path.mkdir(parents=True)
    etc = paths["/etc/groupmsg"]
    values = {"DINGTALK_APP_KEY": DEMO_APP_KEY, "DINGTALK_APP_SECRET": DEMO_APP_SECRET}
    lines = []
    for line in localize((EXAMPLES / "cron" / "env").read_text(), paths).splitlines():
        name, value = line.split("=", 1)[0], None
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S+", line), f"not a plain NAME=value line: {line!r}"
            value = values.get(name) or (WEBHOOK if name.endswith("_WEBHOOK") else None)
            value = value or (DEMO_WEBHOOK_SECRET if name.endswith("_SECRET") else None)
        lines.append(f"{name}={value}" if value else line)
    lines += [f"GROUPMSG_OAPI_URL={url}", f"GROUPMSG_API_URL={url}"]  # the sandbox stands in for DingTalk
    (etc / "env").write_text("\n".join(lines) + "\n")
    registry = (EXAMPLES / "dingtalk-groups.json").read_text()
    placeholder = next(g["chat_id"] for g in json.loads(registry) if g.get("chat_id"))
    (etc / "dingtalk-groups.json").write_text(registry.replace(placeholder, DEMO_CHAT_ID))  # your chat id
    shutil.copy(ROOT / "flows.yaml", etc / "flows.yaml")
    (paths["/etc/oncall"] / "today.txt").write_text("今日值班: 张三 13800000000\n")
    (paths["/etc/oncall"] / "weekly.txt").write_text("本周发布 3 次")
    (paths["/var/lib/report"] / "nightly.md").write_text("## 夜间报告\n- 订单: 1024\n")
    return paths


def localize(text: str, paths: dict[str, Path]) -> str:
    for prefix, path in sorted(paths.items(), key=lambda kv: -len(kv[0])):
        if prefix.startswith("/"):
            text = text.replace(prefix, str(path))
    return text


def cron_command(field: str) -> tuple[str, str]:
    """What cron runs for a crontab command field: a bare % ends the command (the rest is stdin, each
    further % a new line); \\% is a %."""
    command, stdin, escaped = [], None, False
    for ch in field:
        if escaped:
            (command if stdin is None else stdin).append(ch if ch == "%" else "\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            if stdin is None:
                stdin = []
            else:
                stdin.append("\n")
        else:
            (command if stdin is None else stdin).append(ch)
    return "".join(command), "".join(stdin or [])


def crontab(host) -> tuple[dict[str, str], list[str]]:
    env, jobs = {}, []
    for line in localize((EXAMPLES / "cron" / "crontab").read_text(), host).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if re.match(r"^[A-Z_]+=", line):
            name, value = line.split("=", 1)
            env[name] = value
        else:
            jobs.append(line.split(None, 5)[5])
    return env, jobs


def run_cron_job(field: str, host, crontab_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command, stdin = cron_command(field)
    env = {"HOME": str(host["home"]), "LOGNAME": "ops", "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", **crontab_env}
    return subprocess.run([env["SHELL"], "-c", command], env=env, cwd=host["home"], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_crontab(served, host) -> None:
    sandbox, _ = served
    crontab_env, (roster, weekly) = crontab(host)
    assert crontab_env == {"SHELL": "/bin/sh"}
    for _ in range(2):  # fired twice the same day (or by two hosts): one roster
        p = run_cron_job(roster, host, crontab_env)
        assert (p.returncode, p.stdout, p.stderr) == (0, "", "")  # --quiet: cron mails nothing on success
    p = run_cron_job(weekly, host, crontab_env)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    assert [(m["channel"], m["content"]) for m in sandbox.messages()] == [
        ("webhook", "今日值班: 张三 13800000000\n"), ("chat", "本周发布 3 次")]
    today = subprocess.run(["date", "+%F"], capture_output=True, text=True).stdout.strip()
    env_file = host["/etc/groupmsg"] / "env"
    p = subprocess.run(["sh", "-c", f"set -a && . {env_file} && set +a && {BIN}/groupmsg send -g 值班群 "
                        f"--dedupe-key roster-{today} again"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert p.returncode == 0 and "already sent" in p.stderr, p.stderr  # the key is the day's date


def test_the_crontab_without_its_env_file_says_what_is_missing(served, host) -> None:
    crontab_env, (roster, _) = crontab(host)
    (host["/etc/groupmsg"] / "env").write_text("")
    p = run_cron_job(roster, host, crontab_env)
    assert p.returncode == 2 and p.stdout == "" and "no group named '值班群'" in p.stderr  # mailed by cron


def systemd_exec(line: str, env: dict[str, str]) -> list[str]:
    """ExecStart= as systemd reads it: specifiers (%% is %; %i and the rest fail here: this is no
    template), $$ is $, $NAME / ${NAME} from the unit's environment, then its quoting."""
    bad = re.findall(r"%[^%]", line.replace("%%", ""))
    assert not bad, f"specifiers {bad} in ExecStart= (e.g. %i is empty in a unit that is not a template)"
    line = line.replace("%%", "%")
    line = re.sub(r"\$(\$|\{(\w+)\}|(\w+))",
                  lambda m: "$" if m.group(1) == "$" else env.get(m.group(2) or m.group(3), ""), line)
    return shlex.split(line)


def unit(path: Path, host) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in localize(path.read_text(), host).splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_systemd_service_and_timer(served, host) -> None:
    sandbox, _ = served
    service = unit(EXAMPLES / "systemd" / "groupmsg-report.service", host)
    timer = unit(EXAMPLES / "systemd" / "groupmsg-report.timer", host)
    assert timer["Unit"] == ["groupmsg-report.service"] and timer["Persistent"] == ["true"]
    assert timer["OnCalendar"] == ["*-*-* 23:30:00"] and service["Type"] == ["oneshot"]
    env = {"PATH": SYSTEM_PATH, "HOME": str(host["home"]), "LANG": "C.UTF-8"}
    [env_file] = service["EnvironmentFile"]
    for line in Path(env_file.lstrip("-")).read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            env[name] = value
    [stdin] = [s.removeprefix("file:") for s in service["StandardInput"]]
    [exec_start] = service["ExecStart"]
    argv = systemd_exec(exec_start, env)
    for _ in range(2):  # the timer fires again (Persistent=true after a reboot, a restart by hand): one report
        with open(stdin) as fh:
            p = subprocess.run(argv, env=env, cwd="/", stdin=fh, capture_output=True, text=True, timeout=120)
        assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    [msg] = sandbox.messages()
    assert msg["msgtype"] == "markdown" and msg["title"] == "夜间报告" and "订单: 1024" in msg["content"]
    # flows commands under the unit's environment, from its folder (/): GROUPMSG_FLOWS is absolute
    p = subprocess.run([f"{BIN}/groupmsg", "forms", "list"], env=env, cwd="/", capture_output=True, text=True)
    assert p.returncode == 0 and "群消息内容录入表" in p.stdout, p.stderr


def test_crontab_line_for_scheduled_flows(served, host) -> None:
    sandbox, _ = served
    lines = [x for x in localize((EXAMPLES / "cron" / "crontab-flows").read_text(), host).splitlines()
             if x and not x.startswith("#")]
    [line] = lines
    *when, command = line.split(None, 5)
    assert when == ["*"] * 5  # every minute
    shutil.copy(EXAMPLES / "oncall-schedule.yaml", host["/etc/groupmsg"] / "flows.yaml")
    for now in ("2027-01-04T08:59+08:00", "2027-01-04T09:00+08:00", "2027-01-04T09:01+08:00"):
        p = run_cron_job(f"{command} --now {now}", host, {"SHELL": "/bin/sh"})
        assert (p.returncode, p.stdout, p.stderr) == (0, "", "")  # --quiet: cron mails nothing on success
    assert [m["content"] for m in sandbox.messages()] == [
        "2027-01-04 还没有人值班：请在值班表里补上（groupmsg submit 值班表）"
    ]


def test_systemd_timer_for_scheduled_flows(served, host) -> None:
    sandbox, _ = served
    timer = (EXAMPLES / "systemd" / "groupmsg-tick.timer").read_text()
    assert re.search(r"^OnCalendar=\*-\*-\* \*:\*:00$", timer, re.M)  # every minute
    service = unit(EXAMPLES / "systemd" / "groupmsg-tick.service", host)
    env = {"PATH": SYSTEM_PATH, "HOME": str(host["home"]), "LANG": "C.UTF-8"}
    for line in Path(service["EnvironmentFile"][0]).read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            env[name] = value
    env.update(dict(e.split("=", 1) for e in service.get("Environment", [])))
    argv = systemd_exec(service["ExecStart"][0], env)
    shutil.copy(EXAMPLES / "oncall-schedule.yaml", host["/etc/groupmsg"] / "flows.yaml")
    for now in ("2027-01-04T08:00+08:00", "2027-01-05T09:00+08:00"):
        p = subprocess.run([*argv, "--now", now], env=env, cwd="/", capture_output=True, text=True, timeout=60)
        assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    assert len(sandbox.messages()) == 1 and sandbox.messages()[0]["content"].startswith("2027-01-05 还没有人值班")
