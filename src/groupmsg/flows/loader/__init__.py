"""YAML → `FlowsFile`, reporting every problem at once, each with file:line and its fix.

Two stages:
1. `locate`: YAML text → a tree of `Y` values that remember their line (mapping keys too). The
   only module that imports yaml, when it runs; duplicate keys, tags and alias bombs stop here.
2. Checking: the located tree → model dataclasses, one module a part of the file: `forms`,
   `flows` (trigger, filter, failure alert), `nodes`, `loops` (flows that would fire one another
   without end), `message` (message documents: a send node's `message:`, and `send --message
   FILE`), and what they share: `checker` (the check primitives and `Problem`), `schema` (tables,
   columns, lookups), `conditions` (filters and branch conditions). A check never stops at the first
   problem, so a file with five mistakes shows five messages.

Imports point one way, down these layers (none within one): this package → `flows`, `loops` →
`nodes`, `forms` → `conditions`, `schema`, `message` → `checker` → `locate`. Nothing here imports the state, the
engine or `flows.tables`.

No YAML input raises anything but ValidationError (or BadInput for a missing file): the fuzz test in
tests/flows holds us to that.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ...errors import BadInput
from ..model import FLOWS_VERSION, FlowsFile, SendGroupMessage
from .checker import Checker, Problem, name_of, names, problems_error
from .conditions import ConditionChecker
from .flows import FlowChecker
from .forms import FormChecker
from .locate import LocateError, Y, locate
from .loops import endless_loops
from .schema import Schema

__all__ = [
    "Problem",
    "check_text",
    "load",
    "load_bytes",
    "load_flows",
    "load_text",
    "problems_error",
    "unregistered_chats",
]

TOP_KEYS = ("version", "forms", "flows")
# The bundled scenario is 3 KB; a flows file is written by hand. Larger than this is a mistake (or an
# attack on memory: YAML's in-memory tree is ~10× the file), refused before it is read.
MAX_FLOWS_BYTES = 4 << 20


def load(path: Path | str) -> FlowsFile:
    """Read and check a flows file; ValidationError lists every problem, BadInput if it is missing,
    not a regular file (or a pipe), or larger than MAX_FLOWS_BYTES."""
    path = Path(path)
    return load_bytes(_read(path), str(path))


def _read(path: Path) -> bytes:
    import stat

    try:
        st = path.stat()
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode)):
            raise BadInput(f"the flows file {path} is not a regular file", hint="point --flows at a YAML file")
        raw = b""
        if not (stat.S_ISREG(st.st_mode) and st.st_size > MAX_FLOWS_BYTES):  # else too large, unread
            with path.open("rb") as fh:
                raw = fh.read(MAX_FLOWS_BYTES + 1)
    except FileNotFoundError:
        raise BadInput(
            f"no flows file at {path}",
            hint="create one (the repository's flows.yaml and examples/ show how), "
            "or point to it with --flows FILE or GROUPMSG_FLOWS",
        ) from None
    except OSError as exc:
        raise BadInput(f"cannot read the flows file {path}: {exc.strerror}") from None
    if len(raw) > MAX_FLOWS_BYTES or st.st_size > MAX_FLOWS_BYTES:
        raise BadInput(
            f"the flows file {path} is larger than {MAX_FLOWS_BYTES >> 20} MiB, the most groupmsg reads",
            hint="a flows file holds forms and flows, not data: split it, or keep data in form records",
        )
    return raw


def load_flows(path: Path | str, *, registry_names: Iterable[str] | None = None) -> FlowsFile:
    """`load()`, and with `registry_names` (for `groupmsg doctor`) also check that every group a
    flow names literally — a send node's `chat:`, an alert's `notify:` — is registered now. That
    is state, not syntax, so `flows check` leaves it out."""
    model = load(path)
    if registry_names is None:
        return model
    problems = unregistered_chats(model, set(registry_names))
    if problems:
        raise problems_error(model.path, problems, hint="see them with `groupmsg groups list`")
    return model


def unregistered_chats(model: FlowsFile, names: set[str]) -> list[Problem]:
    problems = []
    for flow in model.flows:
        targets = [(n.chat, n.line, f"node {n.name}") for n in flow.all_nodes() if isinstance(n, SendGroupMessage)]
        if flow.on_failure is not None:
            targets.append((flow.on_failure.group, flow.on_failure.line, f"flow {flow.name} on_failure"))
        for template, line, what in targets:
            chat = template.source.strip()
            if template.refs or chat in names or chat.startswith(("chat", "cid")):
                continue  # decided when it runs, registered, or a raw chat id
            problems.append(
                Problem(
                    line,
                    f"{what} sends to {chat!r}, which is not in the registry",
                    f"register it (`groupmsg groups add {chat} --chat-id …`) or fix the name",
                )
            )
    return problems


def load_bytes(raw: bytes, path: str = "flows.yaml") -> FlowsFile:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise problems_error(
            path, [Problem(1, f"not UTF-8 text ({exc.reason} at byte {exc.start})", "save it as UTF-8")]
        ) from None
    return load_text(text, path)


def load_text(text: str, path: str = "flows.yaml") -> FlowsFile:
    model, problems = check_text(text, path)
    if problems or model is None:
        raise problems_error(path, problems or [Problem(1, "the file is empty")])
    return model


def check_text(text: str, path: str = "flows.yaml") -> tuple[FlowsFile | None, list[Problem]]:
    """The model (None when the file is unusable) and every problem found."""
    try:
        root = locate(text)
    except LocateError as exc:
        return None, [Problem(exc.line, exc.message, exc.fix)]
    except RecursionError:
        return None, [Problem(1, "the file is nested too deeply to read")]
    if root is None:
        return None, [Problem(1, "the file is empty", f"start it with `version: {FLOWS_VERSION}`")]
    checker = Checker()
    try:
        model = _check_file(checker, root, path)
    except RecursionError:
        return None, [Problem(1, "the file is nested too deeply to check")]
    return (model if not checker.problems else None), checker.problems


def _check_file(c: Checker, root: Y, path: str) -> FlowsFile:
    top = c.mapping(root, "the file", allowed=TOP_KEYS, required=("version",)) or {}
    version = _version(c, top.get("version"))
    raw_forms = c.seq(top.get("forms"), "forms")
    raw_flows = c.seq(top.get("flows"), "flows")
    schema = Schema(c, raw_forms)
    form_checker = FormChecker(c, schema)
    forms = tuple(f for f in (form_checker.form(y) for y in raw_forms) if f is not None)
    c.unique(names(raw_forms), "form name")
    flow_checker = FlowChecker(c, schema, ConditionChecker(c))
    flows = tuple(f for f in (flow_checker.flow(y) for y in raw_flows) if f is not None)
    c.unique(names(raw_flows), "flow name")
    auto_lines = {
        name: y.value["allow_auto_trigger"].line
        for y in raw_flows
        if (name := name_of(y)) is not None and "allow_auto_trigger" in y.value
    }
    c.problems.extend(endless_loops(flows, auto_lines))
    return FlowsFile(path=path, version=version, forms=forms, flows=flows)


def _version(c: Checker, y: Y | None) -> int:
    if y is None:
        return FLOWS_VERSION
    if y.value != FLOWS_VERSION or isinstance(y.value, bool):
        c.problem(
            y.line,
            f"unsupported version {y.value!r}: this groupmsg reads version {FLOWS_VERSION}",
            f"write `version: {FLOWS_VERSION}` (or upgrade groupmsg for a newer file)",
        )
    return FLOWS_VERSION
