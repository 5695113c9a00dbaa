"""The checked contents of a flows file: forms, flows and their nodes, as frozen dataclasses.

`flows.loader` builds these from YAML and has already checked every reference (fields, tables,
node outputs, operators), so the engine never meets a malformed flow. Nothing here imports yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .message import MessageSpec
from .schedule import Cron
from .templating import Template

FLOWS_VERSION = 1

# --- tables --------------------------------------------------------------------------------------

GROUPS_TABLE = "groups"
# The registry seen as a table (Yida's 群信息记录表). Webhook URLs and secrets are left out on purpose:
# a template could otherwise copy them into a message.
GROUP_COLUMNS = ("name", "chat_id", "open_conversation_id", "owner", "kind", "source", "created_at")
# The registry columns a data node may write; kind, source and created_at are the registry's own.
GROUP_WRITABLE = ("name", "chat_id", "open_conversation_id", "owner")
# Every form record has these besides its fields.
RECORD_COLUMNS = ("id", "created_at", "updated_at")

# --- form fields --------------------------------------------------------------------------------

TEXT, TEXTAREA, NUMBER, DATE, SELECT, MULTISELECT = "text", "textarea", "number", "date", "select", "multiselect"
FIELD_TYPES = (TEXT, TEXTAREA, NUMBER, DATE, SELECT, MULTISELECT)
TEXT_MAX_LENGTH = 200  # Yida's default for 单行文本
LIST_TYPES = (MULTISELECT,)
ORDERED_TYPES = (NUMBER, DATE)  # the types gt/gte/lt/lte make sense for


@dataclass(frozen=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True)
class OptionSource:
    """「关联其他表单数据」: the options are the values of one column of a table."""

    table: str
    column: str


@dataclass(frozen=True)
class Lookup:
    """A row lookup: the rows of `table` whose columns equal the rendered `where` templates.

    Shared by 数据联动 (field defaults) and the data nodes. When several rows match, the most recently
    created one wins (see `flows.tables`).
    """

    table: str
    where: tuple[tuple[str, Template], ...]


@dataclass(frozen=True)
class Linkage:
    """「数据联动」: a default taken from column `take` of the row `lookup` finds."""

    lookup: Lookup
    take: str


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    line: int
    label: str = ""
    description: str = ""
    required: bool = False
    readonly: bool = False
    hidden: bool = False
    min_length: int | None = None
    max_length: int | None = None
    min: float | None = None
    max: float | None = None
    options: tuple[Option, ...] = ()
    options_from: OptionSource | None = None
    # A literal value, a Template over other fields, a Linkage, or None.
    default: Any = None

    @property
    def is_list(self) -> bool:
        return self.type in LIST_TYPES

    @property
    def has_options(self) -> bool:
        return bool(self.options) or self.options_from is not None


@dataclass(frozen=True)
class Form:
    name: str
    fields: tuple[Field, ...]
    line: int
    description: str = ""

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


# --- conditions ---------------------------------------------------------------------------------

OPERATORS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "is_empty",
    "is_not_empty",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "not_in",
)
UNARY_OPERATORS = ("is_empty", "is_not_empty")
LIST_OPERATORS = ("in", "not_in")
ORDERING_OPERATORS = ("gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class Condition:
    """`field <op> value`. `field` is a reference path (a form field or `nodes.X.y`); `value` is a
    Template, a tuple of Templates (for in / not_in), or None (is_empty / is_not_empty)."""

    field: tuple[str, ...]
    op: str
    value: Template | tuple[Template, ...] | None
    line: int


@dataclass(frozen=True)
class ConditionGroup:
    mode: str  # "all" | "any"
    items: tuple[Condition | ConditionGroup, ...]
    line: int


# --- nodes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """Common to every node. `id` is its position in the flow (`2`, `3.1.1` inside a branch) and
    is the step id in the run record, so that a resumed run finds its steps again."""

    KIND: ClassVar[str] = ""
    name: str
    id: str
    line: int


@dataclass(frozen=True)
class SendGroupMessage(Node):
    """「发送消息到企业群」: post a message to a group by registry name or chat id: text or markdown
    (`text:`, `markdown:`, `title:`), or any kind as a `message:` document."""

    KIND: ClassVar[str] = "send_group_message"
    OUTPUTS: ClassVar[tuple[str, ...]] = ("group", "chat_id", "channel", "message_id")
    chat: Template = field(default_factory=lambda: Template.literal(""))
    text: Template = field(default_factory=lambda: Template.literal(""))
    markdown: bool = False
    title: Template | None = None
    # @mentions (custom-robot webhook groups): mobiles / user ids, a list or comma-separated
    at_mobiles: Template | None = None
    at_users: Template | None = None
    at_all: bool = False
    message: MessageSpec | None = None  # instead of text/markdown/title/at_*


@dataclass(frozen=True)
class CreateGroup(Node):
    """「创建群聊」 connector: create a DingTalk group. Recording it is an `add_data` node's job."""

    KIND: ClassVar[str] = "create_group"
    OUTPUTS: ClassVar[tuple[str, ...]] = ("group_name", "chat_id", "open_conversation_id", "owner", "created")
    group_name: Template = field(default_factory=lambda: Template.literal(""))
    owner: Template = field(default_factory=lambda: Template.literal(""))
    # Each renders to a user id, a comma-separated list of them, or a list (a multiselect field).
    members: tuple[Template, ...] = ()
    template_id: Template | None = None
    if_exists: str = "fail"  # "fail" | "reuse" (a name already in the registry)


@dataclass(frozen=True)
class AddData(Node):
    """「新增数据」: insert one row into the registry or a form's records."""

    KIND: ClassVar[str] = "add_data"
    table: str = ""
    values: tuple[tuple[str, Template], ...] = ()


@dataclass(frozen=True)
class UpdateData(Node):
    """「更新数据」: update every row `lookup` finds; when none matches, skip, insert, or fail."""

    KIND: ClassVar[str] = "update_data"
    OUTPUTS: ClassVar[tuple[str, ...]] = ("count", "inserted")
    lookup: Lookup = field(default_factory=lambda: Lookup("", ()))
    values: tuple[tuple[str, Template], ...] = ()
    if_none: str = "skip"  # "skip" | "insert" | "fail"


@dataclass(frozen=True)
class GetData(Node):
    """「获取单条数据」: the most recent row `lookup` finds; none → `found` false, or fail."""

    KIND: ClassVar[str] = "get_data"
    lookup: Lookup = field(default_factory=lambda: Lookup("", ()))
    if_none: str = "empty"  # "empty" | "fail"


@dataclass(frozen=True)
class DeleteData(Node):
    """「删除数据」: delete every row `lookup` finds (registry groups only with `allow_registry`)."""

    KIND: ClassVar[str] = "delete_data"
    OUTPUTS: ClassVar[tuple[str, ...]] = ("count",)
    lookup: Lookup = field(default_factory=lambda: Lookup("", ()))
    allow_registry: bool = False


@dataclass(frozen=True)
class Arm:
    """One branch of a `branch` node. Lower `priority` is tried first; the default arm runs only
    when no other matched. In a parallel branch node, priority is the position and `when` may be
    None (the arm always runs)."""

    name: str
    id: str
    priority: int
    when: ConditionGroup | None
    default: bool
    nodes: tuple[Node, ...]
    line: int


CONDITION, PARALLEL = "condition", "parallel"


@dataclass(frozen=True)
class Branch(Node):
    """「条件分支」: runs the nodes of the highest-priority arm whose conditions hold. With
    `mode: parallel` (「并行分支」): every arm whose conditions hold (or that has none), in order."""

    KIND: ClassVar[str] = "branch"
    OUTPUTS: ClassVar[tuple[str, ...]] = ("branch",)
    arms: tuple[Arm, ...] = ()
    mode: str = CONDITION  # CONDITION | PARALLEL

    @property
    def parallel(self) -> bool:
        return self.mode == PARALLEL

    def ordered_arms(self) -> list[Arm]:
        """Arms in the order they are tried: by priority, the default arm last."""
        return sorted(self.arms, key=lambda a: (a.default, a.priority))


NODE_KINDS: Mapping[str, type[Node]] = {
    cls.KIND: cls for cls in (SendGroupMessage, CreateGroup, AddData, UpdateData, GetData, DeleteData, Branch)
}


def walk(nodes: tuple[Node, ...]) -> list[Node]:
    """Every node in document order, those inside branches included."""
    out: list[Node] = []
    for node in nodes:
        out.append(node)
        if isinstance(node, Branch):
            for arm in node.arms:
                out.extend(walk(arm.nodes))
    return out


# --- flows --------------------------------------------------------------------------------------

EVENTS = ("created", "updated", "deleted")
FORM_EVENT, SCHEDULE, MANUAL = "form", "schedule", "manual"  # the kinds of trigger


@dataclass(frozen=True)
class Trigger:
    """表单事件触发 (`form` + `events` + `filter`), 定时触发 (`schedule`, evaluated in `timezone` or
    the machine's zone), or 自定义按钮触发 (`manual`: `groupmsg flows run`; its `form`, when it
    names one, gives the fields a run is given). Only form-event triggers have events."""

    form: str  # "" for a schedule, or a manual trigger without a form
    events: tuple[str, ...]
    filter: ConditionGroup | None  # None: 全部数据 (every record)
    line: int
    kind: str = FORM_EVENT
    schedule: Cron | None = None
    timezone: str | None = None  # an IANA name; None: the machine's zone


@dataclass(frozen=True)
class Alert:
    """异常消息提醒: who hears about a failed run, and what they read."""

    group: Template
    text: Template | None
    line: int


@dataclass(frozen=True)
class Flow:
    name: str
    trigger: Trigger
    nodes: tuple[Node, ...]
    line: int
    enabled: bool = True
    description: str = ""
    on_failure: Alert | None = None
    dedupe: Template | None = None
    # `at_least_once`: repeat a message that may have been delivered (HTTP 500/502/504, no answer)
    # even on channels without an idempotency key — a rare duplicate rather than a lost alert.
    delivery: str = "no_duplicates"
    # 「允许自动触发」: records written by other flows' data nodes fire this flow too.
    allow_auto_trigger: bool = False

    def all_nodes(self) -> list[Node]:
        return walk(self.nodes)


@dataclass(frozen=True)
class FlowsFile:
    path: str
    version: int
    forms: tuple[Form, ...]
    flows: tuple[Flow, ...]

    def form(self, name: str) -> Form | None:
        for f in self.forms:
            if f.name == name:
                return f
        return None

    def flow(self, name: str) -> Flow | None:
        for f in self.flows:
            if f.name == name:
                return f
        return None

    def flows_for(self, form: str, event: str) -> list[Flow]:
        """Enabled flows listening to `event` on `form`, in file order (filters not applied yet)."""
        return [f for f in self.flows if f.enabled and f.trigger.form == form and event in f.trigger.events]

    def columns(self, table: str) -> tuple[str, ...] | None:
        """The columns of a table (the registry or a form's records); None if no such table."""
        if table == GROUPS_TABLE:
            return GROUP_COLUMNS
        form = self.form(table)
        if form is None:
            return None
        return (*RECORD_COLUMNS, *form.field_names)

    @property
    def tables(self) -> tuple[str, ...]:
        return (GROUPS_TABLE, *(f.name for f in self.forms))


def node_outputs(node: Node, columns: tuple[str, ...]) -> tuple[str, ...]:
    """What later nodes may read from `node` (`{{ nodes.NAME.OUTPUT }}`). Data nodes expose the
    columns of their table; `columns` is that table's column list."""
    if isinstance(node, AddData):
        return columns
    if isinstance(node, GetData):
        return ("found", *columns)
    if isinstance(node, Branch) and node.parallel:
        return ("branches",)
    return tuple(getattr(node, "OUTPUTS", ()))
