"""`groups export` / `groups import`: the registry as CSV or JSON, so teams can keep it in git.

Exports leave out webhook URLs and signing secrets unless asked (`--include-secrets`): a file meant
for a repository should name an environment variable (`secret_env`) instead. Imports are validated
row by row — every problem reported with its row — before anything is written, and then written as
one step.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ..errors import BadInput, GroupmsgError, ValidationError
from ..state.model import Group, check_env_name, check_secret, normalize_name, parse_webhook

# webhook_env last: files written before it existed read the same.
COLUMNS = [
    "name", "kind", "chat_id", "open_conversation_id", "webhook", "secret", "secret_env", "keywords", "owner",
    "webhook_env",
]
FORMATS = ("json", "csv")


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
        return json.dumps(rows, ensure_ascii=False, indent=2) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ";".join(v) if isinstance(v, list) else ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def loads(text: str, fmt: str, source: str) -> list[Group]:
    """Parse and validate every row; raise one ValidationError listing every bad row."""
    try:
        if fmt == "json":
            data = json.loads(text)
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise ValidationError(f"{source}: expected a JSON list of objects (as `groups export` writes)")
            rows = [(i, r) for i, r in enumerate(data, 1)]
        else:
            rows = [(i, r) for i, r in enumerate(csv.DictReader(io.StringIO(text)), 2)]
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
    def get(key: str) -> str | None:
        value = row.get(key)
        return str(value).strip() or None if value not in (None, "") else None

    if None in row:  # csv.DictReader puts cells beyond the header under None
        raise BadInput(f"more cells than columns ({', '.join(COLUMNS)})")
    unknown = set(row) - set(COLUMNS) - {"source", "created_at", "signed"}
    if unknown:
        raise BadInput(f"unknown column(s) {', '.join(sorted(unknown))}")
    name = normalize_name(get("name") or "")
    kind = get("kind") or ("webhook" if get("webhook") or get("webhook_env") else "app")
    raw_keywords = row.get("keywords") or []
    if not isinstance(raw_keywords, (str, list)):
        raise BadInput("keywords must be a list (JSON) or separated by ; (CSV)")
    keywords = tuple(k.strip() for k in (raw_keywords.split(";") if isinstance(raw_keywords, str) else raw_keywords) if str(k).strip())
    if kind == "webhook":
        if not (get("webhook") or get("webhook_env")):
            raise BadInput(
                f"{name!r} is a webhook group without its webhook URL (exported without --include-secrets?)",
                hint="give webhook_env: the name of the variable holding the URL at send time",
            )
        if get("webhook") and get("webhook_env"):
            raise BadInput(f"{name!r} has both webhook and webhook_env: keep one")
        secret = get("secret")
        webhook, webhook_env = get("webhook"), get("webhook_env")
        return Group(
            name=name,
            kind="webhook",
            webhook=parse_webhook(webhook) if webhook else None,
            webhook_env=check_env_name(webhook_env, "webhook_env") if webhook_env else None,
            secret=check_secret(secret) if secret else None,
            secret_env=get("secret_env"),
            keywords=keywords,
            owner=get("owner"),
            source="import",
        )
    if kind != "app":
        raise BadInput(f"kind must be app or webhook, not {kind!r}")
    if not (get("chat_id") or get("open_conversation_id")):
        raise BadInput(f"{name!r} has neither chat_id nor open_conversation_id")
    return Group(
        name=name,
        kind="app",
        chat_id=get("chat_id"),
        open_conversation_id=get("open_conversation_id"),
        owner=get("owner"),
        source="import",
    )
