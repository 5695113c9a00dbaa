"""Options shared by every command, and the App built from them (once per process)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from ..app import App


@dataclass
class State:
    home: str | None = None
    flows: str | None = None
    debug: bool = False
    quiet: bool = False
    timeout: float | None = None
    # Tests and `groupmsg demo` route DingTalk traffic to an in-process sandbox through this.
    transport: httpx.BaseTransport | None = None
    _app: App | None = None

    def app(self) -> App:
        if self._app is None:
            from ..app import App
            from ..settings import Settings

            settings = Settings.load(home=self.home, flows_file=self.flows, timeout=self.timeout)
            self._app = App(settings, transport=self.transport)
        return self._app

    def reset(self) -> None:
        if self._app is not None:
            self._app.close()
        self._app = None


state = State()
