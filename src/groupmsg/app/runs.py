"""Use cases of the run log (Yida's 运行日志): list, show, and resume what failed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import BadInput, GroupmsgError, NothingToDo
from ..state.model import FAILED, RUNNING, SUCCEEDED, UNSETTLED, Run

STATUSES = (SUCCEEDED, FAILED, RUNNING, UNSETTLED)

if TYPE_CHECKING:
    from ..delivery import DeliveryService, SendOptions
    from ..state.base import RunStore
    from .forms import FormsService


@dataclass(frozen=True)
class Listed:
    run: Run
    status: str  # the run's status, or `unsettled` when a process that is gone left it unfinished


@dataclass
class RetryReport:
    runs: list[Run] = field(default_factory=list)  # the runs resumed, as they ended
    problems: list[tuple[str, GroupmsgError]] = field(default_factory=list)  # runs that could not be


class RunsService:
    def __init__(
        self, runs: RunStore, delivery: Callable[[], DeliveryService], forms: Callable[[], FormsService]
    ) -> None:
        self.store = runs
        self._delivery = delivery  # built only to resend
        self._forms = forms  # a flow run is resumed with its flows file

    def _listed(self, run: Run) -> Listed:
        return Listed(run, UNSETTLED if self.store.unsettled(run) else run.status)

    def list(
        self,
        *,
        status: str | None = None,
        flow: str | None = None,
        record: str | None = None,
        limit: int | None = 50,
    ) -> list[Listed]:
        """Newest first, like Yida's 运行日志: by status, by flow, by the form record a run acted on."""
        if status is not None and status not in STATUSES:
            raise BadInput(f"unknown status {status!r}", hint=f"use one of {', '.join(STATUSES)}")
        runs = self.store.list(status=status, name=flow, limit=limit, record_id=record)
        return [self._listed(r) for r in runs]

    def show(self, run_id: str) -> Listed:
        return self._listed(self.store.get(run_id))

    def retry(self, run_id: str, options: SendOptions, *, webhook: str | None = None) -> Run:
        """Resume a run from its failed or unsettled steps; steps that succeeded are not repeated.
        A send to a webhook given on the command line (`send --webhook URL`) needs the URL again."""
        run = self.store.get(run_id)
        if run.kind == "flow":
            return self._forms().resume(run, options)
        return self._delivery().resume(run, options, webhook=webhook)

    def retry_all(
        self,
        options: SendOptions,
        *,
        on_problem: Callable[[str, GroupmsgError], None],
        webhook: str | None = None,
    ) -> RetryReport:
        """Resume every failed or unsettled run; one run's problem does not stop the others."""
        ids = [r.id for r in self.store.list(limit=None) if r.status == FAILED or self.store.unsettled(r)]
        if not ids:
            raise NothingToDo("no failed or unsettled runs")
        report = RetryReport()
        for run_id in ids:
            try:
                report.runs.append(self.retry(run_id, options, webhook=webhook))
            except GroupmsgError as exc:
                report.problems.append((run_id, exc))
                on_problem(run_id, exc)
        return report

    def prune(self, older_than_days: float) -> int:
        """Forget runs that finished more than `older_than_days` ago; running and unsettled runs stay."""
        from ..errors import BadInput

        if older_than_days < 0:
            raise BadInput("--older-than must be 0 days or more")
        return self.store.prune(older_than_days * 86400)
