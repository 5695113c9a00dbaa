"""How the store-parametrised tests open a state, here and in other processes (simulated hosts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Spec:
    """How to open the same state again (in another process: a "host")."""

    kind: str  # files | redis
    where: str  # a folder, or a Redis URL
    prefix: str = ""

    def open(self) -> Any:
        if self.kind == "files":
            from groupmsg.state.files import FileState

            return FileState(Path(self.where))
        from groupmsg.state.redis import RedisState

        return RedisState(self.where, prefix=self.prefix)


def age_dedupe_claim(state: Any, key: str, seconds: float) -> None:
    """Make the claim of dedupe `key` look `seconds` older (as if claimed that long ago)."""
    if hasattr(state, "home"):  # files
        import json

        path = state.dedupe._store(key).path
        data = json.loads(path.read_text())
        for doc in data["keys"].values():
            doc["at"] -= seconds
        path.write_text(json.dumps(data))
        return
    r = state.conn.client
    name = state.conn.key("dedupe", key)
    holder, at = r.get(name).split("|")
    r.set(name, f"{holder}|{int(at) - int(seconds * 1000)}", keepttl=True)
