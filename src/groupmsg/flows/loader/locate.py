"""YAML text → a tree of `Y` values that remember their line (mapping keys too).

The only module of groupmsg that imports yaml, and only when `locate()` runs: importing the loader
(or the model) for its types costs no YAML parser. Duplicate keys, unsupported tags and alias bombs
are a `LocateError` here, not silent surprises. Nothing else of the loader is imported here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_NODES = 100_000  # YAML values after alias expansion: a billion-laughs file stops here


@dataclass(frozen=True)
class Y:
    """A YAML value and the (1-based) line it starts on. Mappings are dict[str, Y] and remember
    the line of each key; sequences are list[Y]; scalars are str, int, float, bool or None."""

    value: Any
    line: int
    key_lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        """The line of a key of this mapping (its own line for a key merged in with `<<`)."""
        line = self.key_lines.get(key, -1)
        return line if line > 0 else self.line


class LocateError(Exception):
    """The text cannot become a located tree: the line, what is wrong and how to fix it."""

    def __init__(self, line: int, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.message = message
        self.fix = fix


def locate(text: str) -> Y | None:
    """The located tree of `text`, None for an empty document; LocateError when it cannot be read."""
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader_cls)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise LocateError(
            line, f"not valid YAML: {exc.problem or exc.context}", "check the indentation and quoting"
        ) from None
    except yaml.YAMLError as exc:
        raise LocateError(1, f"not valid YAML: {exc}") from None
    if node is None:
        return None
    return _Locator(yaml).convert(node)


class _Locator:
    def __init__(self, yaml: Any) -> None:
        self.yaml = yaml
        self.constructor = yaml.constructor.SafeConstructor()
        self.count = 0

    def convert(self, node: Any) -> Y:
        self.count += 1
        if self.count > MAX_NODES:
            raise LocateError(node.start_mark.line + 1, "the file is too large once its aliases are expanded")
        line = node.start_mark.line + 1
        if isinstance(node, self.yaml.MappingNode):
            return self._mapping(node, line)
        if isinstance(node, self.yaml.SequenceNode):
            return Y([self.convert(item) for item in node.value], line)
        return Y(self._scalar(node, line), line)

    def _scalar(self, node: Any, line: int) -> Any:
        tag = node.tag
        if tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"):
            return str(node.value)  # dates stay text: 2026-03-01, as the submitter would type it
        if tag in (
            "tag:yaml.org,2002:null",
            "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ):
            try:
                return self.constructor.construct_object(node)
            except Exception:  # noqa: BLE001 — PyYAML raises assorted errors for odd numbers
                return str(node.value)
        raise LocateError(line, f"unsupported YAML tag {tag}", "remove the tag; write plain values")

    def _mapping(self, node: Any, line: int) -> Y:
        items: dict[str, Y] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._merge(value_node, items, key_lines)
                continue
            if not isinstance(key_node, self.yaml.ScalarNode):
                raise LocateError(key_line, "a mapping key must be a plain name", "write `name: value`")
            key = unicodedata.normalize("NFC", str(key_node.value))
            if key in key_lines and key_lines[key] != -1:
                raise LocateError(
                    key_line, f"duplicate key {key!r} (first at line {key_lines[key]})", "keep only one of them"
                )
            items[key] = self.convert(value_node)
            key_lines[key] = key_line
        return Y(items, line, key_lines)

    def _merge(self, value_node: Any, items: dict[str, Y], key_lines: dict[str, int]) -> None:
        """`<<: *defaults`: keys of the merged mapping(s) that the mapping does not set itself."""
        sources = value_node.value if isinstance(value_node, self.yaml.SequenceNode) else [value_node]
        for source in sources:
            merged = self.convert(source)
            if not isinstance(merged.value, dict):
                raise LocateError(merged.line, "`<<` merges a mapping only")
            for key, value in merged.value.items():
                if key not in items:
                    items[key] = value
                    key_lines[key] = -1  # merged: an explicit key may still override it
