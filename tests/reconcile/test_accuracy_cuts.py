"""``accuracy`` on the emulator: totals, cuts per warehouse, Dagster job and asset, cents, and calibration advice
where a configured rate is consistently off (the emulator bills serverless jobs at 6 DBU/h, the estimate assumes
4 by default). Real connector and SDK, the span-time record, the reconciler's state; no test sleeps."""

from __future__ import annotations

import json

import pytest
from databricks.sdk.service import compute, jobs
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from databricks_emulator import Emulator
from opentelemetry_instrumentation_databricks.context import orchestration_context
from opentelemetry_instrumentation_databricks.reconcile import Reconciler, SpanIdRecorder, SqlBillingSource, StateStore
from opentelemetry_instrumentation_databricks.reconcile.accuracy import (
    AccuracyReport,
    accuracy_report,
    cents,
    format_table,
    to_json,
)
from opentelemetry_instrumentation_databricks.reconcile.records import iter_records

BILLING_DELAY_SECONDS = 2 * 86400
SERVERLESS_RUNS = 6


def serverless_job(w, name: str) -> None:
    task = jobs.SubmitTask(
        task_key="score", spark_python_task=jobs.SparkPythonTask(python_file="/score.py"), environment_key="default"
    )
    environment = jobs.JobEnvironment(environment_key="default", spec=compute.Environment(client="2"))
    w.jobs.submit(run_name=name, tasks=[task], environments=[environment]).result()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> AccuracyReport:
    from opentelemetry.sdk.trace import TracerProvider

    from opentelemetry_instrumentation_databricks import DatabricksInstrumentor

    directory = tmp_path_factory.mktemp("accuracy")
    provider = TracerProvider()
    recorder = SpanIdRecorder(directory / "records")
    provider.add_span_processor(recorder)
    instrumentor = DatabricksInstrumentor()
    with Emulator() as ws:
        ws.auto_advance_on_poll = "settle"
        instrumentor.instrument(tracer_provider=provider)
        try:
            w = ws.workspace_client()
            for index in range(SERVERLESS_RUNS):
                with orchestration_context(job_name="scoring", asset_key=f"scores/{index % 2}"):
                    serverless_job(w, f"score {index}")
            reporting = orchestration_context(job_name="reporting", asset_key="reports/daily")
            with reporting, ws.sql_connect() as connection, connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM range(1000)")
                cursor.fetchall()
        finally:
            instrumentor.uninstrument()
            recorder.shutdown()
        ws.clock.advance(BILLING_DELAY_SECONDS)
        source = SqlBillingSource(ws.sql_connect, clock=ws.clock.time)
        state = StateStore(directory / "state.sqlite")
        try:
            Reconciler(source, InMemorySpanExporter(), state, records_directory=directory / "records").run()
        finally:
            source.close()
        yield accuracy_report(iter_records(directory / "records"), state.units())


def test_the_total_is_the_sum_of_the_methods_and_of_each_cut(report):
    assert report.total.count == SERVERLESS_RUNS + 1
    assert report.total.billed_usd == pytest.approx(sum(row.billed_usd for row in report.methods))
    for rows in report.cuts.values():
        assert sum(row.count for row in rows) == report.total.count
        assert sum(row.billed_usd for row in rows) == pytest.approx(report.total.billed_usd)


def test_cuts_by_dagster_job_asset_and_warehouse(report):
    jobs_cut = {row.method: row for row in report.cuts["dagster_job"]}
    assert set(jobs_cut) == {"scoring", "reporting"} and jobs_cut["scoring"].count == SERVERLESS_RUNS
    assert {row.method for row in report.cuts["dagster_asset"]} == {"scores/0", "scores/1", "reports/daily"}
    warehouses = {row.method: row.count for row in report.cuts["warehouse"]}
    assert warehouses["-"] == SERVERLESS_RUNS and len(warehouses) == 2


def test_a_serverless_rate_that_is_consistently_low_gets_one_line_of_advice_with_the_value_to_set(report):
    (line,) = [line for line in report.advice if line.startswith("jobs_serverless")]
    assert f"over {SERVERLESS_RUNS} units" in line
    assert "OTEL_INSTRUMENTATION_DATABRICKS_SERVERLESS_DBU_PER_HOUR to " in line
    suggested = float(line.split(" to ")[1].split()[0])
    assert 5 < suggested < 7 and "(the estimates used 4)" in line
    assert not any(line.startswith("sql_warehouse") for line in report.advice)


def test_the_table_rounds_to_cents_and_json_keeps_full_precision(report):
    table = format_table(report)
    assert "calibration:" in table and "dagster_job" in table and "\nall " in table
    assert all("$" in line for line in table.splitlines()[1:3])
    decoded = json.loads(to_json(report))
    assert decoded["total"]["billed_usd"] == report.total.billed_usd
    assert {"methods", "by_warehouse", "by_dagster_job", "by_dagster_asset", "advice"} <= set(decoded)


@pytest.mark.parametrize(
    ("dollars", "shown"), [(1.234, "$1.23"), (0.004, "<$0.01"), (0.005, "$0.01"), (0.0, "$0.00"), (-2.5, "-$2.50")]
)
def test_cents(dollars, shown):
    assert cents(dollars) == shown
