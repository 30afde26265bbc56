"""Shared test helpers: finished spans with chosen attributes, an in-memory billing source, a recording processor."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, TraceFlags

from opentelemetry_instrumentation_databricks.reconcile.keys import ReconcileKey
from opentelemetry_instrumentation_databricks.reconcile.source import BilledCost

HOUR_MS = 3_600_000
T0_MS = 1_795_000_000_000 // HOUR_MS * HOUR_MS


def finished_span(
    name: str,
    attributes: Mapping[str, Any],
    *,
    start_ns: int = T0_MS * 10**6,
    end_ns: int | None = None,
    trace_id: int = 0xABC,
    span_id: int = 0xDEF,
) -> ReadableSpan:
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    tracer = provider.get_tracer("test")
    span = tracer.start_span(name, attributes=dict(attributes), start_time=start_ns)
    span._context = SpanContext(trace_id, span_id, False, TraceFlags(TraceFlags.SAMPLED))
    span.end(end_time=end_ns if end_ns is not None else start_ns + 60 * 10**9)
    return span


def billed(kind: str, unit_id: str, dbu: float, usd: float | None = None, **extra: Any) -> BilledCost:
    values = dict(
        kind=kind,
        unit_id=unit_id,
        scope=None,
        dbu=dbu,
        usd=usd if usd is not None else dbu * 0.5,
        usage_start_ms=T0_MS,
        usage_end_ms=T0_MS + HOUR_MS,
        row_count=1,
        unpriced_rows=0,
        trace_tag=None,
        span_tag=None,
        last_ingestion=None,
    )
    values.update(extra)
    return BilledCost(**values)


class MemorySource:
    """A billing source answering from a dict; ``fail`` makes lookups raise; ``block`` makes them wait."""

    def __init__(self, costs: Mapping[tuple[str, str], BilledCost] | None = None) -> None:
        self.costs = dict(costs or {})
        self.calls: list[list[ReconcileKey]] = []
        self.fail = False
        self.block: threading.Event | None = None

    def lookup(self, keys: Sequence[ReconcileKey]) -> dict[tuple[str, str], BilledCost]:
        self.calls.append(list(keys))
        if self.block is not None:
            self.block.wait(5)
        if self.fail:
            raise ConnectionError("warehouse unreachable")
        return {key.lookup_unit: self.costs[key.unit] for key in keys if key.unit in self.costs}


class RecordingProcessor(SpanProcessor):
    def __init__(self) -> None:
        self.ended: list[ReadableSpan] = []
        self.flushed = 0
        self.shut = False

    def on_start(self, span, parent_context=None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self.flushed += 1
        return True

    def shutdown(self) -> None:
        self.shut = True


class FlakyExporter(SpanExporter):
    """Collects exported spans; ``fail_next`` makes the next export fail (the exporter's ack says FAILURE)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.fail_next = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.fail_next:
            self.fail_next = False
            return SpanExportResult.FAILURE
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass
