"""A span exporter that fails or hangs never reaches the user's statement or workspace call: results are the same,
nothing waits for the exporter (behind a BatchSpanProcessor), and the processor's queue stays bounded."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from opentelemetry_instrumentation_databricks import DatabricksInstrumentor

QUEUE_LIMIT = 16
EXPORT_BATCH = 4
STATEMENTS = 60


class FailingExporter(SpanExporter):
    def __init__(self) -> None:
        self.attempts = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.attempts += 1
        raise ConnectionError("collector unreachable")


class HangingExporter(SpanExporter):
    """Blocks every export until released (or a bounded wait runs out); counts what it was given."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(30)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


def _rows(workspace: Any, statements: int) -> list:
    rows = []
    with workspace.sql_connect() as connection, connection.cursor() as cursor:
        for number in range(statements):
            cursor.execute(f"SELECT {number} AS n")
            rows.append(tuple(cursor.fetchone()))
    return rows


def _instrument(tracer_provider: TracerProvider) -> DatabricksInstrumentor:
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, metrics=False)
    return instrumentor


@pytest.mark.parametrize("processor_type", [SimpleSpanProcessor, BatchSpanProcessor])
def test_failing_exporter_changes_no_result(workspace, no_thread_leaks, processor_type):
    bare = _rows(workspace, 5)
    exporter = FailingExporter()
    provider = TracerProvider()
    provider.add_span_processor(processor_type(exporter))
    instrumentor = _instrument(provider)
    try:
        traced = _rows(workspace, 5)
        list(workspace.workspace_client().jobs.list_runs(limit=1))
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
    assert traced == bare
    assert exporter.attempts >= 1, "the exporter was asked and failed"


def test_hanging_exporter_never_delays_statements_and_its_queue_stays_bounded(workspace, no_thread_leaks):
    exporter = HangingExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=QUEUE_LIMIT, max_export_batch_size=EXPORT_BATCH)
    )
    instrumentor = _instrument(provider)
    try:
        _rows(workspace, EXPORT_BATCH)
        assert exporter.entered.wait(10), "the processor's worker is now stuck in the exporter"
        rows = _rows(workspace, STATEMENTS)
        assert not exporter.release.is_set(), "every statement finished while the exporter was still hung"
    finally:
        instrumentor.uninstrument()
        exporter.release.set()
        provider.shutdown()
    assert rows == [(number,) for number in range(STATEMENTS)]
    assert exporter.exported <= EXPORT_BATCH + QUEUE_LIMIT + EXPORT_BATCH, "spans beyond the queue were dropped"
