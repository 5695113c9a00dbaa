"""Helpers for the tests of groupmsg as users install it: the built wheel and sdist, the Pythons to
install them on, a copy of the repository as a fresh clone would have it, and a shell like cron's."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SUPPORTED = ("3.11", "3.12", "3.13")
CRON_PATH = "/usr/bin:/bin"  # what cron gives a job (and a container's minimal shell)
DIST_ENV = "GROUPMSG_TEST_DIST"  # .ci/run builds the wheel and sdist once and points the tests here


def version() -> str:
    from groupmsg import __version__

    return __version__


def find_python(minor: str) -> str:
    """The interpreter for Python `minor` (e.g. "3.12"): pyenv's versions, then PATH. A missing one fails."""
    roots = [os.environ.get("PYENV_ROOT", ""), os.path.expanduser("~/.pyenv"), "/root/.pyenv"]
    pyenv = shutil.which("pyenv")
    if pyenv:
        roots.insert(0, subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip())
    for root in filter(None, roots):
        found = sorted(glob.glob(f"{root}/versions/{minor}.*/bin/python{minor}"))
        if found:
            return found[-1]
    on_path = shutil.which(f"python{minor}")
    if on_path:
        return on_path
    pytest.fail(f"Python {minor} is not installed (looked in pyenv's versions and on PATH): groupmsg supports "
                f"{', '.join(SUPPORTED)} and each is tested; install it (pyenv install {minor})")


def build(outdir: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "build", "--outdir", str(outdir), str(ROOT)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]


def dist(tmp_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, sdist): the ones .ci/run built, or built now with `python -m build`."""
    given = os.environ.get(DIST_ENV)
    folder = Path(given) if given else tmp_factory.mktemp("dist")
    if not given:
        build(folder)
    wheels = sorted(folder.glob(f"groupmsg-{version()}-py3-none-any.whl"))
    sdists = sorted(folder.glob(f"groupmsg-{version()}.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, f"expected one wheel and one sdist of {version()} in {folder}"
    return wheels[0], sdists[0]


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


def fresh_clone(dest: Path) -> Path:
    """The repository as `git clone` gives it: the tracked (and new, not ignored) files of this work
    tree, committed to a new repository at `dest`, so a test can `git clone` it like a user would."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "snapshot"]):
        subprocess.run([*git, *args], cwd=dest, check=True, capture_output=True)
    return dest


def cron_env(home: Path, **extra: str) -> dict[str, str]:
    """A shell with nothing of ours: no venv active, cron's PATH, only HOME and what is given."""
    env = {"HOME": str(home), "PATH": CRON_PATH, "LANG": "C.UTF-8", "SHELL": "/bin/sh", "LOGNAME": "root"}
    # pip's configuration of this machine (its package mirror) is the machine's, not ours: keep it.
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
    env.update(extra)
    return env
