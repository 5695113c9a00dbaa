"""Flows that would fire each other without end through 「允许自动触发」.

Flow X fires flow Y for certain when Y has `allow_auto_trigger`, no trigger filter, and listens to
an event that a top-level data node of X always causes (add_data: `created`; update_data with
`if_none: insert`: `created` or `updated`, so Y must listen to both). Nodes inside branches, and
update_data or delete_data that may match nothing, may not write: a loop through them may end, and
only the engine's chain limit (5 runs) stops it if it does not.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..model import FORM_EVENT, AddData, Flow, UpdateData
from .checker import Problem


def certain_writes(flow: Flow) -> list[frozenset[tuple[str, str]]]:
    """For each top-level write of `flow`: the (table, event) pairs one of which it surely causes."""
    out: list[frozenset[tuple[str, str]]] = []
    for node in flow.nodes:
        if isinstance(node, AddData):
            out.append(frozenset({(node.table, "created")}))
        elif isinstance(node, UpdateData) and node.if_none == "insert":
            out.append(frozenset({(node.lookup.table, "created"), (node.lookup.table, "updated")}))
    return out


def endless_loops(flows: tuple[Flow, ...], lines: Mapping[str, int]) -> list[Problem]:
    """A problem for each set of flows that certainly fire one another in a circle. `lines` gives
    the line of each flow's `allow_auto_trigger` key."""
    live = [f for f in flows if f.enabled]
    edges: dict[str, list[str]] = {}
    for x in live:
        writes = certain_writes(x)
        edges[x.name] = [
            y.name
            for y in live
            if y.name != x.name
            and y.allow_auto_trigger
            and y.trigger.kind == FORM_EVENT
            and y.trigger.filter is None
            and any(w <= {(y.trigger.form, e) for e in y.trigger.events} for w in writes)
        ]
    problems, reported = [], set()
    for start in edges:
        cycle = _cycle_from(start, edges)
        if cycle is None or frozenset(cycle) in reported:
            continue
        reported.add(frozenset(cycle))
        shown = " → ".join([*cycle, cycle[0]])
        problems.append(
            Problem(
                min(lines.get(n, 0) for n in cycle),
                f"flows {shown} fire one another without end (allow_auto_trigger, no trigger filter, "
                "a data node that always writes); at run time such a chain stops after 5 runs",
                f"give one of {', '.join(cycle)} a trigger `filter:` the written records do not pass, "
                "or remove its allow_auto_trigger",
            )
        )
    return problems


def _cycle_from(start: str, edges: Mapping[str, list[str]]) -> list[str] | None:
    """The shortest circle of flows from `start` back to it (breadth first), or None."""
    paths = [[start]]
    seen = {start}
    while paths:
        longer = []
        for path in paths:
            for nxt in edges.get(path[-1], []):
                if nxt == start:
                    return path
                if nxt not in seen:
                    seen.add(nxt)
                    longer.append([*path, nxt])
        paths = longer
    return None
