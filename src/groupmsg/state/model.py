"""What groupmsg keeps, as plain values: groups, form records, runs and their steps.

Every backend (`state.files`, `state.redis`) stores and returns these and nothing else, so callers
never see a storage format. Documents (`to_doc`/`from_doc`) are the JSON shapes the backends store
and `--json` prints.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from ..clock import now_iso, stamp
from ..errors import (
    RETRY_AFTER_FIX,
    RETRY_CHECK_FIRST,
    RETRY_LATER,
    RETRY_NEVER,
    BadInput,
    DeliveryError,
    GroupmsgError,
    NothingToDo,
    UnknownGroup,
)
from ..masking import mask, mask_url

T = TypeVar("T")

# --- groups (Yida's 群信息记录表) -------------------------------------------------------------------

NAME_MAX = 64
TEXT_MAX = 256  # owners, keywords, chat ids: far more than DingTalk's own ids need
URL_MAX = 2048
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
DINGTALK_WEBHOOK_HOST = "oapi.dingtalk.com"
# Invisible or bidirectional formatting (Cf: zero-width space, right-to-left override, …), line and
# paragraph separators: in a name they make two different groups look the same.
_HIDDEN = frozenset({"Cf", "Zl", "Zp", "Cs"})


def _char(ch: str) -> str:
    import unicodedata as ud

    return f"U+{ord(ch):04X}" + (f" ({ud.name(ch)})" if ud.name(ch, "") else "")


def normalize_name(name: str) -> str:
    """Names compare after Unicode NFC and trimming: `项目A` typed two ways is one group.

    This is how a name is looked up; a name being stored is also checked by `check_name`."""
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise BadInput("a group name cannot be empty")
    if len(cleaned) > NAME_MAX:
        raise BadInput(f"group name is {len(cleaned)} characters; at most {NAME_MAX} are allowed")
    bad = next((ch for ch in cleaned if unicodedata.category(ch) == "Cc"), None)
    if bad is not None:
        raise BadInput(f"group name {cleaned!r} contains the control character {_char(bad)}")
    return cleaned


def check_name(name: str) -> str:
    """A name as it may be stored: `normalize_name`, and no invisible or bidirectional formatting
    characters, so that no two registered names look the same."""
    cleaned = normalize_name(name)
    bad = next((ch for ch in cleaned if unicodedata.category(ch) in _HIDDEN), None)
    if bad is not None:
        raise BadInput(
            f"group name {cleaned!r} contains the invisible formatting character {_char(bad)}",
            hint="type the name again without it (it would look like another name)",
        )
    return cleaned


def check_text(value: str, what: str, *, max_len: int = TEXT_MAX) -> str:
    """A short stored string (an owner, a keyword, a chat id): trimmed, no control characters."""
    cleaned = value.strip()
    if not cleaned:
        raise BadInput(f"{what} cannot be empty")
    if len(cleaned) > max_len:
        raise BadInput(f"{what} is {len(cleaned)} characters; at most {max_len} are allowed")
    bad = next((ch for ch in cleaned if unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs")), None)
    if bad is not None:
        raise BadInput(f"{what} {cleaned!r} contains the control character {_char(bad)}")
    return cleaned


def check_env_name(name: str, option: str = "--secret-env") -> str:
    """The name of the environment variable holding a webhook's secret (or its URL, `option`
    --webhook-env / webhook_env): letters, digits, `_`."""
    cleaned = name.strip()
    if not ENV_NAME.fullmatch(cleaned):
        raise BadInput(
            f"{option} {cleaned!r} is not an environment variable name",
            hint="letters, digits and _, not starting with a digit (e.g. ROBOT_SECRET)",
        )
    return cleaned


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: a sandbox or a tunnel on this machine."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_host(url: str) -> str:
    """The host a webhook URL sends its access token to (lowercase, without port)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def parse_webhook(url: str, allow_host: str | None = None) -> str:
    """Check a custom-robot webhook URL: it must carry its access_token (DingTalk rejects it
    otherwise) and send it only to DingTalk (https://oapi.dingtalk.com), to this machine (a
    sandbox), or to the one host the user allowed with --allow-host."""
    url = check_text(url, "the webhook URL", max_len=URL_MAX)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise BadInput(
            f"{mask_url(url)!r} is not a webhook URL",
            hint="copy it from the robot's settings: https://oapi.dingtalk.com/robot/send?access_token=…",
        )
    token = parse_qs(parts.query).get("access_token", [""])[0]
    if not token:
        raise BadInput(
            "the webhook URL has no access_token parameter",
            hint="copy the whole URL from the robot's settings, including ?access_token=…",
        )
    allowed = (allow_host or "").strip().lower()
    if is_loopback(host) or host == allowed:
        return url
    if host != DINGTALK_WEBHOOK_HOST:
        raise BadInput(
            f"the webhook sends its access token to {host}, which is not DingTalk ({DINGTALK_WEBHOOK_HOST})",
            hint=f"check where the URL came from; if {host} is your own gateway, add --allow-host {host}",
        )
    if parts.scheme != "https":
        raise BadInput(
            f"the webhook uses plain http://, so its access token would cross the network unencrypted to {host}",
            hint="use https:// (DingTalk serves it), or --allow-host " + host + " if you must",
        )
    return url


def check_allow_host(host: str) -> str:
    """A host name given to --allow-host: a bare host, as it appears in the webhook URL."""
    cleaned = check_text(host, "--allow-host", max_len=253).lower()
    if not re.fullmatch(r"[a-z0-9._:\-\[\]]+", cleaned) or "/" in cleaned:
        raise BadInput(
            f"--allow-host {cleaned!r} is not a host name",
            hint="give the host alone, as in the URL: --allow-host gateway.example.com",
        )
    return cleaned.strip("[]")


def check_secret(secret: str) -> str:
    secret = secret.strip()
    if not secret.startswith("SEC"):
        raise BadInput(
            "a signing secret starts with SEC (the robot's 加签 setting)",
            hint="copy the secret shown under 安全设置 → 加签 in the robot's settings",
        )
    if not secret.isascii() or not secret.isalnum():
        raise BadInput("a signing secret is letters and digits only (SEC…)", hint="copy it again from 加签")
    return secret


def _typed(cls: type, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The known fields of a stored document, each checked against the dataclass's annotation (a
    document of the wrong shape is refused here rather than failing somewhere later)."""
    if not isinstance(doc, Mapping):
        raise TypeError(f"a {cls.__name__} is a mapping, not {type(doc).__name__}")
    values = {}
    for f in fields(cls):
        if f.name not in doc:
            continue
        value, wanted = doc[f.name], _TYPES.get(str(f.type))
        if wanted is not None and not isinstance(value, wanted):
            raise TypeError(f"{cls.__name__.lower()} field {f.name!r} is {type(value).__name__}, not {f.type}")
        values[f.name] = value
    return values


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "str | None": (str, type(None)),
    "int": (int,),
    "int | None": (int, type(None)),
    "bool": (bool,),
    "dict[str, Any]": (dict,),
    "dict[str, Any] | None": (dict, type(None)),
    "list[Step]": (list,),
    "tuple[str, ...]": (list, tuple),
    "Mapping[str, Any]": (dict,),
}


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
        values = _typed(cls, doc)
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


# --- form records (Yida's 表单数据) ------------------------------------------------------------------

RECORD_ID_PREFIX = "FINST-"  # like Yida's form instance ids


def new_record_id() -> str:
    """Sortable by time and unique across processes: FINST-20261125103000-1a2b3c4d."""
    return RECORD_ID_PREFIX + stamp().replace("-", "") + "-" + os.urandom(4).hex()


@dataclass(frozen=True)
class Record:
    id: str
    form: str
    values: Mapping[str, Any]
    created_at: str
    updated_at: str | None = None
    source: str = "submit"  # "submit", or "flow:<flow name>" for rows written by a data node
    segment: str | None = field(default=None, compare=False)  # where a backend keeps it

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], segment: str | None = None) -> Record:
        values = _typed(cls, doc)
        return cls(
            id=values["id"],
            form=values.get("form", ""),
            values=dict(values.get("values") or {}),  # a copy: stored documents may be cached and mutable
            created_at=values.get("created_at", ""),
            updated_at=values.get("updated_at"),
            source=values.get("source", "submit"),
            segment=segment,
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "form": self.form,
            "values": dict(self.values),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "source": self.source,
        }

    def row(self) -> dict[str, Any]:
        """The record as a table row: its fields plus id, created_at and updated_at."""
        return {**self.values, "id": self.id, "created_at": self.created_at, "updated_at": self.updated_at}


def pick_by_id(
    items: Iterable[T], wanted: str, *, id_of: Callable[[T], str], many: str, missing: str, missing_hint: str
) -> T:
    """The item whose id is `wanted`, or of which `wanted` is a unique start or end (how `runs show`
    and `forms update` take ids); BadInput otherwise. `many` names what several matches are."""
    matches = []
    for item in items:
        ident = id_of(item)
        if ident == wanted:
            return item
        if wanted and (ident.startswith(wanted) or ident.endswith(wanted)):
            matches.append(item)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise BadInput(f"{wanted!r} matches {len(matches)} {many}", hint="give more of the id")
    raise BadInput(missing, hint=missing_hint)


def run_choices(run_id: str) -> dict[str, str]:
    """How `pick_by_id` speaks of runs."""
    return {"many": "runs", "missing": f"no run {run_id!r}", "missing_hint": "see the run ids with `groupmsg runs list`"}


def record_choices(form: str, record_id: str) -> dict[str, str]:
    """How `pick_by_id` speaks of a form's records."""
    return {
        "many": f"records of {form}",
        "missing": f"no record {record_id!r} in form {form}",
        "missing_hint": f"see the record ids with `groupmsg forms records {form}`",
    }


def as_text(value: Any) -> str:
    """Compare lookups as text: a number stored as 3 matches the template output "3"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (list, tuple)):
        return ",".join(as_text(v) for v in value)
    return str(value).strip()


def row_matches(row: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    return all(as_text(row.get(k)) == as_text(v) for k, v in where.items())


# --- runs: the outbox and the run log in one ---------------------------------------------------------

PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED = "pending", "running", "succeeded", "failed", "skipped"
UNSETTLED = "unsettled"  # a run with pending steps and no live process (a filter, not a stored status)


def new_run_id() -> str:
    """Sortable by time, unique across processes: 20261125-103000-1a2b3c."""
    return stamp() + "-" + os.urandom(3).hex()


def error_doc(exc: GroupmsgError) -> dict[str, Any]:
    """A failed step's error as stored in the run log: DingTalk's code, the message, the fix, and
    what a retry can do about it (`later`, `after_fix`, `never`, `check`: errors.RETRY_*)."""
    retry = getattr(exc, "retry", None) or (RETRY_AFTER_FIX if isinstance(exc, BadInput) else RETRY_LATER)
    return {"code": getattr(exc, "code", None), "message": exc.message, "hint": exc.hint, "retry": retry}


@dataclass
class Step:
    id: str
    name: str
    kind: str
    status: str = PENDING
    inputs: dict[str, Any] = field(default_factory=dict)  # secrets already masked
    outputs: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None  # {"code", "message", "hint"}
    attempts: int = 0
    duration_ms: int | None = None
    finished_at: str | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Step:
        return cls(**_typed(cls, doc))

    @property
    def open(self) -> bool:
        """Failed or never finished: what a retry sends again."""
        return self.status in (FAILED, PENDING, RUNNING)


@dataclass
class Run:
    id: str
    kind: str  # "send" | "flow"
    status: str = RUNNING
    name: str = ""  # the flow's name, or "send"
    form: str | None = None
    record_id: str | None = None
    steps: list[Step] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)  # what a retry needs (masked of secrets)
    started_at: str = field(default_factory=now_iso)
    finished_at: str | None = None
    pid: int = field(default_factory=os.getpid)
    retry_of: str | None = None
    segment: str | None = None  # where a backend keeps it

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Run:
        values = _typed(cls, doc)
        steps = values.pop("steps", [])
        run = cls(**values)
        run.steps = [Step.from_doc(s) for s in steps]
        return run

    def to_doc(self) -> dict[str, Any]:
        # Shallow copies (not dataclasses.asdict's deep copy): a broadcast saves its run often.
        doc = dict(vars(self))
        doc["steps"] = [dict(vars(s)) for s in self.steps]
        return doc

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    @property
    def failed_steps(self) -> list[Step]:
        return [s for s in self.steps if s.status == FAILED]

    def settle(self) -> str:
        """Derive the run's status from its steps."""
        states = {s.status for s in self.steps}
        if PENDING in states or RUNNING in states:
            self.status = RUNNING
        else:
            self.status = FAILED if FAILED in states else SUCCEEDED
            self.finished_at = self.finished_at or now_iso()
        return self.status


def record_matches(run: Run, record_id: str) -> bool:
    """`runs list --record ID`: the run acted on that form record (ID may be the end of its id)."""
    return bool(run.record_id) and (run.record_id == record_id or str(run.record_id).endswith(record_id))


# --- dedupe keys ------------------------------------------------------------------------------

DEDUPE_RETENTION_S = 7 * 24 * 3600  # a key makes a repeat a no-op for a week
# A key is claimed a moment before its run is saved. A claim this old whose run was never saved
# belongs to a process killed in between: the next repeat takes it over instead of waiting for it.
ORPHAN_AFTER_S = 60.0


def nothing_to_retry(run: Run) -> NothingToDo | None:
    """Why `runs retry` has nothing to do for `run` (every step succeeded or was skipped), or None."""
    if any(s.open for s in run.steps):
        return None
    return NothingToDo(f"run {run.id} has nothing to retry (status {run.status})")


def same_cause(steps: list[Step]) -> bool:
    """Every one of `steps` failed for the same reason (one message says it for all)."""
    return len({((s.error or {}).get("code"), (s.error or {}).get("message")) for s in steps}) <= 1


def run_failure(run: Run) -> DeliveryError | None:
    """What a command reports for a run with failed steps (exit 1), or None: the cause (every
    failed step's when they share one), how many were not sent, and the way out — `runs retry`
    only where a retry can help."""
    failed = run.failed_steps
    if not failed:
        return None
    first = failed[0].error or {}
    if run.kind == "flow":
        message = f"flow {run.name} failed at node {failed[0].name}: {first.get('message')} (run {run.id})"
    elif len(run.steps) == 1:
        message = f"{failed[0].name}: {first.get('message')} (run {run.id})"
    elif same_cause(failed):
        names = ", ".join(s.name for s in failed[:5]) + (", …" if len(failed) > 5 else "")
        message = (
            f"{first.get('message')}; {len(failed)} of {len(run.steps)} messages were not sent: {names} (run {run.id})"
        )
    else:
        message = f"{len(failed)} of {len(run.steps)} messages were not sent (run {run.id})"
    one = run.kind == "flow" or same_cause(failed)
    return DeliveryError(message, hint=way_out(run, [first] if one else [s.error or {} for s in failed]),
                         code=first.get("code"))


def way_out(run: Run, errors: list[dict[str, Any]]) -> str | None:
    """The hint for a failed run: each cause's fix, and `runs retry` where a retry can help."""
    retry = f"`groupmsg runs retry {run.id}`"
    them = "it" if len(run.failed_steps) == 1 else "them"
    kinds = {e.get("retry") or RETRY_LATER for e in errors}
    if len(errors) == 1:
        fix, kind = errors[0].get("hint"), kinds.pop()
        if kind == RETRY_NEVER:
            return fix
        if errors[0].get("code") == "blocked":
            return f"{fix}; {retry} after that time" if fix else f"{retry} after that time"
        if kind == RETRY_CHECK_FIRST:
            return f"{fix}; if it is missing, {retry} sends it again" if fix else f"{retry} sends {them} again"
        action = f"then {retry} sends {them} again" if kind == RETRY_AFTER_FIX else f"{retry} sends {them} again"
        return f"{fix}; {action}" if fix else action
    if kinds == {RETRY_NEVER}:
        return "each message above says what to change"
    if kinds <= {RETRY_LATER}:
        return f"{retry} sends the failed ones again (after any block named above has ended)"
    return f"fix what is named above, then {retry} sends the failed ones again"
