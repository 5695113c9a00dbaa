"""The README's Install section, followed by a new user in a fresh container-like shell: no venv
active, cron's PATH (/usr/bin:/bin, so the system's python3), an empty HOME. Only the repository's
URL (a clone of this work tree) and /opt (a folder of the test's) are swapped in; pipx is on PATH
as `apt install pipx` would put it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_WEBHOOK_SECRET, DEMO_WEBHOOK_TOKEN
from package_support import BIN, ROOT, cron_env, fresh_clone, version

pytestmark = pytest.mark.slow  # clones, venvs, builds and installs

REPO_URL = "https://github.com/OWNER/groupmsg.git"


def install_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Install\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


@pytest.fixture
def user(tmp_path) -> dict[str, object]:
    origin = fresh_clone(tmp_path / "origin" / "groupmsg.git")  # cloned into ./groupmsg, as from GitHub
    home, opt, tools = tmp_path / "home", tmp_path / "opt", tmp_path / "usr-bin"
    for d in (home, opt, tools):
        d.mkdir()
    (tools / "pipx").symlink_to(BIN / "pipx")
    env = cron_env(home, PATH=f"/usr/bin:/bin:{tools}", PIPX_HOME=str(home / ".local/pipx"),
                   PIPX_BIN_DIR=str(home / ".local/bin"), PIPX_MAN_DIR=str(home / ".local/man"))
    return {"home": home, "env": env, "swap": {REPO_URL: str(origin), "/opt/groupmsg": str(opt / "groupmsg")}}


def follow(block: str, user) -> subprocess.CompletedProcess[str]:
    for text, local in user["swap"].items():
        block = block.replace(text, local)
    p = subprocess.run(["sh", "-e", "-c", block], env=user["env"], cwd=user["home"], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, f"{block}\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture
def served():
    sandbox = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        yield sandbox, url


def sends(groupmsg: Path, served, tmp_path: Path) -> None:
    sandbox, url = served
    env = cron_env(tmp_path, GROUPMSG_OAPI_URL=url, GROUPMSG_API_URL=url, ROBOT_SECRET=DEMO_WEBHOOK_SECRET)
    hook = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
    p = subprocess.run([str(groupmsg), "send", "--webhook", hook, "--secret-env", "ROBOT_SECRET", "装好了"], env=env,
                       cwd="/", capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert sandbox.messages()[-1]["content"] == "装好了"


def test_the_install_section_has_the_blocks_this_test_follows() -> None:
    pipx, server, wheel, completion = install_blocks()
    assert "pipx install ./groupmsg" in pipx and "/opt/groupmsg/bin/pip install" in server
    assert "python -m build" in wheel and f"dist/groupmsg-{version()}-py3-none-any.whl" in wheel
    assert "--install-completion" in completion


def test_pipx_from_a_clone_then_completion(user, served, tmp_path) -> None:
    pipx, _, _, completion = install_blocks()
    follow(pipx, user)
    groupmsg = user["home"] / ".local" / "bin" / "groupmsg"
    p = subprocess.run([str(groupmsg), "--version"], env=user["env"], capture_output=True, text=True)
    assert p.stdout == f"groupmsg {version()}\n"
    sends(groupmsg, served, tmp_path)
    # completion, installed as the README says from bash, completes a command name
    env = {**user["env"], "PATH": f"{groupmsg.parent}:{user['env']['PATH']}"}
    p = subprocess.run(["bash", "-c", completion.split("#")[0]], env=env, cwd=user["home"], capture_output=True,
                       text=True)
    assert p.returncode == 0 and "completion installed" in p.stdout, p.stderr
    probe = ('source ~/.bashrc; COMP_WORDS=(groupmsg se); COMP_CWORD=1; _groupmsg_completion groupmsg; '
             'printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "-c", probe], env=env, cwd=user["home"], capture_output=True, text=True)
    assert "send" in p.stdout.split(), p.stdout + p.stderr


def test_a_server_venv_from_a_clone(user, served, tmp_path) -> None:
    _, server, _, _ = install_blocks()
    p = follow(server, user)
    assert p.stdout.endswith(f"groupmsg {version()}\n")
    sends(Path(user["swap"]["/opt/groupmsg"]) / "bin" / "groupmsg", served, tmp_path)


def test_a_wheel_built_from_a_clone(user, served, tmp_path) -> None:
    pipx, _, wheel, _ = install_blocks()
    follow(pipx.splitlines()[0], user)  # the clone (git clone …)
    follow(wheel, user)
    assert (user["home"] / "groupmsg" / "dist" / f"groupmsg-{version()}.tar.gz").exists()
    sends(user["home"] / ".local" / "bin" / "groupmsg", served, tmp_path)
