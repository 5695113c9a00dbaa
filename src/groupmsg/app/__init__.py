"""The application: wiring (settings → state → DingTalk client → services) and the use cases the
command line calls, each taking plain values and returning results.

    app = App(Settings.load(), transport=sandbox.transport())   # tests inject a transport here
    app.messages.send(["运维告警"], Message(text="hi"), SendOptions())

Everything is built on first use, so a one-shot `send` from cron opens only what it touches.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from ..delivery import DeliveryService
    from ..dingtalk.client import DingTalkClient
    from ..groups import Directory
    from ..settings import Settings
    from ..state.base import RegistryStore, State
    from .forms import FormsService
    from .groups import GroupsService
    from .messages import MessagesService
    from .runs import RunsService
    from .sandbox import SandboxControl
    from .store import CopyReport


class App:
    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        state: State | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.notify = notify  # diagnostics for stderr (a damaged cache rebuilt, …)
        if state is not None:
            self.__dict__["state"] = state

    # Wiring --------------------------------------------------------------------------------
    @cached_property
    def state(self) -> State:
        from ..state import open_state

        if self.settings.registry_file is None:
            return open_state(self.settings, notify=self.notify)
        from .transfer import loads  # a registry file is read by `groups import`'s own rules

        return open_state(self.settings, notify=self.notify, registry_parser=loads)

    @cached_property
    def client(self) -> DingTalkClient:
        from ..dingtalk.client import DingTalkClient

        s = self.settings
        return DingTalkClient(
            oapi_url=s.oapi_url,
            api_url=s.api_url,
            app_key=s.app_key,
            app_secret=s.app_secret,
            robot_code=s.robot_code,
            tokens=self.state.tokens,
            transport=self.transport,
            timeout=s.timeout,
        )

    @cached_property
    def directory(self) -> Directory:
        from ..groups import Directory

        return Directory(self.state.registry, self.client)

    @cached_property
    def delivery(self) -> DeliveryService:
        from ..delivery import DeliveryService
        from ..errors import ConfigError
        from ..settings import ENV_API_RATE, ENV_WEBHOOK_BLOCK, ENV_WEBHOOK_RATE

        try:
            webhook_rate, api_rate = self.settings.rates()
        except ValueError:
            raise ConfigError(f"{ENV_WEBHOOK_RATE} / {ENV_API_RATE} must look like COUNT/SECONDS, e.g. 20/60") from None
        try:
            block_s = self.settings.block_seconds()
        except ValueError:
            raise ConfigError(f"{ENV_WEBHOOK_BLOCK} must be a number of seconds, e.g. 600") from None
        state = self.state
        return DeliveryService(
            client=self.client,
            registry=state.registry,
            runs=state.runs,
            dedupe=lambda: state.dedupe,
            limits=state.limits,
            webhook_rate=webhook_rate,
            api_rate=api_rate,
            timeout=self.settings.timeout,
            webhook_block_s=block_s,
        )

    # Use cases -----------------------------------------------------------------------------
    @cached_property
    def groups(self) -> GroupsService:
        from .groups import GroupsService

        return GroupsService(self.state.registry, lambda: self.directory, lambda: self.delivery)

    @cached_property
    def messages(self) -> MessagesService:
        from .messages import MessagesService

        return MessagesService(self.directory, self.delivery)

    @cached_property
    def forms(self) -> FormsService:
        from .forms import FormsService

        return FormsService(self)

    @cached_property
    def runs(self) -> RunsService:
        from .runs import RunsService

        return RunsService(self.state.runs, lambda: self.delivery, lambda: self.forms)

    def sandbox(self, url: str | None = None, token: str | None = None) -> SandboxControl:
        """A running sandbox's controls: at `url`, else the one GROUPMSG_OAPI_URL points at, else
        the default address."""
        from ..settings import DEFAULT_OAPI_URL
        from .sandbox import DEFAULT_URL, SandboxControl

        if not url:
            url = self.settings.oapi_url if self.settings.oapi_url != DEFAULT_OAPI_URL else DEFAULT_URL

        def registry() -> RegistryStore | None:
            return self.state.registry

        return SandboxControl(url, token, registry)

    def paths(self) -> dict[str, str]:
        """Where the state lives and which endpoints are used (for `groupmsg paths`)."""
        s = self.settings
        return {
            "home": str(s.home),
            **self.state.describe(),
            "flows": str(s.flows_file.resolve()),
            "oapi_url": s.oapi_url,
            "api_url": s.api_url,
        }

    def retention_days(self) -> float:
        """How long finished runs are kept (GROUPMSG_RUNS_RETENTION_DAYS, default 30)."""
        from ..state import retention_s

        return retention_s(self.settings) / 86400

    def copy_store(self, source: str, target: str, *, replace: bool = False) -> CopyReport:
        """Copy the registry and records from one store to another (`groupmsg store copy`)."""
        from .store import copy

        return copy(self.settings, source, target, replace_groups=replace)

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()
        if "state" in self.__dict__:
            self.state.close()
