"""Where groupmsg keeps its state and how it reaches DingTalk, from options and the environment.

Precedence: command-line option > environment variable > default. Credentials come only from the
environment, never from the command line (they would show in `ps` and shell history).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_OAPI_URL = "https://oapi.dingtalk.com"
DEFAULT_API_URL = "https://api.dingtalk.com"
DEFAULT_TIMEOUT = 60.0
DEFAULT_CONCURRENCY = 16  # requests in flight when sending to many groups

ENV_HOME = "GROUPMSG_HOME"
ENV_FLOWS = "GROUPMSG_FLOWS"
ENV_OAPI_URL = "GROUPMSG_OAPI_URL"
ENV_API_URL = "GROUPMSG_API_URL"
ENV_APP_KEY = "DINGTALK_APP_KEY"
ENV_APP_SECRET = "DINGTALK_APP_SECRET"
ENV_ROBOT_CODE = "DINGTALK_ROBOT_CODE"
# DingTalk's limits, overridable for a sandbox with shorter windows (or if DingTalk changes them).
ENV_WEBHOOK_RATE = "GROUPMSG_WEBHOOK_RATE"  # default 20/60: messages per seconds per robot
ENV_API_RATE = "GROUPMSG_API_RATE"  # default 20/1: requests per second per app and API
# Shared state (see state.open_state): unset keeps it in files in the home; redis://… puts it in Redis.
ENV_STORE = "GROUPMSG_STORE"
ENV_REDIS_PASSWORD = "GROUPMSG_REDIS_PASSWORD"  # for a store URL given without its password
ENV_REDIS_PREFIX = "GROUPMSG_REDIS_PREFIX"  # several teams (or test runs) in one Redis
ENV_REGISTRY_FILE = "GROUPMSG_REGISTRY_FILE"  # a registry kept in git, read-only, over the store's
ENV_RUNS_RETENTION = "GROUPMSG_RUNS_RETENTION_DAYS"  # finished runs kept this long (Redis: pruned as runs finish)
DEFAULT_REDIS_PREFIX = "groupmsg:"
DEFAULT_RUNS_RETENTION_DAYS = 30.0
ENV_WEBHOOK_BLOCK = "GROUPMSG_WEBHOOK_BLOCK"  # default 600: seconds DingTalk blocks a robot after 130101


@dataclass(frozen=True)
class Rate:
    """A rate limit: `count` requests per `per_s` seconds."""

    count: int
    per_s: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`20/60` → 20 requests per 60 s."""
        count, _, per = text.partition("/")
        rate = cls(int(count), float(per))
        if rate.count < 1 or rate.per_s <= 0:
            raise ValueError(text)
        return rate


def default_home() -> Path:
    """The platform's user data folder for groupmsg (e.g. ~/.local/share/groupmsg on Linux)."""
    if os.name == "posix" and not _is_macos():
        # The XDG rule, without importing platformdirs on the cron path.
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
        return Path(base) / "groupmsg"
    import platformdirs

    return Path(platformdirs.user_data_dir("groupmsg", appauthor=False))


def _path(value: Path | str | None) -> Path | None:
    return Path(value).expanduser() if value else None


def _is_macos() -> bool:
    import sys

    return sys.platform == "darwin"


@dataclass(frozen=True)
class Settings:
    home: Path
    flows_file: Path
    oapi_url: str = DEFAULT_OAPI_URL
    api_url: str = DEFAULT_API_URL
    app_key: str | None = None
    app_secret: str | None = field(default=None, repr=False)
    robot_code: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    webhook_rate: str = "20/60"
    api_rate: str = "20/1"
    store: str | None = None  # None: files in `home`; else a store URL (checked by state.open_state)
    redis_password: str | None = field(default=None, repr=False)
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    runs_retention_days: str = ""  # as given; parsed by retention_s()
    registry_file: Path | None = None  # groups read from a file (kept in git) before the store's
    webhook_block: str = "600"

    @classmethod
    def load(
        cls,
        *,
        home: Path | str | None = None,
        flows_file: Path | str | None = None,
        timeout: float | None = None,
        store: str | None = None,
        registry_file: Path | str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        env = os.environ if env is None else env
        home_path = Path(home or env.get(ENV_HOME) or default_home()).expanduser()
        flows = Path(flows_file or env.get(ENV_FLOWS) or "flows.yaml").expanduser()
        return cls(
            home=home_path,
            flows_file=flows,
            oapi_url=(env.get(ENV_OAPI_URL) or DEFAULT_OAPI_URL).rstrip("/"),
            api_url=(env.get(ENV_API_URL) or DEFAULT_API_URL).rstrip("/"),
            app_key=env.get(ENV_APP_KEY) or None,
            app_secret=env.get(ENV_APP_SECRET) or None,
            robot_code=env.get(ENV_ROBOT_CODE) or None,
            timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
            webhook_rate=env.get(ENV_WEBHOOK_RATE) or "20/60",
            api_rate=env.get(ENV_API_RATE) or "20/1",
            store=store or env.get(ENV_STORE) or None,
            redis_password=env.get(ENV_REDIS_PASSWORD) or None,
            redis_prefix=env.get(ENV_REDIS_PREFIX) or DEFAULT_REDIS_PREFIX,
            runs_retention_days=env.get(ENV_RUNS_RETENTION) or "",
            registry_file=_path(registry_file or env.get(ENV_REGISTRY_FILE)),
            webhook_block=env.get(ENV_WEBHOOK_BLOCK) or "600",
        )

    def rates(self) -> tuple[Rate, Rate]:
        """(per webhook robot, per app and API); ValueError if one is not COUNT/SECONDS."""
        return Rate.parse(self.webhook_rate), Rate.parse(self.api_rate)

    def retention_s(self) -> float:
        """How long finished runs are kept, in seconds; ValueError if the setting is not a number of days."""
        days = float(self.runs_retention_days) if self.runs_retention_days else DEFAULT_RUNS_RETENTION_DAYS
        if not days > 0:
            raise ValueError(self.runs_retention_days)
        return days * 86400

    def block_seconds(self) -> float:
        """How long DingTalk blocks a robot after 130101 / 410100; ValueError if not a number > 0."""
        seconds = float(self.webhook_block)
        if not seconds > 0:
            raise ValueError(self.webhook_block)
        return seconds
