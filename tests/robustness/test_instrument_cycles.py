"""Instrument and uninstrument, again and again, twice in a row, before or after the libraries are imported, or
with one of them missing: always safe, methods restored exactly, spans only while instrumented."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from databricks.sdk.core import ApiClient
from databricks.sql.client import Cursor

from opentelemetry_instrumentation_databricks import DatabricksInstrumentor

from .conftest import instrumented, wait_for_threads_to_end

CYCLES = 50
LOOKUP_CYCLES = 20
CURSOR_METHODS = (
    "execute",
    "executemany",
    "execute_async",
    "get_async_execution_result",
    "close",
    "catalogs",
    "schemas",
    "tables",
    "columns",
)


def _patched_methods() -> dict[str, Any]:
    return {**{name: Cursor.__dict__[name] for name in CURSOR_METHODS}, "ApiClient.do": ApiClient.__dict__["do"]}


@pytest.fixture
def offline_clients(workspace) -> Iterator[tuple[Any, Any]]:
    """A connector cursor whose backend answers in-process and an SDK client whose HTTP layer does."""
    connection = workspace.sql_connect()
    connection.session.backend.execute_command = lambda **kwargs: None
    client = workspace.workspace_client()
    client.api_client._api_client.do = lambda method, url, **kwargs: {"userName": "cycles@example.com"}
    try:
        yield connection.cursor(), client
    finally:
        del connection.session.backend.execute_command
        connection.close()


def test_fifty_cycles_restore_every_method_exactly_and_trace_only_while_instrumented(telemetry, offline_clients):
    cursor, client = offline_clients
    original = _patched_methods()
    instrumentor = DatabricksInstrumentor()
    for cycle in range(CYCLES):
        instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
        patched = _patched_methods()
        assert all(patched[name] is not original[name] for name in original), f"cycle {cycle}: not patched"
        cursor.execute("SELECT 1")
        client.current_user.me()
        assert len(telemetry.spans()) == 2 * (cycle + 1)
        instrumentor.uninstrument()
        assert _patched_methods() == original, f"cycle {cycle}: a method was not restored"
        assert all(_patched_methods()[name] is original[name] for name in original)
        cursor.execute("SELECT 1")
        client.current_user.me()
        assert len(telemetry.spans()) == 2 * (cycle + 1), f"cycle {cycle}: a span after uninstrument()"


def test_instrument_twice_and_uninstrument_twice_are_safe_and_trace_once(telemetry, offline_clients):
    cursor, client = offline_clients
    original = _patched_methods()
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    DatabricksInstrumentor().instrument(tracer_provider=telemetry.tracer_provider)
    try:
        cursor.execute("SELECT 1")
        client.current_user.me()
    finally:
        instrumentor.uninstrument()
        instrumentor.uninstrument()
        DatabricksInstrumentor().uninstrument()
    assert [span.name for span in telemetry.spans()] == ["SELECT", "databricks.preview.get_scim"]
    assert _patched_methods() == original


def _lookup_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "databricks-warehouse-lookup"]


def test_warehouse_lookup_threads_do_not_pile_up_over_cycles(workspace, telemetry, no_thread_leaks):
    with workspace.sql_connect() as connection, connection.cursor() as cursor:
        for _ in range(LOOKUP_CYCLES):
            with instrumented(telemetry, warehouse_lookup=True):
                cursor.execute("SELECT 1")
    wait_for_threads_to_end(set(_lookup_threads()))
    assert _lookup_threads() == []
    assert len(telemetry.spans()) == LOOKUP_CYCLES


CHILD = textwrap.dedent(
    """
    import json, logging, sys

    config = json.loads(sys.argv[1])
    for name in config["absent"]:
        sys.modules[name] = None
    if config["import_first"]:
        import databricks.sql.client
        import databricks.sdk
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry_instrumentation_databricks import DatabricksInstrumentor

    warnings = []
    handler = logging.Handler()
    handler.emit = lambda record: warnings.append(record.getMessage())
    logging.getLogger("opentelemetry_instrumentation_databricks").addHandler(handler)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    DatabricksInstrumentor().instrument(tracer_provider=provider)
    loaded_by_instrument = sorted(m for m in ("databricks.sql", "databricks.sdk") if sys.modules.get(m) is not None)
    if "databricks.sql" not in config["absent"]:
        from databricks import sql
        with sql.connect(**config["connect"]) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    if "databricks.sdk" not in config["absent"]:
        from databricks_emulator.client import workspace_client
        from databricks_emulator.clock import Clock
        workspace_client(config["host"], config["token"], Clock()).current_user.me()
    DatabricksInstrumentor().uninstrument()
    print(json.dumps({
        "spans": sorted(span.name for span in exporter.get_finished_spans()),
        "warnings": warnings,
        "loaded_by_instrument": loaded_by_instrument,
    }))
    """
)
CHILD_VARIANTS = {
    "instrument_first": {"import_first": False, "absent": []},
    "import_first": {"import_first": True, "absent": []},
    "connector_absent": {"import_first": False, "absent": ["databricks.sql"]},
    "sdk_absent": {"import_first": False, "absent": ["databricks.sdk"]},
    "both_absent": {"import_first": False, "absent": ["databricks.sql", "databricks.sdk"]},
}


@pytest.fixture(scope="module")
def child_results(workspace) -> dict[str, dict[str, Any]]:
    """Every variant in its own fresh interpreter, all started at once."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("DATABRICKS_")}
    children = {}
    for name, variant in CHILD_VARIANTS.items():
        config = {**variant, "connect": workspace.connect_kwargs(), "host": workspace.host, "token": workspace.token}
        children[name] = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
    results = {}
    for name, child in children.items():
        stdout, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, f"{name}: {stderr}"
        results[name] = json.loads(stdout.strip().splitlines()[-1])
    return results


SQL_AND_SDK_SPANS = ["SELECT", "databricks.preview.get_scim"]


@pytest.mark.subprocess
def test_instrumenting_before_the_libraries_are_imported_traces_both(child_results):
    result = child_results["instrument_first"]
    assert sorted(result["spans"]) == sorted(SQL_AND_SDK_SPANS)
    assert result["warnings"] == []


@pytest.mark.subprocess
def test_instrumenting_after_the_libraries_are_imported_traces_both(child_results):
    result = child_results["import_first"]
    assert sorted(result["spans"]) == sorted(SQL_AND_SDK_SPANS)
    assert result["warnings"] == []


@pytest.mark.subprocess
def test_without_the_connector_the_sdk_is_still_instrumented(child_results):
    result = child_results["connector_absent"]
    assert result["spans"] == ["databricks.preview.get_scim"]
    assert "databricks.sql" not in result["loaded_by_instrument"]


@pytest.mark.subprocess
def test_without_the_sdk_the_connector_is_still_instrumented(child_results):
    result = child_results["sdk_absent"]
    assert result["spans"] == ["SELECT"]
    assert "databricks.sdk" not in result["loaded_by_instrument"]


@pytest.mark.subprocess
def test_without_either_library_instrument_and_uninstrument_are_quiet_no_ops(child_results):
    result = child_results["both_absent"]
    assert result == {"spans": [], "warnings": [], "loaded_by_instrument": []}
