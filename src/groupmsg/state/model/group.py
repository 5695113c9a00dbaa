"""A group of the registry (Yida's 群信息记录表) and how to reach it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ...clock import now_iso
from ...errors import BadInput, UnknownGroup
from ...masking import mask, mask_url
from .checks import check_allow_host, check_env_name, check_name, check_secret, check_text, parse_webhook, typed_fields


@dataclass(frozen=True)
class Group:
    """A group and how to reach it: `app` (by chat id / open conversation id) or `webhook`."""

    name: str
    kind: str  # "app" | "webhook"
    chat_id: str | None = None
    open_conversation_id: str | None = None
    owner: str | None = None
    webhook: str | None = None  # the full webhook URL; its access_token is a secret
    secret: str | None = None  # the SEC… signing secret
    secret_env: str | None = None  # or the environment variable holding it
    webhook_env: str | None = None  # or the variable holding the webhook URL (a registry kept in git)
    keywords: tuple[str, ...] = ()  # the robot's 自定义关键词: a message must contain one
    source: str = "manual"  # manual | create-group | flow | import
    created_at: str = ""
    allow_host: str | None = None  # a webhook host other than DingTalk's, allowed by the user

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Group:
        values = typed_fields(cls, doc)
        keywords = values.get("keywords") or ()
        if not all(isinstance(k, str) for k in keywords):
            raise TypeError("group field 'keywords' holds something other than text")
        values["keywords"] = tuple(keywords)
        return cls(**values)

    def to_doc(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, ())}

    def public(self) -> dict[str, Any]:
        """The group as shown to people and scripts: webhook token and secret masked."""
        doc = asdict(self)
        if self.webhook:
            doc["webhook"] = mask_url(self.webhook)
        if self.secret:
            doc["secret"] = mask(self.secret)
        doc["signed"] = bool(self.secret or self.secret_env)
        return doc

    @property
    def address(self) -> str:
        """A short, safe description of where messages go."""
        if self.kind == "webhook":
            return mask_url(self.webhook) if self.webhook else f"${self.webhook_env or ''}"
        return self.chat_id or self.open_conversation_id or ""

    def checked(self) -> Group:
        """The group with every stored string checked (BadInput naming the field otherwise): every
        backend stores only checked groups (`stamped`), whichever command or flow made them."""
        from dataclasses import replace

        def opt(value: str | None, what: str) -> str | None:
            return check_text(value, what) if value not in (None, "") else None

        if self.kind not in ("app", "webhook"):
            raise BadInput(f"kind must be app or webhook, not {self.kind!r}")
        allow = check_allow_host(self.allow_host) if self.allow_host else None
        webhook = parse_webhook(self.webhook, allow) if self.webhook else None
        webhook_env = check_env_name(self.webhook_env, "webhook_env") if self.webhook_env else None
        if self.kind == "webhook" and not (webhook or webhook_env):
            raise BadInput(f"webhook group {self.name!r} has no webhook URL")
        return replace(
            self,
            name=check_name(self.name),
            chat_id=opt(self.chat_id, "the chat id"),
            open_conversation_id=opt(self.open_conversation_id, "the open conversation id"),
            owner=opt(self.owner, "the owner"),
            webhook=webhook,
            secret=check_secret(self.secret) if self.secret else None,
            secret_env=check_env_name(self.secret_env) if self.secret_env else None,
            webhook_env=webhook_env,
            keywords=tuple(check_text(k, "a keyword") for k in self.keywords),
            source=check_text(self.source, "the source"),
            allow_host=allow,
        )

    def stamped(self) -> Group:
        """The group as a store saves it: checked, name normalised, creation time set."""
        from dataclasses import replace

        return replace(self.checked(), created_at=self.created_at or now_iso())


def unknown_group(name: str, names: list[str]) -> UnknownGroup:
    """An UnknownGroup error that suggests the closest registered names."""
    import difflib

    close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
    close += [n for n in names if name in n and n not in close][: 3 - len(close)]
    if close:
        hint = "did you mean " + ", ".join(repr(n) for n in close) + "?"
    elif names:
        hint = "see the registered groups with `groupmsg groups list`"
    else:
        hint = "the registry is empty: add one with `groupmsg groups add` or `groupmsg create-group`"
    return UnknownGroup(f"no group named {name!r} in the registry", hint=hint)


