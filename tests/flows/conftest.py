"""Fixtures for forms and flows: flows files written per test, and an App wired to the sandbox."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flowtest_support import SEED_FLOWS

from groupmsg.app import App
from groupmsg.settings import Settings


@pytest.fixture
def write_flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Write a flows file (dedented) and make it the one GROUPMSG_FLOWS points at."""

    def write(text: str, name: str = "flows.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        monkeypatch.setenv("GROUPMSG_FLOWS", str(path))
        return path

    return write


@pytest.fixture
def seed_flows(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's own flows.yaml (the seed scenario)."""
    monkeypatch.setenv("GROUPMSG_FLOWS", str(SEED_FLOWS))
    return SEED_FLOWS


@pytest.fixture
def make_app(home: Path, tmp_path: Path, sandbox, creds) -> Iterator[Callable[..., App]]:
    """Apps on the per-test home, talking to the in-process sandbox (or `transport`); their flows
    file is the one `write_flows` writes (or GROUPMSG_FLOWS when a test set it first)."""
    made: list[App] = []

    def make(transport: Any = None) -> App:
        flows = os.environ.get("GROUPMSG_FLOWS") or tmp_path / "flows.yaml"
        settings = Settings.load(home=home, flows_file=flows, timeout=5)
        made.append(App(settings, transport=transport or sandbox.transport()))
        return made[-1]

    yield make
    for application in made:
        application.close()


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()
