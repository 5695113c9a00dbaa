"""What groupmsg keeps, as plain values: groups, form records, runs and their steps.

Every backend (`state.files`, `state.redis`) stores and returns these and nothing else, so callers
never see a storage format. Documents (`to_doc`/`from_doc`) are the JSON shapes the backends store
and `--json` prints. One module each: `checks` (the rules every stored string meets), `group`,
`record`, `run`; they are all importable from here, each module loaded on first use (PEP 562):
a send never builds the classes of form records.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checks import (
        DINGTALK_WEBHOOK_HOST,
        ENV_NAME,
        NAME_MAX,
        TEXT_MAX,
        URL_MAX,
        check_allow_host,
        check_env_name,
        check_name,
        check_secret,
        check_text,
        is_loopback,
        normalize_name,
        parse_webhook,
        pick_by_id,
        webhook_host,
    )
    from .group import Group, unknown_group
    from .record import (
        RECORD_ID_PREFIX,
        Record,
        as_text,
        new_record_id,
        record_choices,
        row_matches,
    )
    from .run import (
        DEDUPE_RETENTION_S,
        FAILED,
        ORPHAN_AFTER_S,
        PENDING,
        RUNNING,
        SKIPPED,
        SUCCEEDED,
        UNSETTLED,
        Run,
        Step,
        error_doc,
        new_run_id,
        nothing_to_retry,
        record_matches,
        run_choices,
        run_failure,
        same_cause,
        way_out,
    )

_HOMES = {
    "DINGTALK_WEBHOOK_HOST": "checks",
    "ENV_NAME": "checks",
    "NAME_MAX": "checks",
    "TEXT_MAX": "checks",
    "URL_MAX": "checks",
    "check_allow_host": "checks",
    "check_env_name": "checks",
    "check_name": "checks",
    "check_secret": "checks",
    "check_text": "checks",
    "is_loopback": "checks",
    "normalize_name": "checks",
    "parse_webhook": "checks",
    "webhook_host": "checks",
    "Group": "group",
    "unknown_group": "group",
    "RECORD_ID_PREFIX": "record",
    "Record": "record",
    "as_text": "record",
    "new_record_id": "record",
    "pick_by_id": "checks",
    "record_choices": "record",
    "row_matches": "record",
    "run_choices": "run",
    "DEDUPE_RETENTION_S": "run",
    "FAILED": "run",
    "ORPHAN_AFTER_S": "run",
    "PENDING": "run",
    "RUNNING": "run",
    "SKIPPED": "run",
    "SUCCEEDED": "run",
    "UNSETTLED": "run",
    "Run": "run",
    "Step": "run",
    "error_doc": "run",
    "new_run_id": "run",
    "nothing_to_retry": "run",
    "record_matches": "run",
    "run_failure": "run",
    "same_cause": "run",
    "way_out": "run",
}


__all__ = [
    "DEDUPE_RETENTION_S",
    "DINGTALK_WEBHOOK_HOST",
    "ENV_NAME",
    "FAILED",
    "NAME_MAX",
    "ORPHAN_AFTER_S",
    "PENDING",
    "RECORD_ID_PREFIX",
    "RUNNING",
    "SKIPPED",
    "SUCCEEDED",
    "TEXT_MAX",
    "UNSETTLED",
    "URL_MAX",
    "Group",
    "Record",
    "Run",
    "Step",
    "as_text",
    "check_allow_host",
    "check_env_name",
    "check_name",
    "check_secret",
    "check_text",
    "error_doc",
    "is_loopback",
    "new_record_id",
    "new_run_id",
    "normalize_name",
    "nothing_to_retry",
    "parse_webhook",
    "pick_by_id",
    "record_choices",
    "record_matches",
    "row_matches",
    "run_choices",
    "run_failure",
    "same_cause",
    "unknown_group",
    "way_out",
    "webhook_host",
]


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # found directly from now on
    return value
