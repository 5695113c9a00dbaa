"""`groups export` / `groups import`: the registry as CSV or JSON, so teams can keep it in git.

Exports leave out webhook URLs and signing secrets unless asked (`--include-secrets`): a file meant
for a repository should name an environment variable (`secret_env`) instead. Imports are validated
row by row — every problem reported with its row — before anything is written, and then written as
one step.

Exports are safe to open: in CSV, a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
return (which a spreadsheet would run as a formula) or with `'` gets a leading `'` (the OWASP rule
for CSV injection), which a CSV import removes again, so export → import gives the same groups;
control and invisible formatting characters are escaped (`\\u` in JSON, `\\x1b` in CSV).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ..errors import BadInput, GroupmsgError, ValidationError
from ..masking import escape_unsafe, json_safe
from ..state.model import Group

COLUMNS = [
    "name", "kind", "chat_id", "open_conversation_id", "webhook", "secret", "secret_env", "keywords", "owner",
    "webhook_env", "allow_host",
]
FORMATS = ("json", "csv")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP: what a spreadsheet reads as a formula


def export_rows(groups: list[Group], *, include_secrets: bool) -> tuple[list[dict[str, Any]], int]:
    """Rows to export, and how many webhook groups lost their URL or secret for want of --include-secrets."""
    rows, withheld = [], 0
    for g in groups:
        row = {c: getattr(g, c) for c in COLUMNS}
        row["keywords"] = list(g.keywords)
        if not include_secrets and (g.webhook or g.secret):
            row["webhook"] = row["secret"] = None
            withheld += 1
        rows.append(row)
    return rows, withheld


def dumps(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json_safe(json.dumps(rows, ensure_ascii=False, indent=2)) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(";".join(v) if isinstance(v, list) else v) for k, v in row.items()})
    return buf.getvalue()


def csv_cell(value: Any) -> str:
    """A value as a CSV cell a spreadsheet shows as text: formulas neutralised, controls escaped."""
    text = "" if value is None else escape_unsafe(str(value))
    return "'" + text if text.startswith((*FORMULA_START, "'")) else text


def _from_csv_cell(text: str) -> str:
    """Undo `csv_cell`'s leading quote (a value that started with `'` was given a second one)."""
    return text[1:] if text.startswith("'") else text


def loads(text: str, fmt: str, source: str) -> list[Group]:
    """Parse and validate every row; raise one ValidationError listing every bad row."""
    try:
        if fmt == "json":
            data = json.loads(text)
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise ValidationError(f"{source}: expected a JSON list of objects (as `groups export` writes)")
            rows = [(i, r) for i, r in enumerate(data, 1)]
        else:
            rows = [
                (i, {k: _from_csv_cell(v) if isinstance(v, str) else v for k, v in r.items()})
                for i, r in enumerate(csv.DictReader(io.StringIO(text)), 2)
            ]
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{source}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except csv.Error as exc:
        raise ValidationError(f"{source}: not valid CSV ({exc})") from None
    groups, problems = [], []
    where = "item" if fmt == "json" else "line"
    for n, row in rows:
        try:
            groups.append(_group(row))
        except GroupmsgError as exc:
            problems.append(f"{source} {where} {n}: {exc.message}")
    if problems:
        raise ValidationError(
            f"{len(problems)} bad row(s) in {source}; nothing was imported:\n  " + "\n  ".join(problems),
            hint="fix the rows and import again",
            problems=problems,
        )
    if not groups:
        raise BadInput(f"{source} has no groups")
    return groups


def _group(row: dict[str, Any]) -> Group:
    """One row as a group, checked as `Group.checked` checks every stored group."""

    def get(key: str) -> str | None:
        value = row.get(key)
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            raise BadInput(f"{key} must be text, not {type(value).__name__}")
        return value.strip() or None

    if None in row:  # csv.DictReader puts cells beyond the header under None
        raise BadInput(f"more cells than columns ({', '.join(COLUMNS)})")
    unknown = set(row) - set(COLUMNS) - {"source", "created_at", "signed"}
    if unknown:
        raise BadInput(f"unknown column(s) {', '.join(sorted(unknown))}")
    kind = get("kind") or ("webhook" if get("webhook") or get("webhook_env") else "app")
    raw_keywords = row.get("keywords") or []
    if not isinstance(raw_keywords, (str, list)) or not all(isinstance(k, str) for k in raw_keywords):
        raise BadInput("keywords must be a list (JSON) or separated by ; (CSV)")
    keywords = tuple(k.strip() for k in (raw_keywords.split(";") if isinstance(raw_keywords, str) else raw_keywords) if k.strip())
    if kind not in ("app", "webhook"):
        raise BadInput(f"kind must be app or webhook, not {kind!r}")
    hook = kind == "webhook"
    if hook and not (get("webhook") or get("webhook_env")):
        raise BadInput(
            f"{get('name')!r} is a webhook group without its webhook URL (exported without --include-secrets?)",
            hint="give webhook_env: the name of the variable holding the URL at send time",
        )
    if hook and get("webhook") and get("webhook_env"):
        raise BadInput(f"{get('name')!r} has both webhook and webhook_env: keep one")
    if not hook and not (get("chat_id") or get("open_conversation_id")):
        raise BadInput(f"{get('name')!r} has neither chat_id nor open_conversation_id")

    def of(kind_: str, key: str) -> str | None:  # a column that belongs to the other kind is ignored
        return get(key) if kind == kind_ else None

    return Group(
        name=get("name") or "",
        kind=kind,
        chat_id=of("app", "chat_id"),
        open_conversation_id=of("app", "open_conversation_id"),
        webhook=of("webhook", "webhook"),
        webhook_env=of("webhook", "webhook_env"),
        secret=of("webhook", "secret"),
        secret_env=of("webhook", "secret_env"),
        keywords=keywords if hook else (),
        owner=get("owner"),
        allow_host=of("webhook", "allow_host"),
        source="import",
    ).checked()
