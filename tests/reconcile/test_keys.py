from __future__ import annotations

import timeit

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_databricks.reconcile.keys import (
    CLUSTER,
    JOB_RUN,
    NOTEBOOK,
    PIPELINE_UPDATE,
    STATEMENT,
    key_of,
)
from opentelemetry_instrumentation_databricks.reconcile.processor import CostReconcilingSpanProcessor

from .helpers import MemorySource, RecordingProcessor, finished_span

SQL = {
    "databricks.compute.type": "sql_warehouse",
    "databricks.statement_id": "01ef-aa",
    "databricks.warehouse.id": "wh1",
    "databricks.dbu.estimated": 0.1,
}


@pytest.mark.parametrize(
    ("name", "attributes", "kind", "unit_id", "scope"),
    [
        ("SELECT t", SQL, STATEMENT, "01ef-aa", "wh1"),
        (
            "databricks.jobs.run",
            {"databricks.compute.type": "jobs_classic", "databricks.job.run_id": "77", "databricks.dbu.estimated": 1.0},
            JOB_RUN,
            "77",
            None,
        ),
        (
            "databricks.pipelines.update",
            {"databricks.compute.type": "dlt", "databricks.pipeline.update_id": "u-1"},
            PIPELINE_UPDATE,
            "u-1",
            None,
        ),
        (
            "databricks.notebook.cell",
            {"databricks.compute.type": "all_purpose", "databricks.notebook.id": "99", "databricks.cluster.id": "c-1"},
            NOTEBOOK,
            "99",
            "c-1",
        ),
        (
            "databricks.commands.command",
            {
                "databricks.compute.type": "all_purpose",
                "databricks.cluster.id": "c-1",
                "databricks.command.id": "cmd",
                "databricks.dbu.estimated": 0.2,
            },
            CLUSTER,
            "c-1",
            None,
        ),
    ],
)
def test_key_of_each_unit_span(name, attributes, kind, unit_id, scope):
    key = key_of(finished_span(name, attributes))
    assert (key.kind, key.unit_id, key.scope) == (kind, unit_id, scope)
    assert key.window_end_ns > key.window_start_ns


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"http.method": "GET"},
        {"databricks.compute.type": "jobs_classic", "databricks.job.run_id": "77"},  # the submit call span
        {"databricks.compute.type": "sql_warehouse", "databricks.statement_id": "x"},  # get_statement call span
        {
            "databricks.compute.type": "jobs_classic",
            "databricks.job.run_id": "77",
            "databricks.job.task_run_id": "78",
            "databricks.dbu.estimated": 1.0,
        },  # task run: billed with its run
    ],
)
def test_spans_without_a_unit_have_no_key(attributes):
    assert key_of(finished_span("x", attributes)) is None


def test_pass_through_costs_well_under_a_microsecond_on_top_of_the_wrapped_processor():
    wrapped = RecordingProcessor()
    span = finished_span("GET /", {f"http.attribute.{i}": i for i in range(12)})
    processor = CostReconcilingSpanProcessor(wrapped, source=MemorySource())
    try:
        rounds = 200_000
        direct = min(timeit.repeat(lambda: wrapped.on_end(span), number=rounds, repeat=5)) / rounds
        wrapped.ended.clear()
        through = min(timeit.repeat(lambda: processor.on_end(span), number=rounds, repeat=5)) / rounds
        wrapped.ended.clear()
    finally:
        processor.shutdown()
    assert through - direct < 0.5e-6, f"pass-through adds {(through - direct) * 1e9:.0f} ns"


def test_key_of_a_real_sdk_span_through_an_exporter():
    exporter = InMemorySpanExporter()
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span("SELECT t", attributes=SQL).end()
    assert key_of(exporter.get_finished_spans()[0]).unit == (STATEMENT, "01ef-aa")
