"""Memory stays flat over a long run: RSS and the number of gc-tracked objects after a warm-up do not grow with the
number of statements (or workspace calls) made. The connector's backend and the SDK's HTTP layer are answered
in-process, so the run measures the client side only, at thousands of calls per second.

``OTEL_DATABRICKS_TEST_LONG_RUN_CALLS`` sets how many calls are measured after the warm-up (default 50,000 for CI;
the README states the figures of a 200,000-call run).
"""

from __future__ import annotations

import gc
import itertools
import os
import resource
from collections.abc import Callable, Sequence

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from opentelemetry_instrumentation_databricks import DatabricksInstrumentor, orchestration_context

CALLS = int(os.environ.get("OTEL_DATABRICKS_TEST_LONG_RUN_CALLS", "50000"))
WARM_UP_CALLS = 10_000
DISTINCT_STATEMENTS = 5_000
RSS_GROWTH_BOUND_BYTES = 4 * 1024 * 1024
"""Over the second half of the run: 25,000 calls at the default, so a leak of more than ~170 bytes a call fails."""
OBJECT_GROWTH_BOUND = 2_000
PAGE_SIZE = resource.getpagesize()


class DroppingExporter(SpanExporter):
    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def memory_growth(call: Callable[[int], object], tracer_provider: TracerProvider) -> tuple[int, int]:
    """(RSS growth in bytes over the second half of ``CALLS`` calls, gc-tracked object growth over all of them),
    after ``WARM_UP_CALLS``. A leak grows RSS in both halves alike, while the allocator settles in the first (how
    much depends on what ran before in the process); the span queue is flushed before each reading."""
    for number in range(WARM_UP_CALLS):
        call(number)
    tracer_provider.force_flush()
    gc.collect()
    objects_before = len(gc.get_objects())
    half = WARM_UP_CALLS + CALLS // 2
    for number in range(WARM_UP_CALLS, half):
        call(number)
    tracer_provider.force_flush()
    gc.collect()
    rss_at_half = resident_bytes()
    for number in range(half, WARM_UP_CALLS + CALLS):
        call(number)
    tracer_provider.force_flush()
    gc.collect()
    return resident_bytes() - rss_at_half, len(gc.get_objects()) - objects_before


def _providers() -> tuple[TracerProvider, MeterProvider, DroppingExporter]:
    exporter = DroppingExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=65536))
    return tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()]), exporter


def test_memory_is_flat_over_a_long_run_of_statements(workspace):
    tracer_provider, meter_provider, exporter = _providers()
    connection = workspace.sql_connect()
    connection.session.backend.execute_command = lambda **kwargs: None
    cursor = connection.cursor()
    statements = [f"SELECT * FROM main.sales.orders_{n} WHERE id = {n}" for n in range(DISTINCT_STATEMENTS)]
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        with orchestration_context(job_name="long_run", asset_key="sales/orders"):
            rss_growth, object_growth = memory_growth(
                lambda number: cursor.execute(statements[number % DISTINCT_STATEMENTS], query_tags={"n": str(number)}),
                tracer_provider,
            )
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()
        del connection.session.backend.execute_command
        connection.close()
    print(f"statements: RSS {rss_growth / 2**20:+.2f} MiB over the last {CALLS // 2}, gc objects {object_growth:+d}")
    assert exporter.exported == WARM_UP_CALLS + CALLS, "every span reached the exporter (none dropped)"
    assert rss_growth < RSS_GROWTH_BOUND_BYTES, f"RSS grew {rss_growth / 2**20:.1f} MiB over {CALLS // 2} statements"
    assert object_growth < OBJECT_GROWTH_BOUND, f"{object_growth} more gc-tracked objects after {CALLS} statements"


def test_memory_is_flat_over_a_long_run_of_job_submits_with_the_run_table_full(workspace):
    from databricks.sdk.service.compute import ClusterSpec
    from databricks.sdk.service.jobs import NotebookTask, SubmitTask

    tracer_provider, meter_provider, exporter = _providers()
    run_ids = itertools.count(1)

    def canned_http(method: str, url: str, **kwargs: object) -> dict:
        return {"run_id": next(run_ids)}

    client = workspace.workspace_client()
    client.api_client._api_client.do = canned_http
    cluster = ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=2)
    task = SubmitTask(task_key="main", notebook_task=NotebookTask(notebook_path="/long"), new_cluster=cluster)
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, max_tracked_runs=1_000)
    try:
        with orchestration_context(job_name="long_run"):
            rss_growth, object_growth = memory_growth(
                lambda number: client.jobs.submit(run_name="r", tasks=[task]), tracer_provider
            )
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()
    print(f"submits: RSS {rss_growth / 2**20:+.2f} MiB over the last {CALLS // 2}, gc objects {object_growth:+d}")
    assert exporter.exported >= WARM_UP_CALLS + CALLS
    assert rss_growth < RSS_GROWTH_BOUND_BYTES, f"RSS grew {rss_growth / 2**20:.1f} MiB over {CALLS // 2} submits"
    assert object_growth < OBJECT_GROWTH_BOUND, f"{object_growth} more gc-tracked objects after {CALLS} submits"
