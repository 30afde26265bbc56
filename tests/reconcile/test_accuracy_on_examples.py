"""How true the figures are, on the example workload (two rounds of SQL, classic and serverless job runs, a deployed
job and a pipeline update under three Dagster jobs), run paced on the emulator, billed, reconciled and compared with
``accuracy``. No test sleeps: the emulator clock jumps past billing's delays; only the SQL statements last their
modelled few hundred milliseconds (``ws.sql.pace``), as on a running warehouse."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from databricks_emulator.sql.history import typical_latency_model
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor
from opentelemetry_instrumentation_databricks.reconcile import (
    Reconciler,
    SpanIdRecorder,
    SqlBillingSource,
    StateStore,
)
from opentelemetry_instrumentation_databricks.reconcile.accuracy import load_report

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BILLING_DELAY_SECONDS = 2 * 86400
SMALL_DBU_PER_HOUR = 12.0
TARGET = 0.25


@pytest.fixture(scope="module")
def reconciled(tmp_path_factory):
    """``(accuracy by method, billed units, query history, warehouse usage DBU)`` of two paced workload rounds."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import workload
    finally:
        sys.path.remove(str(EXAMPLES))
    directory = tmp_path_factory.mktemp("accuracy")
    records, state = directory / "records", StateStore(directory / "state.sqlite")
    provider = TracerProvider()
    recorder = SpanIdRecorder(records)
    provider.add_span_processor(recorder)
    instrumentor = DatabricksInstrumentor()
    with workload.emulated_workspace() as ws:
        ws.sql.latency_model, ws.sql.pace = typical_latency_model, True
        ws.workspace.warehouses[ws.warehouse_id].cluster_size = "Small"
        instrumentor.instrument(tracer_provider=provider, warehouse_sizes={ws.warehouse_id: "Small"})
        try:
            rounds = workload.Workload(ws.workspace_client(), ws.sql_connect)
            rounds.run_round()
            rounds.run_round()
        finally:
            instrumentor.uninstrument()
            recorder.shutdown()
        history = [r for r in ws.sql.history.records() if r.warehouse_id == ws.warehouse_id]
        ws.clock.advance(BILLING_DELAY_SECONDS)
        source = SqlBillingSource(ws.sql_connect, clock=ws.clock.time)
        try:
            Reconciler(source, InMemorySpanExporter(), state, records_directory=records).run()
        finally:
            source.close()
        warehouse_dbu = sum(float(row.quantity) for row in ws.billing.usage() if row.usage_metadata.get("warehouse_id"))
        since = (dt.datetime.fromtimestamp(ws.clock.time(), dt.timezone.utc) - dt.timedelta(days=7)).date()
    report = {row.method: row for row in load_report(records, state.units(), since).methods}
    return report, state.units(), history, warehouse_dbu


@pytest.mark.parametrize("method", ["jobs_classic", "dlt"])
def test_runs_timed_from_what_databricks_reports_estimate_within_the_target(reconciled, method):
    report = reconciled[0]
    assert report[method].count >= 2
    assert abs(report[method].median_relative_error) <= TARGET


def test_pipeline_updates_are_timed_not_zero_seconds(reconciled):
    pipeline = reconciled[0]["dlt"]
    assert pipeline.estimated_usd > 0 and pipeline.median_relative_error > -TARGET


def test_statements_are_billed_for_the_time_query_history_says_they_ran(reconciled):
    _, units, history, _ = reconciled
    statements = {unit_id: emitted for (kind, unit_id), emitted in units.items() if kind == "statement"}
    ran = [record for record in history if record.statement_id in statements]
    assert len(ran) == len(statements) >= 8
    ran_hours = sum(record.total_duration_ms for record in ran) / 3_600_000
    billed = sum(emitted.dbu for emitted in statements.values())
    assert billed == pytest.approx(SMALL_DBU_PER_HOUR * ran_hours, rel=0.01), "busy share = statement time / uptime"


def test_idle_warehouse_time_is_the_rest_of_the_warehouse_bill(reconciled):
    _, units, _, warehouse_dbu = reconciled
    attributed = sum(e.dbu for (kind, _), e in units.items() if kind == "statement")
    idle = sum(e.dbu for (kind, _), e in units.items() if kind == "warehouse_idle")
    assert attributed + idle == pytest.approx(warehouse_dbu, rel=1e-6)
    assert idle > attributed
