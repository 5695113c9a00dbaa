"""groupmsg as users install it: the wheel and sdist that `python -m build` makes, installed (not
editable) into fresh venvs on every supported Python and with pipx, run from a folder that is not the
repository, in a shell with cron's PATH: --version, the demo, and a send to the sandbox."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

import pytest

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_WEBHOOK_SECRET, DEMO_WEBHOOK_TOKEN
from package_support import (
    BIN,
    ROOT,
    SUPPORTED,
    cron_env,
    dist,
    find_python,
    fresh_clone,
    version,
    wheel_names,
)

pytestmark = pytest.mark.slow  # builds, venvs and installs

WEBHOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    return dist(tmp_path_factory)


@pytest.fixture
def served():
    sandbox = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        yield sandbox, url


def run(argv: list[str], env: dict[str, str], cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=600, **kw)


def check_installed(groupmsg: Path, tmp_path: Path, served, env: dict[str, str]) -> None:
    """--version, the demo and a signed webhook send, from a folder with no flows.yaml in it."""
    sandbox, url = served
    work = tmp_path / "elsewhere"
    work.mkdir(exist_ok=True)
    env = {**env, "GROUPMSG_HOME": str(tmp_path / "data"), "NO_COLOR": "1"}
    p = run([str(groupmsg), "--version"], env, work)
    assert (p.returncode, p.stdout, p.stderr) == (0, f"groupmsg {version()}\n", "")
    p = run([str(groupmsg), "demo"], env, work)
    assert p.returncode == 0, p.stderr
    assert "flow 发送群消息: succeeded" in p.stdout  # the bundled flows.yaml, from the wheel
    assert "[chat] chat" in p.stdout and "[webhook] demo-signed  markdown" in p.stdout
    env = {**env, "GROUPMSG_OAPI_URL": url, "GROUPMSG_API_URL": url, "ROBOT_SECRET": DEMO_WEBHOOK_SECRET}
    p = run([str(groupmsg), "groups", "add", "告警", "--webhook", WEBHOOK, "--secret-env", "ROBOT_SECRET"], env, work)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    p = run([str(groupmsg), "send", "-g", "告警", "来自安装包"], env, work)
    assert (p.returncode, p.stdout, p.stderr) == (0, "sent to 告警 (webhook)\n", "")
    assert [m["content"] for m in sandbox.messages()] == ["来自安装包"]


def test_the_wheel_holds_every_file_of_the_package(built) -> None:
    wheel, _ = built
    names = wheel_names(wheel)
    source = ROOT / "src" / "groupmsg"
    expected = {
        f"groupmsg/{p.relative_to(source).as_posix()}"
        for p in source.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo")
    }
    assert expected - names == set(), "files of src/groupmsg missing from the wheel (package-data in pyproject.toml)"
    assert {"groupmsg/data/flows.yaml", "groupmsg/py.typed"} <= names
    assert (ROOT / "flows.yaml").read_bytes() == (source / "data" / "flows.yaml").read_bytes()
    info = f"groupmsg-{version()}.dist-info"
    assert f"{info}/entry_points.txt" in names and not any(n.startswith("tests/") for n in names)
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        metadata = z.read(f"{info}/METADATA").decode()
        entry_points = z.read(f"{info}/entry_points.txt").decode()
    assert f"Version: {version()}\n" in metadata and "Requires-Python: >=3.11" in metadata
    assert "groupmsg = groupmsg.cli:main" in entry_points


def test_the_sdist_holds_what_a_release_needs(built) -> None:
    _, sdist = built
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "flows.yaml", "action.yml",
                   "src/groupmsg/data/flows.yaml", "examples/ci/github-actions.yml", "examples/cron/crontab",
                   "docs/commands.md"):
        assert needed in names, needed


@pytest.mark.parametrize("minor", SUPPORTED)
def test_the_wheel_installs_and_works_on_each_python(built, served, tmp_path, minor) -> None:
    wheel, _ = built
    python = find_python(minor)
    venv = tmp_path / "venv"
    env = cron_env(tmp_path)
    p = run([python, "-m", "venv", str(venv)], env, tmp_path)
    assert p.returncode == 0, p.stderr
    p = run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], env, tmp_path)
    assert p.returncode == 0, p.stderr
    p = run([str(venv / "bin" / "python"), "-c", "import sys, groupmsg; print(sys.version_info[:2], groupmsg.__file__)"],
            env, tmp_path)
    assert p.stdout.startswith(f"({minor.replace('.', ', ')})") and "site-packages" in p.stdout, p.stdout
    check_installed(venv / "bin" / "groupmsg", tmp_path, served, env)


def pipx_env(tmp_path: Path) -> dict[str, str]:
    pipx = BIN / "pipx"
    assert pipx.exists(), "pipx is missing: install the test extra (pip install -e '.[test]')"
    return cron_env(tmp_path, PATH=f"{BIN}:/usr/bin:/bin", PIPX_HOME=str(tmp_path / "pipx"),
                    PIPX_BIN_DIR=str(tmp_path / "bin"), PIPX_MAN_DIR=str(tmp_path / "man"))


def test_pipx_install_of_the_wheel(built, served, tmp_path) -> None:
    wheel, _ = built
    env = pipx_env(tmp_path)
    p = run(["pipx", "install", "--python", find_python("3.11"), str(wheel)], env, tmp_path)
    assert p.returncode == 0 and "groupmsg" in p.stdout, p.stdout + p.stderr
    check_installed(tmp_path / "bin" / "groupmsg", tmp_path, served, cron_env(tmp_path))


def test_pipx_install_from_a_clone(served, tmp_path) -> None:
    origin = fresh_clone(tmp_path / "origin")
    env = pipx_env(tmp_path)
    p = run(["git", "clone", "-q", str(origin), "groupmsg"], env, tmp_path)
    assert p.returncode == 0, p.stderr
    p = run(["pipx", "install", "--python", find_python("3.12"), "./groupmsg"], env, tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    check_installed(tmp_path / "bin" / "groupmsg", tmp_path, served, cron_env(tmp_path))
