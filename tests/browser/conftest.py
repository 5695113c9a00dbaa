"""A real browser for the web inbox: Debian's Chromium, driven headless by Playwright.

Chromium comes from `GROUPMSG_CHROMIUM` (set by .ci/run) or /usr/bin/chromium. Without it (or
without the `playwright` package) these tests are skipped on a developer's machine and FAIL in CI:
CI installs both, so a missing browser there is a broken CI, not a reason to pass.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Read once, at collection: tests/conftest.py removes CI from every test's environment.
IN_CI = bool(os.environ.get("CI"))
CHROMIUM = os.environ.get("GROUPMSG_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("GROUPMSG_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "build" / "test-artifacts")
# The flags this machine needs (no GPU, no sandboxing as root, no calls home on a closed network).
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _unavailable(why: str) -> None:
    if IN_CI:
        pytest.fail(f"browser tests cannot run in CI: {why} (.ci/run installs chromium and playwright)", pytrace=False)
    pytest.skip(f"no browser here: {why}")


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in this thread
# while it is open, and later tests call asyncio.run().
@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[browser]')")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert errors == [], f"the page threw: {errors}"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
