"""``databricks-otel-reconcile`` as a scheduler runs it: a child process reaching the emulator's warehouse over plain
http with the ``DATABRICKS_*`` variables, exporting with the real OTLP exporter to a local receiver."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider

from databricks_emulator import Emulator
from databricks_emulator.clock import Clock
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor
from opentelemetry_instrumentation_databricks.reconcile import SpanIdRecorder

from ..otlp_receiver import OtlpReceiver
from .reconcile_cli import run_reconcile

DAY = 86400

pytestmark = pytest.mark.subprocess


def reconcile(ws: Emulator, receiver: OtlpReceiver, *arguments: str) -> subprocess.CompletedProcess:
    return run_reconcile(ws, receiver.endpoint, *arguments)


def test_run_and_accuracy_reach_an_http_warehouse_and_report_as_table_and_json(load_example, tmp_path):
    workload = load_example("workload")
    records, state = tmp_path / "records", tmp_path / "state.sqlite"
    provider = TracerProvider()
    recorder = SpanIdRecorder(records)
    provider.add_span_processor(recorder)
    instrumentor = DatabricksInstrumentor()
    with Emulator(clock=Clock(time.time() - 3 * DAY)) as ws, OtlpReceiver() as receiver:
        ws.auto_advance_on_poll = "settle"
        instrumentor.instrument(tracer_provider=provider)
        try:
            workload.Workload(ws.workspace_client(), ws.sql_connect).run_round()
        finally:
            instrumentor.uninstrument()
            recorder.shutdown()
        ws.clock.advance(2 * DAY)
        first = reconcile(ws, receiver, "run", "--state", str(state), "--records", str(records))
        assert first.returncode == 0, first.stderr
        second = reconcile(ws, receiver, "run", "--state", str(state), "--records", str(records), "--json")
        assert second.returncode == 0, second.stderr
        since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 7 * DAY))
        accuracy = reconcile(
            ws, receiver, "accuracy", "--since", since, "--state", str(state), "--records", str(records), "--json"
        )
        assert accuracy.returncode == 0, accuracy.stderr
        billed = reconcile(ws, receiver, "report", "--by", "dagster_job_name", "--since", "7d", "--json")
        assert billed.returncode == 0, billed.stderr
        billing = [span for span in receiver.spans() if span.name == "databricks.billing"]
    assert "... reading billing ingested since the watermark" in first.stderr and "... done in " in first.stderr
    lines = first.stdout.splitlines()
    emitted = int(lines[0].split()[3])
    assert emitted == len(billing) > 0
    assert lines[1].split() == ["DBU", "USD"]
    assert lines[2].split()[0] == "attributed" and float(lines[2].split()[2]) > 0
    assert "span_record" in first.stdout and lines[-1].startswith("watermark ")
    assert lines[-2].startswith("attributed_cost ") and "beside system.billing.attributed_cost" in lines[-2]
    kinds = {span.attributes["databricks.billing.unit.kind"] for span in billing}
    assert {"statement", "job_run", "pipeline_update", "warehouse_idle"} <= kinds
    summary = json.loads(second.stdout)
    assert summary["emitted"] == 0 and summary["attributed_usd"] == 0.0 and summary["seconds"] >= 0
    report = {row["method"]: row for row in json.loads(accuracy.stdout)["methods"]}
    assert {"sql_warehouse", "jobs_classic", "jobs_serverless", "dlt"} <= set(report)
    assert all(row["count"] > 0 and row["billed_usd"] > 0 for row in report.values())
    by_job = json.loads(billed.stdout)
    assert {row["value"] for row in by_job["rows"]} == {"daily_sales", "nightly_reports", "lakehouse_refresh", None}
    reconciled = float(lines[2].split()[2]) + float(lines[3].split()[2])
    assert by_job["total_usd"] == pytest.approx(reconciled, abs=1e-4), "the report and the reconciler bill the same"


def test_a_warehouse_that_does_not_exist_is_one_line_naming_it_not_a_traceback(tmp_path):
    with Emulator() as ws, OtlpReceiver() as receiver:
        done = reconcile(
            ws, receiver, "run", "--state", str(tmp_path / "s.sqlite"), "--http-path", "/sql/1.0/warehouses/nosuch"
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "/sql/1.0/warehouses/nosuch" in done.stderr and "exists" in done.stderr
