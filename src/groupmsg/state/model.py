"""What groupmsg keeps, as plain values: groups, form records, runs and their steps.

Every backend (`state.files`, `state.redis`) stores and returns these and nothing else, so callers
never see a storage format. Documents (`to_doc`/`from_doc`) are the JSON shapes the backends store
and `--json` prints.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from ..clock import now_iso, stamp
from ..errors import BadInput, DeliveryError, GroupmsgError, NothingToDo, UnknownGroup
from ..masking import mask, mask_url

T = TypeVar("T")

# --- groups (Yida's 群信息记录表) -------------------------------------------------------------------

NAME_MAX = 64


def normalize_name(name: str) -> str:
    """Names compare after Unicode NFC and trimming: `项目A` typed two ways is one group."""
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned:
        raise BadInput("a group name cannot be empty")
    if len(cleaned) > NAME_MAX:
        raise BadInput(f"group name is {len(cleaned)} characters; at most {NAME_MAX} are allowed")
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        raise BadInput(f"group name {cleaned!r} contains control characters")
    return cleaned


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

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Group:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in doc.items() if k in known}
        values["keywords"] = tuple(values.get("keywords") or ())
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

    def stamped(self) -> Group:
        """The group as a store saves it: name normalised, creation time set."""
        from dataclasses import replace

        return replace(self, name=normalize_name(self.name), created_at=self.created_at or now_iso())


def parse_webhook(url: str) -> str:
    """Check that a custom-robot webhook URL carries its access_token (DingTalk rejects it otherwise)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
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
    return url.strip()


def check_env_name(name: str, option: str) -> str:
    """A variable name as a shell would take it (what `--webhook-env` / `webhook_env` name)."""
    import re

    name = name.strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise BadInput(
            f"{option} {name!r} is not an environment variable's name",
            hint="give the variable's name (letters, digits and _), not its value, e.g. OPS_WEBHOOK",
        )
    return name


def check_secret(secret: str) -> str:
    secret = secret.strip()
    if not secret.startswith("SEC"):
        raise BadInput(
            "a signing secret starts with SEC (the robot's 加签 setting)",
            hint="copy the secret shown under 安全设置 → 加签 in the robot's settings",
        )
    return secret


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
        return cls(
            id=str(doc["id"]),
            form=str(doc.get("form", "")),
            values=dict(doc.get("values") or {}),  # a copy: stored documents may be cached and mutable
            created_at=str(doc.get("created_at", "")),
            updated_at=doc.get("updated_at"),
            source=str(doc.get("source", "submit")),
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
    """A failed step's error as stored in the run log (DingTalk's code, the message, the fix)."""
    return {"code": getattr(exc, "code", None), "message": exc.message, "hint": exc.hint}


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
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})

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
        known = {f.name for f in fields(cls)}
        run = cls(**{k: v for k, v in doc.items() if k in known and k != "steps"})
        run.steps = [Step.from_doc(s) for s in doc.get("steps", [])]
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


def run_failure(run: Run) -> DeliveryError | None:
    """What a command reports for a run with failed steps (exit 1), or None."""
    failed = run.failed_steps
    if not failed:
        return None
    first = failed[0].error or {}
    if run.kind == "flow":
        message = f"flow {run.name} failed at node {failed[0].name}: {first.get('message')} (run {run.id})"
    else:
        message = f"{len(failed)} of {len(run.steps)} deliveries failed (run {run.id})"
    return DeliveryError(message, hint=f"retry them with `groupmsg runs retry {run.id}`", code=first.get("code"))
