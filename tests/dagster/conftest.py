"""Dagster tests: assets materialized in-process against the session emulator, with polls that settle its clock."""

from __future__ import annotations

import pytest


@pytest.fixture
def ws(emulator):
    """The session emulator; an SDK waiter (``Wait.result()``) returns on its first poll, nothing sleeps."""
    previous = emulator.auto_advance_on_poll
    emulator.auto_advance_on_poll = "settle"
    yield emulator
    emulator.auto_advance_on_poll = previous


@pytest.fixture
def databricks(ws):
    """An ``InsightsDatabricksResource`` on the emulator's workspace and SQL warehouse."""
    from opentelemetry_instrumentation_databricks.dagster import InsightsDatabricksResource

    return InsightsDatabricksResource(workspace_url=ws.host, access_token=ws.token, warehouse_id=ws.warehouse_id)


@pytest.fixture
def uninstrument_afterwards():
    """For tests that let the resource start the instrumentation itself."""
    from opentelemetry_instrumentation_databricks import DatabricksInstrumentor

    instrumentor = DatabricksInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    yield
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


def spans_of_run(telemetry, run_id: str, name: str | None = None) -> list:
    return [
        span
        for span in telemetry.spans()
        if (span.attributes or {}).get("dagster.run.id") == run_id and (name is None or span.name == name)
    ]


def history_of(ws, statement_id: str):
    (record,) = [record for record in ws.query_history if record.statement_id == statement_id]
    return record
