"""One invocation's session: the global options, its output, and the App built from them.

It travels in Typer's context (`ctx.obj`), created by `main()`; there is no module-level state, so
tests call `main(argv, transport=…)` as many times as they like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .output import Output

if TYPE_CHECKING:
    import httpx
    import typer

    from ..app import App
    from ..app.types import SendOptions


@dataclass
class Session:
    # Tests and `groupmsg demo` route DingTalk traffic to an in-process sandbox through this.
    transport: httpx.BaseTransport | None = None
    home: str | None = None
    store: str | None = None
    flows: str | None = None
    registry_file: str | None = None
    debug: bool = False
    output: Output = field(default_factory=Output)
    json: bool = False  # --json was asked for: every failure prints a JSON document on stdout too
    _app: App | None = None

    @property
    def app(self) -> App:
        """Built on first use, from the global options and the environment."""
        if self._app is None:
            from ..app import App
            from ..settings import Settings

            self._app = App(
                Settings.load(home=self.home, flows_file=self.flows, store=self.store, registry_file=self.registry_file),
                transport=self.transport,
                notify=self.output.note,
            )
        return self._app

    def send_options(self, **choices: Any) -> SendOptions:
        """How a command sends (its --timeout, --no-wait, … given as `choices`), reporting waits
        and attempts through this session's output."""
        from ..app.types import SendOptions

        return SendOptions(on_wait=self.output.waiting, on_attempt=self.output.attempt, **choices)

    def close(self) -> None:
        self.output.close()
        if self._app is not None:
            self._app.close()
            self._app = None


def session(ctx: typer.Context) -> Session:
    obj = ctx.find_object(Session)
    assert obj is not None, "commands run under main(), which creates the session"
    return obj
