"""What the Databricks work of each Dagster step cost, summed from this instrumentation's finished spans.

:class:`StepCostLedger` is a span processor: for every span of this instrumentation that carries a Dagster run id
it adds the span's estimate (``databricks.dbu.estimated``, ``databricks.cost.estimated_usd``) and ids to the entry
of its step, keyed by run id, op, asset key and partition key, the way :func:`current_context` names the step.
Spans marked ``databricks.cost.summable=false`` (a run's tasks) are left out: their run's span already carries
their cost. The ledger keeps at most
``max_steps`` steps (the least recently updated go first) and ``max_ids`` ids of each kind per step.

Usage::

    from opentelemetry_instrumentation_databricks.dagster.costs import LEDGER, attach_ledger

    attach_ledger(tracer_provider)            # once; the resource does it on first use
    LEDGER.summary(current_context())         # a CostSummary of the running step
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from ..attributes import COST_ESTIMATED_USD, COST_SUMMABLE, DBU_ESTIMATED, JOB_RUN_ID, PIPELINE_UPDATE_ID, STATEMENT_ID
from ..context import ASSET_KEY, OP_NAME, PARTITION_KEY, RUN_ID, OrchestrationContext

INSTRUMENTATION_SCOPE = "opentelemetry_instrumentation_databricks"
DB_SYSTEM_NAME = "db.system.name"
DEFAULT_MAX_STEPS = 1024
DEFAULT_MAX_IDS = 100

StepKey = tuple[str, str | None, str | None, str | None]


def step_key(context: OrchestrationContext) -> StepKey | None:
    if context.run_id is None:
        return None
    return (context.run_id, context.op_name, context.asset_key, context.partition_key)


@dataclass(frozen=True)
class CostSummary:
    """The Databricks work of one Dagster step so far: counts, estimated DBUs and dollars, and ids to join on.

    ``cost_status`` is ``estimated``: billed figures come later from ``system.billing.usage`` through the
    reconciler, onto the trace (look the work up by ``trace_ids`` or by the ``dagster_run_id`` tag).
    """

    statements: int = 0
    job_runs: int = 0
    pipeline_updates: int = 0
    failed: int = 0
    dbu_estimated: float = 0.0
    cost_estimated_usd: float = 0.0
    statement_ids: tuple[str, ...] = ()
    job_run_ids: tuple[str, ...] = ()
    pipeline_update_ids: tuple[str, ...] = ()
    trace_ids: tuple[str, ...] = ()
    ids_left_out: int = 0
    cost_status: str = "estimated"

    @property
    def units_of_work(self) -> int:
        return self.statements + self.job_runs + self.pipeline_updates


@dataclass
class _Entry:
    statements: int = 0
    job_runs: int = 0
    pipeline_updates: int = 0
    failed: int = 0
    dbu: float = 0.0
    dollars: float = 0.0
    statement_ids: dict[str, None] = field(default_factory=dict)
    job_run_ids: dict[str, None] = field(default_factory=dict)
    pipeline_update_ids: dict[str, None] = field(default_factory=dict)
    trace_ids: dict[str, None] = field(default_factory=dict)
    ids_left_out: int = 0

    def remember(self, ids: dict[str, None], value: Any, limit: int) -> None:
        value = str(value)
        if value in ids:
            return
        if len(ids) < limit:
            ids[value] = None
        else:
            self.ids_left_out += 1

    def summary(self) -> CostSummary:
        return CostSummary(
            statements=self.statements,
            job_runs=self.job_runs,
            pipeline_updates=self.pipeline_updates,
            failed=self.failed,
            dbu_estimated=self.dbu,
            cost_estimated_usd=self.dollars,
            statement_ids=tuple(self.statement_ids),
            job_run_ids=tuple(self.job_run_ids),
            pipeline_update_ids=tuple(self.pipeline_update_ids),
            trace_ids=tuple(self.trace_ids),
            ids_left_out=self.ids_left_out,
        )


class StepCostLedger(SpanProcessor):
    """Sums the estimates of finished spans per Dagster step; see the module docstring."""

    def __init__(self, max_steps: int = DEFAULT_MAX_STEPS, max_ids: int = DEFAULT_MAX_IDS) -> None:
        self._steps: OrderedDict[StepKey, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._max_steps = max_steps
        self._max_ids = max_ids
        self.steps_dropped = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        scope = span.instrumentation_scope
        if scope is None or scope.name != INSTRUMENTATION_SCOPE:
            return
        attributes = span.attributes or {}
        if attributes.get(COST_SUMMABLE) is False:
            return
        run_id = attributes.get(RUN_ID)
        if run_id is None:
            return
        key = (str(run_id), attributes.get(OP_NAME), attributes.get(ASSET_KEY), attributes.get(PARTITION_KEY))
        dbu = attributes.get(DBU_ESTIMATED)
        statement_id = attributes.get(STATEMENT_ID)
        job_run_id = attributes.get(JOB_RUN_ID)
        update_id = attributes.get(PIPELINE_UPDATE_ID)
        with self._lock:
            entry = self._entry(key)
            limit = self._max_ids
            if dbu is not None:
                entry.dbu += float(dbu)
                entry.dollars += float(attributes.get(COST_ESTIMATED_USD) or 0.0)
                if job_run_id is not None:
                    entry.job_runs += 1
                elif update_id is not None:
                    entry.pipeline_updates += 1
                elif DB_SYSTEM_NAME in attributes:
                    entry.statements += 1
                if span.status.status_code is StatusCode.ERROR:
                    entry.failed += 1
            if statement_id is not None:
                entry.remember(entry.statement_ids, statement_id, limit)
            if job_run_id is not None:
                entry.remember(entry.job_run_ids, job_run_id, limit)
            if update_id is not None:
                entry.remember(entry.pipeline_update_ids, update_id, limit)
            if span.context is not None:
                entry.remember(entry.trace_ids, f"{span.context.trace_id:032x}", limit)

    def _entry(self, key: StepKey) -> _Entry:
        entry = self._steps.get(key)
        if entry is None:
            entry = self._steps[key] = _Entry()
            while len(self._steps) > self._max_steps:
                self._steps.popitem(last=False)
                self.steps_dropped += 1
        else:
            self._steps.move_to_end(key)
        return entry

    def summary(self, context: OrchestrationContext) -> CostSummary:
        """The summary of the step ``context`` names (empty when it has no run id or nothing was recorded)."""
        key = step_key(context)
        with self._lock:
            entry = self._steps.get(key) if key is not None else None
            return entry.summary() if entry is not None else CostSummary()

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


LEDGER = StepCostLedger()
_attached: weakref.WeakSet[Any] = weakref.WeakSet()
_attach_lock = threading.Lock()


def attach_ledger(tracer_provider: Any) -> bool:
    """Add :data:`LEDGER` to an SDK ``TracerProvider`` once; ``False`` when the provider takes no processors."""
    if not hasattr(tracer_provider, "add_span_processor"):
        return False
    with _attach_lock:
        if tracer_provider not in _attached:
            tracer_provider.add_span_processor(LEDGER)
            _attached.add(tracer_provider)
    return True
