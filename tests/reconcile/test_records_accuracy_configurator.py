from __future__ import annotations

import datetime as dt
import json
import logging

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_databricks.reconcile.accuracy import accuracy_report, format_table, to_json
from opentelemetry_instrumentation_databricks.reconcile.configurator import configuration_kwargs
from opentelemetry_instrumentation_databricks.reconcile.processor import CostReconcilingSpanProcessor
from opentelemetry_instrumentation_databricks.reconcile.records import (
    SpanIdRecorder,
    SpanIdRecords,
    SpanRecord,
    prune,
)
from opentelemetry_instrumentation_databricks.reconcile.records import SpanIdRecorder as Recorder
from opentelemetry_instrumentation_databricks.reconcile.state import Emitted

from .helpers import finished_span

RUN = {
    "databricks.compute.type": "jobs_classic",
    "databricks.job.run_id": "1",
    "databricks.dbu.estimated": 1.0,
    "databricks.cost.estimated_usd": 0.15,
}


def test_recorder_writes_one_line_per_keyed_span_and_a_torn_line_is_skipped(tmp_path):
    recorder = SpanIdRecorder(tmp_path)
    recorder.on_end(finished_span("databricks.jobs.run", RUN, trace_id=5, span_id=6))
    recorder.on_end(finished_span("GET /", {"http.request.method": "GET"}))
    recorder.shutdown()
    (path,) = tmp_path.glob("spans-*.jsonl")
    with open(path, "a") as file:
        file.write('{"k":"job_run","u":')
    records = SpanIdRecords.load(tmp_path)
    (record,) = records.get(("job_run", "1"))
    assert (record.trace_id, record.span_id, record.estimated_usd) == (5, 6, 0.15)
    assert records.torn_lines == 1
    assert SpanIdRecords.load(tmp_path, units={("job_run", "2")}).by_unit == {}


def test_prune_removes_old_day_files(tmp_path):
    (tmp_path / "spans-20200101-h-1.jsonl").write_text("")
    (tmp_path / "spans-20261127-h-1.jsonl").write_text("")
    assert prune(tmp_path, keep_days=7, today=dt.date(2026, 11, 27)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["spans-20261127-h-1.jsonl"]


def record(unit_id, usd, compute):
    return SpanRecord("job_run", unit_id, None, 1, 2, 10, 20, 1.0, usd, compute)


def test_accuracy_per_execution_method():
    records = [
        record("1", 1.2, "jobs_classic"),
        record("2", 0.9, "jobs_classic"),
        record("3", 2.0, "jobs_serverless"),
        record("4", 5.0, "jobs_classic"),
    ]
    billed = {
        ("job_run", "1"): Emitted(1, 1.0, 1),
        ("job_run", "2"): Emitted(1, 1.0, 1),
        ("job_run", "3"): Emitted(1, 1.0, 1),
    }
    report = accuracy_report(records, billed)
    classic = next(row for row in report.methods if row.method == "jobs_classic")
    assert (classic.count, round(classic.estimated_usd, 6), classic.billed_usd) == (2, 2.1, 2.0)
    assert round(classic.median_relative_error, 6) == 0.05
    assert (report.total.count, report.total.billed_usd) == (3, 3.0)
    assert "jobs_serverless" in format_table(report)
    assert json.loads(to_json(report))["methods"][0]["method"] == "jobs_classic"


SELECTED = {"OTEL_PYTHON_CONFIGURATOR": "databricks"}
WAREHOUSE = {
    "DATABRICKS_HOST": "https://example.cloud.databricks.com",
    "DATABRICKS_WAREHOUSE_ID": "abc",
    "DATABRICKS_TOKEN": "t",
}


def test_selected_configurator_wraps_the_export_processor_by_default_when_a_billing_warehouse_is_set(tmp_path):
    kwargs = configuration_kwargs(
        {
            **SELECTED,
            "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_HOLD_SECONDS": "5",
            "OTEL_INSTRUMENTATION_DATABRICKS_SPAN_RECORD_DIR": str(tmp_path),
            **WAREHOUSE,
        }
    )
    (recorder,) = kwargs["span_processors"]
    assert isinstance(recorder, Recorder)
    processor = kwargs["export_span_processor"](InMemorySpanExporter())
    try:
        assert isinstance(processor, CostReconcilingSpanProcessor) and processor.hold_seconds == 5
        provider = TracerProvider()
        provider.add_span_processor(processor)
        provider.get_tracer("t").start_span("GET /").end()
    finally:
        processor.shutdown()
        recorder.shutdown()


def test_configurator_reconcile_false_opts_out(tmp_path):
    for value in ("false", "0", "OFF"):
        assert configuration_kwargs({"OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE": value, **SELECTED, **WAREHOUSE}) == {}


def test_configurator_loaded_without_being_selected_adds_nothing_unless_asked():
    assert configuration_kwargs(WAREHOUSE) == {}
    kwargs = configuration_kwargs({"OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE": "true", **WAREHOUSE})
    processor = kwargs["export_span_processor"](InMemorySpanExporter())
    processor.shutdown()
    assert isinstance(processor, CostReconcilingSpanProcessor)


def test_configurator_without_a_billing_warehouse_installs_nothing_and_warns_what_to_set(caplog):
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_databricks.reconcile.configurator"):
        assert configuration_kwargs(SELECTED) == {}
        assert configuration_kwargs({**SELECTED, "DATABRICKS_HOST": "https://example.cloud.databricks.com"}) == {}
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2 and all(record.levelno == logging.WARNING for record in caplog.records)
    for variable in ("DATABRICKS_HOST", "DATABRICKS_HTTP_PATH", "DATABRICKS_WAREHOUSE_ID", "DATABRICKS_TOKEN"):
        assert variable in messages[0]
    assert "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE=false" in messages[0]
