"""A flow's nodes, branches included: each node kind's keys, and the templates and tables it names.

Nodes are checked in order, each seeing the fields of the trigger form and the outputs of the nodes
that have certainly run before it (earlier siblings, and earlier siblings of enclosing branches).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ..model import (
    CONDITION,
    GROUPS_TABLE,
    PARALLEL,
    AddData,
    Arm,
    Branch,
    CreateGroup,
    DeleteData,
    GetData,
    Node,
    SendGroupMessage,
    UpdateData,
    node_outputs,
)
from ..templating import StaticScope
from .checker import Checker, as_list, names
from .conditions import ConditionChecker
from .locate import Y
from .message import MessageChecker
from .schema import Schema

NODE_KEYS: Mapping[str, tuple[str, ...]] = {
    "send_group_message": ("chat", "text", "markdown", "title", "at_mobiles", "at_users", "at_all", "message"),
    "create_group": ("group_name", "owner", "members", "template_id", "if_exists"),
    "add_data": ("table", "values"),
    "update_data": ("table", "where", "values", "if_none"),
    "get_data": ("table", "where", "if_none"),
    "delete_data": ("table", "where", "allow_registry"),
    "branch": ("branches", "mode"),
}
ARM_KEYS = ("name", "priority", "when", "default", "nodes")
BRANCH_MODES = {CONDITION: CONDITION, PARALLEL: PARALLEL, "条件分支": CONDITION, "并行分支": PARALLEL}


def node_names(raw_nodes: list[Y]) -> list[tuple[str, int]]:
    """Every explicit node name in a flow, branches included (for duplicate and order checks)."""
    out: list[tuple[str, int]] = []
    for y in raw_nodes:
        if not isinstance(y.value, dict):
            continue
        out.extend(names([y]))
        branches = y.value.get("branches")
        for arm in branches.value if branches is not None and isinstance(branches.value, list) else []:
            if (
                isinstance(arm.value, dict)
                and arm.value.get("nodes") is not None
                and isinstance(arm.value["nodes"].value, list)
            ):
                out.extend(node_names(arm.value["nodes"].value))
    return out


class NodesChecker:
    """The nodes of one flow. `base` is what every node may reference (the trigger form's fields,
    the system references); `types` maps the trigger form's fields to their types."""

    def __init__(
        self,
        checker: Checker,
        schema: Schema,
        conditions: ConditionChecker,
        *,
        base: StaticScope,
        all_names: list[tuple[str, int]],
        types: Mapping[str, str],
    ) -> None:
        self.c = checker
        self.schema = schema
        self.conditions = conditions
        self.base = base
        self.all_names = tuple(n for n, _ in all_names)
        self.types = types

    def scope(self, available: Mapping[str, tuple[str, ...]]) -> StaticScope:
        later = tuple(n for n in self.all_names if n not in available)
        return replace(self.base, nodes=dict(available), later_nodes=later)

    def nodes(self, raw: list[Y], prefix: str, available: dict[str, tuple[str, ...]]) -> tuple[Node, ...] | None:
        available = dict(available)
        out: list[Node] = []
        ok = True
        for index, y in enumerate(raw, 1):
            node = self.node(y, f"{prefix}{index}", available)
            if node is None:
                ok = False
                continue
            out.append(node)
            available[node.name] = self.outputs(node)
        return tuple(out) if ok else None

    def outputs(self, node: Node) -> tuple[str, ...]:
        table = getattr(node, "table", None) or getattr(getattr(node, "lookup", None), "table", None)
        return node_outputs(node, self.schema.columns(table) or () if table else ())

    def node(self, y: Y, node_id: str, available: dict[str, tuple[str, ...]]) -> Node | None:
        if not isinstance(y.value, dict) or "kind" not in y.value:
            self.c.problem(y.line, "a node must be a mapping with `kind:`", f"kinds: {', '.join(NODE_KEYS)}")
            return None
        kind = self.c.one_of(
            y.value["kind"], "node kind", NODE_KEYS, lambda kind: f"unknown node kind {kind!r}", "a node kind"
        )
        if kind is None:
            return None
        m = self.c.mapping(y, f"{kind} node", allowed=("kind", "name", *NODE_KEYS[kind]))
        if m is None:
            return None
        name = self.c.name(m["name"], "node name") if "name" in m else f"{kind}-{node_id.replace('.', '-')}"
        if name is None:
            return None
        common = {"name": name, "id": node_id, "line": y.line}
        what = f"node {name}"
        if kind == "branch":
            return self._branch(m, common, available, what)
        build: Callable[[dict[str, Y], dict[str, Any], StaticScope, str], Node | None] = getattr(self, "_" + kind)
        return build(m, common, self.scope(available), what)

    def need(self, m: dict[str, Y], key: str, common: dict[str, Any], what: str) -> Y | None:
        if key not in m:
            self.c.problem(common["line"], f"{what} needs `{key}:`")
        return m.get(key)

    def _send_group_message(
        self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str
    ) -> Node | None:
        if "message" in m:
            return self._send_document(m, common, scope, what)
        chat = self.c.template(self.need(m, "chat", common, what), f"{what} chat", scope)
        if "text" not in m:
            self.c.problem(common["line"], f"{what} needs `text:` (or a `message:` document)")
        text = self.c.template(m.get("text"), f"{what} text", scope)
        markdown = self.c.boolean(m.get("markdown"), f"{what} markdown")
        title = self.c.template(m.get("title"), f"{what} title", scope)
        if markdown and "title" not in m:
            self.c.problem(
                common["line"], f"{what}: a markdown message needs a `title:`", "it is what the chat list shows"
            )
        if chat is None or text is None or (markdown and title is None):
            return None
        at_mobiles = self.c.template(m.get("at_mobiles"), f"{what} at_mobiles", scope)
        at_users = self.c.template(m.get("at_users"), f"{what} at_users", scope)
        at_all = self.c.boolean(m.get("at_all"), f"{what} at_all")
        return SendGroupMessage(
            **common,
            chat=chat,
            text=text,
            markdown=markdown,
            title=title,
            at_mobiles=at_mobiles,
            at_users=at_users,
            at_all=at_all,
        )

    def _send_document(self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str) -> Node | None:
        """`message:` — any kind of message, as a document; it replaces text/markdown/title/at_*."""
        chat = self.c.template(self.need(m, "chat", common, what), f"{what} chat", scope)
        for key in ("text", "markdown", "title", "at_mobiles", "at_users", "at_all"):
            if key in m:
                self.c.problem(
                    m[key].line,
                    f"{what}: `{key}:` goes inside `message:` when the node has one",
                    "move it into the message document (mentions: `at: {mobiles, user_ids, all}`)",
                )
                return None
        spec = MessageChecker(self.c).message(m["message"], f"{what} message", scope)
        if chat is None or spec is None:
            return None
        return SendGroupMessage(**common, chat=chat, message=spec)

    def _create_group(self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str) -> Node | None:
        group_name = self.c.template(self.need(m, "group_name", common, what), f"{what} group_name", scope)
        owner = self.c.template(self.need(m, "owner", common, what), f"{what} owner", scope)
        members = [self.c.template(item, f"{what} members", scope) for item in as_list(m.get("members"))]
        template_id = self.c.template(m.get("template_id"), f"{what} template_id", scope)
        if_exists = self.c.choice(m.get("if_exists"), f"{what} if_exists", ("fail", "reuse"), "fail")
        if group_name is None or owner is None or any(t is None for t in members):
            return None
        return CreateGroup(
            **common,
            group_name=group_name,
            owner=owner,
            members=tuple(t for t in members if t is not None),
            template_id=template_id,
            if_exists=if_exists,
        )

    def _add_data(self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str) -> Node | None:
        table = self.schema.table(self.need(m, "table", common, what), f"{what} table")
        values = self.schema.values(table, self.need(m, "values", common, what), f"{what} values", scope, writable=True)
        if table == GROUPS_TABLE and values is not None:
            given = {c for c, _ in values}
            if "name" not in given or not given & {"chat_id", "open_conversation_id"}:
                self.c.problem(
                    m["values"].line,
                    f"{what}: a row of groups needs `name` and `chat_id` (or `open_conversation_id`)",
                    'e.g. chat_id: "{{ nodes.建群.chat_id }}"',
                )
                return None
        if table is None or not values:
            return None
        return AddData(**common, table=table, values=values)

    def _update_data(self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str) -> Node | None:
        lookup = self.schema.lookup(m.get("table"), self.need(m, "where", common, what), what, scope, common["line"])
        table = lookup.table if lookup else None
        values = self.schema.values(table, self.need(m, "values", common, what), f"{what} values", scope, writable=True)
        if_none = self.c.choice(m.get("if_none"), f"{what} if_none", ("skip", "insert", "fail"), "skip")
        if lookup is None or not values:
            return None
        return UpdateData(**common, lookup=lookup, values=values, if_none=if_none)

    def _get_data(self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str) -> Node | None:
        lookup = self.schema.lookup(m.get("table"), self.need(m, "where", common, what), what, scope, common["line"])
        if_none = self.c.choice(m.get("if_none"), f"{what} if_none", ("empty", "fail"), "empty")
        return GetData(**common, lookup=lookup, if_none=if_none) if lookup else None

    def _delete_data(self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str) -> Node | None:
        lookup = self.schema.lookup(m.get("table"), self.need(m, "where", common, what), what, scope, common["line"])
        allow = self.c.boolean(m.get("allow_registry"), f"{what} allow_registry")
        if lookup is not None and lookup.table == GROUPS_TABLE and not allow:
            self.c.problem(
                m["table"].line,
                f"{what} would delete groups from the registry",
                "if that is what you mean, add `allow_registry: true` to the node",
            )
            return None
        if lookup is not None and allow and lookup.table != GROUPS_TABLE:
            self.c.problem(m["allow_registry"].line, f"{what}: allow_registry is for `table: groups`", "remove it")
            return None
        return DeleteData(**common, lookup=lookup, allow_registry=allow) if lookup else None

    def _branch(
        self, m: dict[str, Y], common: dict[str, Any], available: dict[str, tuple[str, ...]], what: str
    ) -> Node | None:
        mode = self._mode(m.get("mode"), what)
        raw_arms = self.c.seq(self.need(m, "branches", common, what), f"{what} branches")
        arms = [self._arm(y, f"{common['id']}.{i}", i, available, what, mode) for i, y in enumerate(raw_arms, 1)]
        if not raw_arms and "branches" in m:
            self.c.problem(m["branches"].line, f"{what} has no branches")
        good = [a for a in arms if a is not None]
        self.c.unique([(a.name, a.line) for a in good], f"branch name in {what}:")
        self.c.unique([(str(a.priority), a.line) for a in good if not a.default], f"branch priority in {what}:")
        defaults = [a for a in good if a.default]
        if len(defaults) > 1:
            self.c.problem(defaults[1].line, f"{what} has more than one default branch", "keep one `default: true`")
        if len(good) != len(raw_arms) or not good or mode is None:
            return None
        return Branch(**common, arms=tuple(good), mode=mode)

    def _mode(self, y: Y | None, what: str) -> str | None:
        """`mode: condition` (条件分支, the default) or `parallel` (并行分支)."""
        text = self.c.text(y, f"{what} mode", default=CONDITION)
        if text is None or y is None:
            return text
        mode = BRANCH_MODES.get(text.strip())
        if mode is None:
            self.c.problem(y.line, f"{what}: unknown branch mode {text.strip()!r}", "use condition or parallel")
        return mode

    def _arm(
        self, y: Y, arm_id: str, index: int, available: dict[str, tuple[str, ...]], what: str, mode: str | None
    ) -> Arm | None:
        m = self.c.mapping(y, f"a branch of {what}", allowed=ARM_KEYS)
        if m is None:
            return None
        name = self.c.name(m["name"], "branch name") if "name" in m else f"branch-{index}"
        if mode == PARALLEL:
            return self._parallel_arm(m, name, arm_id, index, available, what, y.line)
        default = self.c.boolean(m.get("default"), f"{what} branch default")
        priority = self.c.number(m.get("priority"), f"{what} branch priority", integer=True)
        when = None
        if default and "when" in m:
            self.c.problem(
                m["when"].line, f"{what}: the default branch runs when no other matched; it takes no `when:`"
            )
        elif not default and "when" not in m:
            self.c.problem(y.line, f"{what}: branch {name} needs `when:` conditions (or `default: true`)")
        elif "when" in m:
            when = self.conditions.group(m["when"], f"{what} branch {name}", self.scope(available), self.types)
        nodes = self.nodes(self.c.seq(m.get("nodes"), f"{what} branch {name} nodes"), f"{arm_id}.", available)
        if name is None or nodes is None or (not default and when is None):
            return None
        return Arm(
            name=name,
            id=arm_id,
            priority=int(priority if priority is not None else index),
            when=when,
            default=default,
            nodes=nodes,
            line=y.line,
        )

    def _parallel_arm(
        self,
        m: dict[str, Y],
        name: str | None,
        arm_id: str,
        index: int,
        available: dict[str, tuple[str, ...]],
        what: str,
        line: int,
    ) -> Arm | None:
        """An arm of a parallel branch node: `when:` optional (none: it always runs), no priority
        (arms run in the order written) and no default (there is no "otherwise")."""
        refused = [k for k in ("priority", "default") if k in m]
        for key in refused:
            why = "arms run in the order written" if key == "priority" else "every arm whose `when` holds runs"
            self.c.problem(
                m[key].line,
                f"{what}: a parallel branch has no {key} ({why})",
                f"remove `{key}:`" + ("; leave out `when:` for an arm that always runs" if key == "default" else ""),
            )
        when = None
        if "when" in m:
            when = self.conditions.group(m["when"], f"{what} branch {name}", self.scope(available), self.types)
        nodes = self.nodes(self.c.seq(m.get("nodes"), f"{what} branch {name} nodes"), f"{arm_id}.", available)
        if name is None or nodes is None or refused or ("when" in m and when is None):
            return None
        return Arm(name=name, id=arm_id, priority=index, when=when, default=False, nodes=nodes, line=line)
