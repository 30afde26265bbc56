"""The reconciler: billed cost that arrived since the last run, as ``databricks.billing`` spans in the original traces.

Meant to run on a schedule. From cron (every hour)::

    0 * * * *  DATABRICKS_HOST=... DATABRICKS_HTTP_PATH=... DATABRICKS_TOKEN=... \\
               OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 \\
               databricks-otel-reconcile run --state /var/lib/otel/reconcile.sqlite --records /mnt/otel/span-records

As a Dagster schedule::

    import dagster as dg
    from opentelemetry_instrumentation_databricks.reconcile import Reconciler

    @dg.op
    def reconcile_billing(context):
        result = Reconciler.from_environment(state_path="/var/lib/otel/reconcile.sqlite",
                                             records_directory="/mnt/otel/span-records").run()
        context.log.info(result.summary())

    @dg.job
    def billing_reconciliation():
        reconcile_billing()

    reconcile_hourly = dg.ScheduleDefinition(job=billing_reconciliation, cron_schedule="0 * * * *")

Library use: ``Reconciler(source, exporter, StateStore(path), records_directory=..., meter_provider=...).run()``.

What one run does: it asks the billing source for every unit (job run, pipeline update, notebook or all-purpose
cluster per day, SQL statement, idle warehouse-hour, other usage) with a ``system.billing.usage`` row ingested on or
after its watermark (``ingestion_date``), priced over ALL the unit's rows (every record type). For each unit whose
total differs from what was emitted before it emits ONE ``databricks.billing`` span carrying the difference
(``databricks.dbu.billed``, ``databricks.cost.billed_usd``; ``databricks.billing.delta=true`` after the first), timed
over the unit's usage window, child of the span that did the work. The parent comes from the span-time id record
(:mod:`.records`), else from our ``otel_trace_id``/``otel_span_id`` tags (cluster custom tags in billing.usage,
query tags in query.history), else the span is a root of a trace of its own (``databricks.billing.parent=none``).
Idle warehouse time and usage of no known unit come back as root spans with
``databricks.cost.attribution=unattributed``, so the billing spans of a period sum to billing.usage.
``databricks.dbu.billed`` / ``databricks.cost.billed`` metric points are cumulative totals of the committed state.

Bounded work: one small statement first counts the changed rows per usage date
(:func:`.query.changed_days_sql`); the days are cut into slices of at most ``slice_rows`` changed rows, and each
slice is ONE statement (:func:`.query.changed_billing_sql`) that prices the units used in the slice (over all their
rows) and the statements of the slice's warehouse-hours (reading only warehouse-hours and query history within 48 h
of the slice). Each slice's units go through steps 2-4 below in batches of 20,000; the watermark moves only after
the last slice. A unit used in two slices is priced whole in both; the second sees its total already committed and
emits nothing.

Crash-safety protocol (the state store is one SQLite file, see :mod:`.state`):

1. RECOVER: if the outbox holds entries, a previous run died after step 2: export them again (same payloads, so
   the same trace and span ids), then step 4. If that export fails, stop: nothing else moves.
2. QUERY then STAGE, per slice: read billing (a failure here changes nothing: the watermark stays and the next
   run repeats); compute each unit's delta against ``units``; write every delta to the outbox, with its
   deterministic span id, in ONE transaction (after the last slice: the new watermark, as *pending*).
3. EXPORT the staged spans through the span exporter and wait for its result.
4. COMMIT in ONE transaction: outbox totals become ``units``, the outbox empties, the pending watermark becomes the
   watermark.

A crash between 1/2 and 3 loses nothing (the outbox or the unmoved watermark brings the units back). A crash
between 3 and 4 re-exports the same spans with the same ids at the next run: the state and the metrics never count
them twice, and a backend sees a repeat of an identical span (same trace id and span id), never a second dollar
amount. A rerun with no new billing emits nothing (every delta is zero).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from ..attributes import (
    BILLING_ATTRIBUTED_COST_DBU,
    BILLING_ATTRIBUTED_COST_DEVIATION,
    BILLING_ATTRIBUTION_SOURCE,
    BILLING_DBU_TOTAL,
    BILLING_DELTA,
    BILLING_PARENT,
    BILLING_ROWS,
    BILLING_UNIT_ID,
    BILLING_UNIT_KIND,
    BILLING_UNPRICED_ROWS,
    BILLING_USD_TOTAL,
    CLUSTER_ID,
    COMPUTE_TYPE,
    COST_ATTRIBUTION,
    COST_BILLED_USD,
    COST_ESTIMATE_ERROR,
    COST_SOURCE,
    DBU_BILLED,
    JOB_ID,
    WAREHOUSE_ID,
)
from ..version import __version__
from .attributed_cost import AUTO, AttributedCost, deviation
from .attribution import CONTEXT_ATTRIBUTES, attribution, compute_type_of, metric_labels
from .keys import CLUSTER, NOTEBOOK, STATEMENT
from .metrics import BilledCostMetrics
from .query import WAREHOUSE_IDLE
from .records import SpanIdRecords, SpanRecord
from .source import BilledCost, SqlBillingSource
from .spans import billing_span, deterministic_span_id, deterministic_trace_id
from .state import Emitted, OutboxEntry, StateStore, labels_json

_logger = logging.getLogger(__name__)

_EPSILON = 1e-9
_EXPORT_BATCH = 512
_COMMIT_BATCH = 20_000
MAX_BILLED_SERIES = 2_000
"""At most this many label sets for billed metrics; a unit that would open another goes into the series of its
unit kind and attribution alone (no other label), so the metric never grows without bound."""
SERVICE_NAME = "databricks-otel-reconciler"


class ExportFailed(RuntimeError):
    """The span exporter did not accept the billing spans; the outbox keeps them for the next run."""


@dataclass
class ReconcileResult:
    recovered: int = 0
    emitted: int = 0
    restatements: int = 0
    attributed_dbu: float = 0.0
    attributed_usd: float = 0.0
    unattributed_dbu: float = 0.0
    unattributed_usd: float = 0.0
    malformed_rows: int = 0
    unpriced_rows: int = 0
    watermark: str | None = None
    slices: int = 0
    parents: dict[str, int] = field(default_factory=dict)
    compared: int = 0
    """Statements billed beside a ``system.billing.attributed_cost`` record."""
    compared_absolute_deviation: float = 0.0
    """The sum of their ``|apportioned - attributed| / attributed``."""

    def comparison(self) -> str | None:
        """How far our apportioning is from ``system.billing.attributed_cost``; ``None`` when nothing was compared."""
        if not self.compared:
            return None
        mean = self.compared_absolute_deviation / self.compared
        return f"{self.compared} statements beside system.billing.attributed_cost, mean |deviation| {mean:.1%}"

    def summary(self) -> str:
        compared = f"; {self.comparison()}" if self.compared else ""
        return (
            f"{self.emitted} billing spans ({self.restatements} corrections, {self.recovered} recovered); "
            f"attributed {self.attributed_dbu:.4f} DBU / ${self.attributed_usd:.4f}, unattributed "
            f"{self.unattributed_dbu:.4f} DBU / ${self.unattributed_usd:.4f}; malformed rows {self.malformed_rows}, "
            f"unpriced rows {self.unpriced_rows}; watermark {self.watermark}{compared}"
        )


class Reconciler:
    """Puts billed cost that arrived since the last run into the traces, once. See the module docstring."""

    def __init__(
        self,
        source: SqlBillingSource,
        exporter: SpanExporter,
        state: StateStore,
        *,
        records_directory: str | os.PathLike[str] | None = None,
        meter_provider: MeterProvider | None = None,
        resource: Resource | None = None,
        lookback_days: int = 30,
        watermark_overlap_days: int = 1,
        slice_rows: int = 1_000_000,
        clock: Callable[[], float] | None = None,
        attributed_cost: str = AUTO,
    ) -> None:
        self.source = source
        rows = getattr(source, "rows", None)
        self.attributed_cost = AttributedCost(rows, attributed_cost) if callable(rows) else None
        self.exporter = exporter
        self.state = state
        self.records_directory = records_directory
        self.resource = resource or reconciler_resource(state)
        self.scope = InstrumentationScope("opentelemetry_instrumentation_databricks.reconcile", __version__)
        if isinstance(lookback_days, bool) or not isinstance(lookback_days, int) or lookback_days < 0:
            raise ValueError(
                f"lookback_days={lookback_days!r}: a whole number of days >= 0 to read back on a first run"
            )
        self.lookback_days = lookback_days
        self.watermark_overlap_days = watermark_overlap_days
        self.slice_rows = slice_rows
        self.clock = clock or source.clock
        self.tag_keys: tuple[str, ...] = tuple(getattr(source, "tag_keys", ()))
        self._series: set[str] = set()
        self.meter_provider = meter_provider
        self.metrics = (
            BilledCostMetrics(meter_provider.get_meter(self.scope.name, __version__), state.totals_by_series)
            if meter_provider is not None
            else None
        )

    @classmethod
    def from_environment(
        cls,
        *,
        state_path: str,
        records_directory: str | None = None,
        host: str | None = None,
        http_path: str | None = None,
        warehouse_id: str | None = None,
        token: str | None = None,
        discount: float = 1.0,
        lookback_days: int = 30,
        exporter: SpanExporter | None = None,
        meter_provider: MeterProvider | None = None,
        tag_keys: Sequence[str] | None = None,
        attributed_cost: str | None = None,
    ) -> Reconciler:
        """A reconciler wired from ``DATABRICKS_*`` and ``OTEL_*`` environment variables (see :mod:`.wiring`;
        user tag keys from ``OTEL_INSTRUMENTATION_DATABRICKS_BILLING_TAG_KEYS``, the attributed-cost comparison from
        ``OTEL_INSTRUMENTATION_DATABRICKS_BILLING_ATTRIBUTED_COST``); the arguments override them."""
        from .configurator import reconcile_settings
        from .wiring import build_meter_provider, build_span_exporter, connection_factory

        settings = reconcile_settings(os.environ)
        if tag_keys is None:
            tag_keys = settings["billing_tag_keys"]
        if attributed_cost is None:
            attributed_cost = settings["billing_attributed_cost"]
        state = StateStore(state_path)
        source = SqlBillingSource(
            connection_factory(host, http_path, warehouse_id, token), discount=discount, tag_keys=tag_keys
        )
        return cls(
            source,
            exporter if exporter is not None else build_span_exporter(),
            state,
            records_directory=records_directory,
            meter_provider=meter_provider
            if meter_provider is not None
            else build_meter_provider(reconciler_resource(state)),
            lookback_days=lookback_days,
            attributed_cost=attributed_cost,
        )

    def run(self) -> ReconcileResult:
        result = ReconcileResult()
        pending = self.state.outbox()
        if pending:
            self._export(pending)
            self.state.commit_outbox()
            result.recovered = len(pending)
        today = dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc).date()
        horizon = today - dt.timedelta(days=self.lookback_days)
        watermark = min(dt.date.fromisoformat(self.state.meta("watermark") or horizon.isoformat()), today)
        previous_complete = int(self.state.meta("complete_before_ms") or 0)
        complete_before = self.source.complete_before_ms()
        window = {
            "watermark": watermark,
            "previous_complete_before_ms": previous_complete,
            "complete_before_ms": complete_before,
            "horizon": horizon,
        }
        malformed_before = self.source.report.malformed_rows
        self._series = self.state.label_sets()
        seen: dt.date | None = None
        for first_day, last_day in self.source.changed_slices(**window, max_rows=self.slice_rows):
            costs = list(self.source.changed(**window, first_day=first_day, last_day=last_day))
            result.unpriced_rows += sum(cost.unpriced_rows for cost in costs)
            days = [cost.last_ingestion for cost in costs if cost.last_ingestion]
            seen = max([*days, seen] if seen else days, default=None)
            records = self._records(costs)
            for start in range(0, len(costs), _COMMIT_BATCH):
                batch = costs[start : start + _COMMIT_BATCH]
                emitted = self.state.emitted(cost.unit for cost in batch)
                attributed = self._attributed([cost for cost in batch if _changed(cost, emitted.get(cost.unit))])
                entries = []
                for cost in batch:
                    entry = self._entry(cost, emitted.get(cost.unit), records, result, attributed.get(cost.unit_id))
                    if entry is not None:
                        entries.append(entry)
                self.state.stage(entries, {})
                self._export(entries)
                self.state.commit_outbox()
                result.emitted += len(entries)
            result.slices += 1
        result.malformed_rows = self.source.report.malformed_rows - malformed_before
        new_watermark = watermark
        if seen is not None:
            new_watermark = min(max(watermark, seen - dt.timedelta(days=self.watermark_overlap_days)), seen)
        result.watermark = new_watermark.isoformat()
        self.state.stage([], {"watermark": new_watermark.isoformat(), "complete_before_ms": str(complete_before)})
        self.state.commit_outbox()
        return result

    # building the deltas
    def _attributed(self, costs: Sequence[BilledCost]) -> dict[str, float]:
        """``system.billing.attributed_cost``'s DBUs for the statements among ``costs`` (read only for those about to
        be emitted)."""
        if self.attributed_cost is None:
            return {}
        return self.attributed_cost.dbu(cost.unit_id for cost in costs if cost.kind == STATEMENT)

    def _records(self, costs: Sequence[BilledCost]) -> SpanIdRecords:
        if self.records_directory is None:
            return SpanIdRecords()
        wanted = {_record_unit(cost) for cost in costs if cost.attributed}
        return SpanIdRecords.load(self.records_directory, units=wanted)

    def _entry(
        self,
        cost: BilledCost,
        previous: Emitted | None,
        records: SpanIdRecords,
        result: ReconcileResult,
        attributed_dbu: float | None = None,
    ) -> OutboxEntry | None:
        if not _changed(cost, previous):
            return None
        usd = cost.usd or 0.0
        delta_dbu, delta_usd = _delta(cost, previous)
        emission = (previous.emissions if previous else 0) + 1
        if previous is not None:
            result.restatements += 1
        if cost.attributed:
            result.attributed_dbu += delta_dbu
            result.attributed_usd += delta_usd
        else:
            result.unattributed_dbu += delta_dbu
            result.unattributed_usd += delta_usd
        matched = _matching_records(cost, records.get(_record_unit(cost)))
        trace_id, parent_id, parent_source = self._parent(cost, matched)
        result.parents[parent_source] = result.parents.get(parent_source, 0) + 1
        found = attribution(
            kind=cost.kind,
            recorded=[{**(r.context or {}), COMPUTE_TYPE: r.compute_type or ""} for r in matched],
            tags=cost.tags,
            user_keys=self.tag_keys,
            billing_facts=_billing_facts(cost),
        )
        attributes: dict[str, Any] = {
            **found.attributes,
            BILLING_ATTRIBUTION_SOURCE: found.source,
            BILLING_UNIT_KIND: cost.kind,
            BILLING_UNIT_ID: cost.unit_id,
            DBU_BILLED: delta_dbu,
            COST_BILLED_USD: delta_usd,
            BILLING_DBU_TOTAL: cost.dbu,
            BILLING_USD_TOTAL: usd,
            BILLING_DELTA: previous is not None,
            BILLING_PARENT: parent_source,
            BILLING_ROWS: cost.row_count,
            COST_SOURCE: "billing",
            COST_ATTRIBUTION: "attributed" if cost.attributed else "unattributed",
        }
        if cost.unpriced_rows:
            attributes[BILLING_UNPRICED_ROWS] = cost.unpriced_rows
        if attributed_dbu is not None and cost.kind == STATEMENT:
            attributes[BILLING_ATTRIBUTED_COST_DBU] = attributed_dbu
            off = deviation(cost.dbu, attributed_dbu)
            if off is not None:
                attributes[BILLING_ATTRIBUTED_COST_DEVIATION] = off
                result.compared += 1
                result.compared_absolute_deviation += abs(off)
        estimated = [r.estimated_usd for r in matched if r.estimated_usd is not None]
        if estimated and usd > 0:
            attributes[COST_ESTIMATE_ERROR] = (sum(estimated) - usd) / usd
        payload = {
            "trace_id": f"{trace_id:032x}",
            "span_id": f"{deterministic_span_id(cost.kind, cost.unit_id, emission):016x}",
            "parent_id": f"{parent_id:016x}" if parent_id is not None else None,
            "start_ns": cost.usage_start_ms * 1_000_000,
            "end_ns": cost.usage_end_ms * 1_000_000,
            "attributes": attributes,
        }
        if previous is not None:
            labels, context = previous.labels, previous.context
        else:
            labels = self._labels(found.attributes)
            context = {name: found.attributes[name] for name in CONTEXT_ATTRIBUTES if name in found.attributes}
            if estimated:
                context["estimated_usd"] = sum(estimated)
        return OutboxEntry(
            cost.kind, cost.unit_id, cost.dbu, usd, delta_dbu, delta_usd, emission, payload, labels, context
        )

    def _labels(self, attributes: dict[str, Any]) -> dict[str, str]:
        labels = metric_labels(attributes, self.tag_keys)
        spelled = labels_json(labels)
        if spelled not in self._series:
            if len(self._series) >= MAX_BILLED_SERIES:
                return {}
            self._series.add(spelled)
        return labels

    @staticmethod
    def _parent(cost: BilledCost, matched: Sequence[SpanRecord]) -> tuple[int, int | None, str]:
        if matched:
            best = max(matched, key=lambda r: (r.end_ns - r.start_ns, r.end_ns))
            return best.trace_id, best.span_id, "span_record"
        try:
            trace_id = int(cost.trace_tag or "", 16)
            span_id = int(cost.span_tag or "", 16)
            if trace_id and span_id:
                return trace_id, span_id, "tags"
        except ValueError:
            pass
        return deterministic_trace_id(cost.kind, cost.unit_id.split("@")[0]), None, "none"

    # exporting
    def _export(self, entries: Sequence[OutboxEntry]) -> None:
        for start in range(0, len(entries), _EXPORT_BATCH):
            spans = [self._span(entry) for entry in entries[start : start + _EXPORT_BATCH]]
            outcome = self.exporter.export(spans)
            if outcome is not SpanExportResult.SUCCESS:
                raise ExportFailed(
                    f"the span exporter refused {len(entries) - start} billing spans ({outcome}); they stay in the "
                    f"outbox of {self.state.path} and go out at the next run"
                )

    def _span(self, entry: OutboxEntry) -> ReadableSpan:
        payload = entry.payload
        return billing_span(
            trace_id=int(payload["trace_id"], 16),
            span_id=int(payload["span_id"], 16),
            parent_span_id=int(payload["parent_id"], 16) if payload["parent_id"] else None,
            start_ns=int(payload["start_ns"]),
            end_ns=int(payload["end_ns"]),
            attributes=payload["attributes"],
            resource=self.resource,
            scope=self.scope,
        )


def reconciler_resource(state: StateStore) -> Resource:
    """``service.name=databricks-otel-reconciler`` and ``service.instance.id`` from the state store, so every run
    of one reconciler continues the same metric series; ``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` win."""
    defaults = Resource.create({"service.name": SERVICE_NAME, "service.instance.id": state.instance_id()})
    return defaults.merge(OTELResourceDetector().detect()).merge(_service_name_from_environment())


def _service_name_from_environment() -> Resource:
    name = os.environ.get("OTEL_SERVICE_NAME", "").strip()
    return Resource({"service.name": name}) if name else Resource.get_empty()


def _billing_facts(cost: BilledCost) -> dict[str, str | None]:
    """What billing itself says of a unit: its warehouse, cluster and job ids and (from the SKU) its compute type."""
    cluster = cost.cluster_id
    if cost.kind == CLUSTER:
        cluster = cluster or cost.unit_id.split("/", 1)[0]
    elif cost.kind == NOTEBOOK:
        cluster = cluster or cost.scope
    return {
        WAREHOUSE_ID: cost.scope if cost.kind in (STATEMENT, WAREHOUSE_IDLE) else None,
        CLUSTER_ID: cluster,
        JOB_ID: cost.job_id,
        COMPUTE_TYPE: compute_type_of(cost.kind, cost.sku_name),
    }


def _record_unit(cost: BilledCost) -> tuple[str, str]:
    """The id-record unit of a billed unit: notebooks and clusters are billed per day but recorded per span."""
    if cost.kind in (NOTEBOOK, CLUSTER):
        return cost.kind, cost.unit_id.rsplit("/", 1)[0]
    return cost.unit


def _delta(cost: BilledCost, previous: Emitted | None) -> tuple[float, float]:
    """DBUs and dollars of ``cost`` not yet emitted."""
    return cost.dbu - (previous.dbu if previous else 0.0), (cost.usd or 0.0) - (previous.usd if previous else 0.0)


def _changed(cost: BilledCost, previous: Emitted | None) -> bool:
    return any(abs(delta) >= _EPSILON for delta in _delta(cost, previous))


def _matching_records(cost: BilledCost, records: list[SpanRecord]) -> list[SpanRecord]:
    if cost.kind not in (NOTEBOOK, CLUSTER):
        return records[-1:] if cost.kind != STATEMENT else records[:1]
    day = cost.unit_id.rsplit("/", 1)[-1]
    return [
        r for r in records if dt.datetime.fromtimestamp(r.start_ns / 1e9, dt.timezone.utc).date().isoformat() == day
    ]


def now_ms() -> int:
    return int(time.time() * 1000)
