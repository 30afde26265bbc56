"""Many threads (and asyncio tasks) at once: each one's orchestration context lands on its own spans and in its own
Databricks tags, never another's, and ``shutdown()`` exports every span that was made."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from databricks.sdk.service.compute import ClusterSpec
from databricks.sdk.service.jobs import NotebookTask, SubmitTask
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from opentelemetry_instrumentation_databricks import DatabricksInstrumentor, orchestration_context

from .conftest import instrumented

THREADS = 8
STATEMENTS_PER_THREAD = 12
SUBMITS_PER_THREAD = 2


class CountingExporter(SpanExporter):
    def __init__(self) -> None:
        self.exported = 0
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self.exported += len(spans)
        return SpanExportResult.SUCCESS


def _worker_context(worker: int) -> dict[str, str]:
    return {"job_name": f"job-{worker}", "run_id": f"run-{worker}", "asset_key": f"assets/a{worker}"}


def _statements_and_submits(workspace: Any, worker: int, start: threading.Barrier) -> list[str]:
    statement_ids = []
    client = workspace.workspace_client()
    cluster = ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=1)
    task = SubmitTask(task_key="main", notebook_task=NotebookTask(notebook_path="/load"), new_cluster=cluster)
    with orchestration_context(**_worker_context(worker)), workspace.sql_connect() as connection:
        cursor = connection.cursor()
        start.wait(30)
        for number in range(STATEMENTS_PER_THREAD):
            cursor.execute(f"SELECT {worker} AS worker, {number} AS n")
            assert tuple(cursor.fetchone()) == (worker, number)
            statement_ids.append(cursor.query_id)
            if number % (STATEMENTS_PER_THREAD // SUBMITS_PER_THREAD) == 0:
                client.jobs.submit(run_name=f"load-{worker}-{number}", tasks=[task])
        cursor.close()
    return statement_ids


def test_concurrent_threads_never_cross_context_on_spans_or_tags(workspace, telemetry, no_thread_leaks):
    start = threading.Barrier(THREADS)
    with instrumented(telemetry), ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(_statements_and_submits, workspace, worker, start) for worker in range(THREADS)]
        statement_ids = {worker: future.result(60) for worker, future in enumerate(futures)}

    worker_of_statement = {sid: worker for worker, ids in statement_ids.items() for sid in ids}
    statement_spans = [span for span in telemetry.spans() if span.name == "SELECT"]
    assert len(statement_spans) == THREADS * STATEMENTS_PER_THREAD
    for span in statement_spans:
        worker = worker_of_statement[span.attributes["databricks.statement_id"]]
        expected = _worker_context(worker)
        assert span.attributes["dagster.job.name"] == expected["job_name"]
        assert span.attributes["dagster.run.id"] == expected["run_id"]
        assert span.attributes["dagster.asset.key"] == expected["asset_key"]

    span_of_statement = {span.attributes["databricks.statement_id"]: span for span in statement_spans}
    history = {record.statement_id: record for record in workspace.query_history}
    for statement_id, worker in worker_of_statement.items():
        tags = history[statement_id].query_tags
        span = span_of_statement[statement_id]
        assert tags["dagster_job_name"] == f"job-{worker}"
        assert tags["dagster_run_id"] == f"run-{worker}"
        assert tags["otel_trace_id"] == f"{span.context.trace_id:032x}"
        assert tags["otel_span_id"] == f"{span.context.span_id:016x}"

    submit_spans = [span for span in telemetry.spans() if span.name == "databricks.jobs.submit"]
    assert len(submit_spans) == THREADS * SUBMITS_PER_THREAD
    for span in submit_spans:
        worker = span.attributes["databricks.job.run_name"].split("-")[1]
        assert span.attributes["dagster.job.name"] == f"job-{worker}"
        assert span.attributes["dagster.run.id"] == f"run-{worker}"
    load_runs = [run for run in workspace.job_runs if run.run_name.startswith("load-")]
    assert len(load_runs) == THREADS * SUBMITS_PER_THREAD
    for run in load_runs:
        worker = run.run_name.split("-")[1]
        (task,) = run.tasks
        assert task.custom_tags["dagster_job_name"] == f"job-{worker}"
        assert task.custom_tags["dagster_run_id"] == f"run-{worker}"


def test_asyncio_tasks_using_to_thread_keep_their_own_context(workspace, telemetry):
    async def user_task(worker: int) -> str:
        with orchestration_context(**_worker_context(worker)):
            return await asyncio.to_thread(_one_statement, workspace, worker)

    async def all_tasks() -> list[str]:
        return await asyncio.gather(*(user_task(worker) for worker in range(THREADS)))

    with instrumented(telemetry):
        statement_ids = asyncio.run(all_tasks())
    spans = {span.attributes["databricks.statement_id"]: span for span in telemetry.spans()}
    assert len(spans) == THREADS
    for worker, statement_id in enumerate(statement_ids):
        assert spans[statement_id].attributes["dagster.job.name"] == f"job-{worker}"


def _one_statement(workspace: Any, worker: int) -> str:
    with workspace.sql_connect() as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT {worker}")
        return cursor.query_id


def test_shutdown_exports_every_span_of_a_burst_from_many_threads(workspace, no_thread_leaks):
    statements_per_thread = 250
    exporter = CountingExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=THREADS * statements_per_thread))
    connections = [workspace.sql_connect() for _ in range(THREADS)]
    for connection in connections:
        connection.session.backend.execute_command = lambda **kwargs: None

    def burst(connection: Any) -> None:
        cursor = connection.cursor()
        for _ in range(statements_per_thread):
            cursor.execute("SELECT 1")

    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=provider, metrics=False)
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(burst, connections))
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
        for connection in connections:
            del connection.session.backend.execute_command
            connection.close()
    assert exporter.exported == THREADS * statements_per_thread
