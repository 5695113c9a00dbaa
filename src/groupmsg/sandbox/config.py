"""Configuration dataclasses for the DingTalk sandbox.

Everything here is plain data: no I/O, no heavy imports.  Section numbers
(§n) refer to ``docs/dingtalk-api.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

#: Every fault kind the sandbox knows how to inject.
FAULT_KINDS: tuple[str, ...] = (
    "latency",  # extra delay, then a normal answer
    "http500",  # HTTP 500, request not processed
    "timeout",  # no answer at all (in-process: httpx.ReadTimeout)
    "busy",  # oapi errcode -1 系统繁忙 / api HTTP 429 system.busy
    "qps",  # oapi errcode 90018 / api HTTP 403 QpsLimitForAppkeyAndApi
    "token_expired",  # the caller's token is invalidated, 40014 / InvalidAuthentication
    "lost_response",  # request processed and recorded, then HTTP 500
    # A gateway in front of DingTalk (§8.3): an HTML page, not JSON.
    "http429",  # 429 + Retry-After, request not processed
    "http502",  # 502, request not processed
    "http503",  # 503 + Retry-After, request not processed
    "http504",  # request processed and recorded, then 504 (the gateway gave up waiting)
)

#: Default kinds when none are given: the original seven except ``timeout``,
#: because a timeout holds a real-socket connection for ``timeout_s`` (30 s by
#: default), which is rarely what someone who just asked for "some faults" wants.
DEFAULT_FAULT_KINDS: tuple[str, ...] = ("latency", "http500", "busy", "qps", "token_expired", "lost_response")


@dataclass(frozen=True)
class FaultConfig:
    """Random fault injection.

    ``rate`` is the probability (0..1) that a DingTalk-endpoint request gets a
    fault; the kind is then drawn uniformly from the kinds in ``kinds`` that
    make sense for that endpoint (e.g. ``token_expired`` never applies to a
    custom-robot webhook, which has no app token).  With ``seed`` set, the
    sequence of draws is deterministic.
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = DEFAULT_FAULT_KINDS
    seed: int | None = None
    latency_ms: int = 200  # extra delay for the "latency" kind
    timeout_s: float = 30.0  # how long the real server holds a "timeout" request
    retry_after_s: int = 1  # the Retry-After of "http429" and "http503"
    # Token endpoints (/gettoken, /v1.0/oauth2/accessToken) are spared unless
    # this is set: a client cannot do anything useful if it never gets a token.
    include_token_endpoints: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.rate) <= 1.0:
            raise ValueError(f"fault rate must be within 0..1, got {self.rate!r}")
        kinds = tuple(self.kinds)
        unknown = [k for k in kinds if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; known: {list(FAULT_KINDS)}")
        object.__setattr__(self, "kinds", kinds)
        if self.latency_ms < 0 or self.timeout_s < 0 or self.retry_after_s < 0:
            raise ValueError("fault latency_ms, timeout_s and retry_after_s must be >= 0")

    @classmethod
    def from_dict(cls, data: Mapping[str, object], base: FaultConfig | None = None) -> FaultConfig:
        """Build from JSON-ish data, starting from ``base`` (fields not given are kept)."""
        base = base or cls()
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault setting(s) {sorted(unknown)}")
        changes = dict(data)
        if "kinds" in changes:
            kinds = changes["kinds"]
            if isinstance(kinds, str):
                kinds = [k.strip() for k in kinds.split(",") if k.strip()]
            changes["kinds"] = tuple(kinds)  # type: ignore[arg-type]
        return dataclasses.replace(base, **changes)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        d = dataclasses.asdict(self)
        d["kinds"] = list(self.kinds)
        return d


@dataclass(frozen=True)
class WebhookRobot:
    """A custom group robot (自定义机器人), addressed by its webhook access_token (§5).

    Its security settings mirror the robot-creation form (§5.2): an optional
    加签 secret (``SEC…``), up to 10 keywords, an IPv4/CIDR allow-list.
    ``name`` is the label the sandbox uses in its records instead of the token
    (webhook tokens are secrets and are never echoed).
    """

    secret: str | None = None
    keywords: tuple[str, ...] = ()
    ip_allowlist: tuple[str, ...] = ()
    name: str | None = None
    enabled: bool = True  # False -> 400102 机器人已停用
    group: str | None = None  # the group it was added to, as the web inbox names it (default: name)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keywords", tuple(self.keywords))
        object.__setattr__(self, "ip_allowlist", tuple(self.ip_allowlist))
        if len(self.keywords) > 10:
            raise ValueError("a custom robot has at most 10 keywords (§5.2)")


def robot_label(token: str, robot: WebhookRobot) -> str:
    """How records, logs and the inbox name a webhook robot: never by its whole token."""
    return robot.name or (token[:4] + "…")


@dataclass(frozen=True)
class PresetChat:
    """A group that exists before the sandbox starts (as if created earlier).

    ``app_key`` is the app that created it: that app's robots are members
    (§4.2 "the robot must already be in the group").  ``robot_codes`` adds
    further robots.
    """

    chat_id: str
    open_conversation_id: str
    name: str = "group"
    owner: str = "user-owner"
    members: tuple[str, ...] = ()
    app_key: str | None = None
    robot_codes: tuple[str, ...] = ()
    conversation_tag: int = 2


# Fields of SandboxConfig that may be changed while the sandbox runs
# (sb.configure / POST /_sandbox/config).
RUNTIME_FIELDS: frozenset[str] = frozenset(
    {
        "latency_ms",
        "faults",
        "limits",
        "webhook_window_s",
        "webhook_limit",
        "webhook_block_s",
        "qps_per_app",
        "token_ttl_s",
    }
)


@dataclass
class SandboxConfig:
    """What the fake DingTalk org looks like and how strict the fake is."""

    apps: Mapping[str, str] = field(default_factory=dict)  # appKey -> appSecret
    robot_codes: Mapping[str, str] = field(default_factory=dict)  # robotCode -> owning appKey
    webhooks: Mapping[str, WebhookRobot] = field(default_factory=dict)  # access_token -> robot
    users: Iterable[str] | None = None  # None: every user id is a member of the org
    templates: Iterable[str] = field(default_factory=set)  # scene-group template ids
    latency_ms: int = 0
    limits: bool = True
    webhook_window_s: float = 60.0
    webhook_limit: int = 20
    webhook_block_s: float = 600.0
    qps_per_app: int = 20
    token_ttl_s: int = 7200
    faults: FaultConfig = field(default_factory=FaultConfig)
    clock: Callable[[], float] | None = None
    # --- knobs where DingTalk leaves a choice (§8.2) -----------------------------
    # appKey -> org id.  None: all apps belong to one org.  Groups are only
    # visible to apps of the org that created them (§3.2 40016, §4.1 34001).
    app_orgs: Mapping[str, str] | None = None
    # "observed": codes seen from the real server (300001 token is not exist,
    # 130101 send too fast); "documented": the doc page's 400101 / 410100 (§5.3).
    webhook_codes: str = "observed"
    # topapi endpoints report token problems as errcode 88 + sub_code (§1.1, §2.3).
    topapi_errcode88: bool = True
    # The disputed "msg ≤ 2048 bytes" sentence of chat/send (§4.1, §9).  None =
    # not enforced (only the per-field 34016 limits apply); an int enforces it.
    chat_send_msg_max_bytes: int | None = None
    # Groups that exist from the start (and again after reset()).
    chats: tuple[PresetChat, ...] = ()
    # Size of the request log kept for /_sandbox/requests.
    max_request_log: int = 100_000

    def __post_init__(self) -> None:
        self.apps = dict(self.apps)
        self.robot_codes = dict(self.robot_codes)
        self.webhooks = dict(self.webhooks)
        self.users = None if self.users is None else frozenset(self.users)
        self.templates = frozenset(self.templates)
        self.chats = tuple(self.chats)
        if isinstance(self.faults, Mapping):
            self.faults = FaultConfig.from_dict(self.faults)
        for code, app in self.robot_codes.items():
            if app not in self.apps:
                raise ValueError(f"robot code {code!r} belongs to unknown app {app!r}")
        for token, robot in self.webhooks.items():
            if not isinstance(robot, WebhookRobot):
                raise TypeError(f"webhook {token[:4]}…: expected WebhookRobot, got {type(robot).__name__}")
        if self.webhook_codes not in ("observed", "documented"):
            raise ValueError("webhook_codes must be 'observed' or 'documented'")
        if self.app_orgs is not None:
            self.app_orgs = dict(self.app_orgs)
        for name in ("latency_ms", "webhook_limit", "qps_per_app", "token_ttl_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    def org_of(self, app_key: str) -> str:
        if self.app_orgs is None:
            return "org"
        return self.app_orgs.get(app_key, "org")

    @classmethod
    def demo(cls, **overrides: object) -> SandboxConfig:
        """Sensible defaults for trying things out (``groupmsg sandbox``).

        One app, one robot code, one webhook robot with a 加签 secret and one
        without any security setting, any user id valid, one scene-group
        template and one pre-existing group that the demo app's robot is in.
        """
        base: dict[str, object] = {
            "apps": {DEMO_APP_KEY: DEMO_APP_SECRET},
            "robot_codes": {DEMO_ROBOT_CODE: DEMO_APP_KEY},
            "webhooks": {
                DEMO_WEBHOOK_TOKEN: WebhookRobot(secret=DEMO_WEBHOOK_SECRET, name="demo-signed"),
                DEMO_WEBHOOK_PLAIN_TOKEN: WebhookRobot(name="demo-plain"),
            },
            "users": None,
            "templates": {DEMO_TEMPLATE},
            "chats": (
                PresetChat(
                    chat_id=DEMO_CHAT_ID,
                    open_conversation_id=DEMO_OPEN_CONVERSATION_ID,
                    name="Demo group",
                    owner="demo-user",
                    members=("demo-user", "demo-user-2"),
                    app_key=DEMO_APP_KEY,
                ),
            ),
        }
        base.update(overrides)
        return cls(**base)  # type: ignore[arg-type]


DEMO_APP_KEY = "demo-app-key"
DEMO_APP_SECRET = "demo-app-secret"
DEMO_ROBOT_CODE = "demo-robot"
# Webhook tokens are 64 hex characters and secrets SEC + 64 hex, like DingTalk's own (other tools,
# e.g. apprise, refuse anything else).  The tokens are sha256 of "groupmsg demo: signed robot"
# and "… plain robot": fixed, so the demo's commands can be copied.
DEMO_WEBHOOK_TOKEN = "b71edbfda0080201e574c7cdb8ddce5563769dfd5a121ce27a0a6e2a49394912"
DEMO_WEBHOOK_SECRET = "SECee56841325d796413627075182f3d7d30a2be2c7822cb5c355dd0580c7f80e8f"
DEMO_WEBHOOK_PLAIN_TOKEN = "779020899e8a007bfa76ccc47b81c783e14b284979f948a86fe9a1c2aadd5660"
DEMO_TEMPLATE = "demo-template"
DEMO_CHAT_ID = "chat" + "demo" + "0" * 28
DEMO_OPEN_CONVERSATION_ID = "cidDemoGroup+sandbox/0000=="
