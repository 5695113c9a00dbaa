"""The sandbox stands alone, and what the code cites exists.

* The sandbox imports nothing of groupmsg outside ``groupmsg.sandbox`` (it is the
  independent check of the client) and has no import cycle, counting imports
  inside functions and under TYPE_CHECKING.
* Every ``§n`` cited in a file that names ``docs/dingtalk-api.md`` is a section of it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = ROOT / "src" / "groupmsg" / "sandbox"
WIRE_DOC = ROOT / "docs" / "dingtalk-api.md"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT / "src").with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: frozenset[str] = frozenset()) -> set[str]:
    """Absolute names of every module imported anywhere in the file (``from x import y``
    counts as importing ``x.y`` when that is one of ``modules``, else ``x``)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return names


def _sandbox_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in SANDBOX.rglob("*.py")}
    modules = frozenset(files)
    return {name: {i for i in _imports(path, modules) if i in files and i != name} for name, path in files.items()}


def test_the_sandbox_imports_nothing_of_groupmsg_outside_itself():
    outside = {
        (_module_name(p), name)
        for p in SANDBOX.rglob("*.py")
        for name in _imports(p)
        if (name == "groupmsg" or name.startswith("groupmsg.")) and not name.startswith("groupmsg.sandbox")
    }
    assert outside == set()


def test_the_sandbox_has_no_import_cycle():
    graph = _sandbox_graph()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_every_cited_section_of_the_wire_contract_exists():
    anchors = set(re.findall(r'<a id="s(\d+(?:\.\d+)?)"></a>', WIRE_DOC.read_text(encoding="utf-8")))
    files = [*(ROOT / "src" / "groupmsg").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    missing = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        if "dingtalk-api.md" not in text:
            continue
        for match in re.finditer(r"(RFC \d+ )?§(\d+(?:\.\d+)?)", text):
            if not match.group(1) and match.group(2) not in anchors:
                missing.append(f"{path.relative_to(ROOT)}: §{match.group(2)}")
    assert missing == []


def test_section_citations_name_the_wire_contract():
    # A bare §n in a file that never says which document it means cites nothing a reader can find.
    unnamed = []
    for path in [*SANDBOX.rglob("*.py"), *(ROOT / "src" / "groupmsg" / "dingtalk").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if re.search(r"(?<!RFC \d{4} )§\d", text) and "dingtalk-api.md" not in text:
            unnamed.append(str(path.relative_to(ROOT)))
    assert unnamed == []
