"""The store-parametrised behaviour suite: every test here runs against each backend — `files`
(TinyDB in a folder) and `redis` (a real redis-server, one key prefix per test) — through the
Protocols of `groupmsg.state.base`, so a backend proves itself by passing them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from state_support import Spec


@pytest.fixture(params=["files", "redis"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Spec:
    if request.param == "files":
        return Spec("files", str(tmp_path / "state"))
    shared = request.getfixturevalue("redis_shared")
    return Spec("redis", shared.url, shared.prefix())


@pytest.fixture
def state(spec: Spec) -> Iterator[Any]:
    st = spec.open()
    yield st
    st.close()
