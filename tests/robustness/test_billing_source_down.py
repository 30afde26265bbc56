"""The billing source behind the cost-reconciling span processor is down (refusing connections, answering 503, or
hanging): the user's statements return what they return without instrumentation, nothing waits for the source,
every span still leaves at ``shutdown()`` (as ``pending``) and the processor's thread ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from databricks_emulator import Emulator, Fault
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor
from opentelemetry_instrumentation_databricks.reconcile import CostReconcilingSpanProcessor, SqlBillingSource

STATEMENTS = 5


@contextmanager
def _refusing() -> Iterator[tuple[Emulator, int]]:
    """A billing warehouse whose port refuses connections: the server started once, and stopped."""
    server = Emulator().start()
    port = server.port
    server.stop()
    yield server, port


@contextmanager
def _answering_503() -> Iterator[tuple[Emulator, int]]:
    with Emulator() as server:
        server.faults.add(r"^/sql/1\.0/warehouses/", Fault(status=503))
        yield server, server.port


BILLING_OUTAGES: dict[str, Callable[[], AbstractContextManager[tuple[Emulator, int]]]] = {
    "connection_refused": _refusing,
    "http_503": _answering_503,
}


def _connect_factory(server: Emulator, port: int, socket_timeout: float = 5.0) -> Callable[[], object]:
    """Connections to ``server`` on ``port`` (which it may no longer listen on)."""

    def connect() -> object:
        from databricks import sql

        return sql.connect(
            server_hostname="127.0.0.1",
            http_path=server.http_path,
            access_token=server.token,
            enable_telemetry=False,
            _retry_stop_after_attempts_count=1,
            _retry_stop_after_attempts_duration=1,
            _socket_timeout=socket_timeout,
            _connection_uri=f"http://127.0.0.1:{port}{server.http_path}",
        )

    return connect


def _rows(workspace: Emulator) -> list[tuple]:
    with workspace.sql_connect() as connection, connection.cursor() as cursor:
        rows = []
        for number in range(STATEMENTS):
            cursor.execute(f"SELECT {number} AS n")
            rows.append(tuple(cursor.fetchone()))
        return rows


@pytest.mark.parametrize("outage", list(BILLING_OUTAGES))
def test_billing_source_down_changes_no_result_and_loses_no_span(workspace, no_thread_leaks, outage):
    bare = _rows(workspace)
    exporter = InMemorySpanExporter()
    with BILLING_OUTAGES[outage]() as (billing, port):
        source = SqlBillingSource(_connect_factory(billing, port))
        processor = CostReconcilingSpanProcessor(
            SimpleSpanProcessor(exporter), source, hold_seconds=3600, lookup_interval_seconds=3600
        )
        provider = TracerProvider()
        provider.add_span_processor(processor)
        instrumentor = DatabricksInstrumentor()
        instrumentor.instrument(tracer_provider=provider, metrics=False)
        try:
            traced = _rows(workspace)
            assert processor.held == STATEMENTS, "statement spans wait for their billing"
            processor.lookups_done.clear()
            processor.lookup_now()
            assert processor.lookups_done.wait(30)
        finally:
            instrumentor.uninstrument()
            provider.shutdown()
    assert traced == bare
    assert processor.lookup_failures >= 1
    spans = exporter.get_finished_spans()
    assert len(spans) == STATEMENTS
    assert {span.attributes["databricks.cost.status"] for span in spans} == {"pending"}


def test_hung_billing_source_never_delays_statements_and_shutdown_still_releases_every_span(workspace, no_thread_leaks):
    bare = _rows(workspace)
    exporter = InMemorySpanExporter()
    with Emulator() as billing:
        hung = Fault(delay=60.0)
        billing.faults.add(r"^/sql/1\.0/warehouses/", hung, method="POST")
        source = SqlBillingSource(_connect_factory(billing, billing.port, socket_timeout=60.0))
        processor = CostReconcilingSpanProcessor(
            SimpleSpanProcessor(exporter), source, hold_seconds=3600, lookup_interval_seconds=3600
        )
        provider = TracerProvider()
        provider.add_span_processor(processor)
        instrumentor = DatabricksInstrumentor()
        instrumentor.instrument(tracer_provider=provider, metrics=False)
        try:
            first = _rows(workspace)
            processor.lookup_now()
            assert hung.reached.wait(10), "the lookup is now stuck on the billing warehouse"
            second = _rows(workspace)
        finally:
            instrumentor.uninstrument()
            provider.shutdown()
        assert hung.hits == 1, "the source was still hung when shutdown() returned"
    assert first == second == bare
    spans = exporter.get_finished_spans()
    assert len(spans) == 2 * STATEMENTS
    assert {span.attributes["databricks.cost.status"] for span in spans} == {"pending"}
