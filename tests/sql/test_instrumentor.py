"""Wiring: uninstrument restores the connector exactly, suppression is honoured, env vars configure it."""

import os
import subprocess
import sys
import textwrap

import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation

from opentelemetry_instrumentation_databricks import ConfigurationError, DatabricksInstrumentor

_PATCHED = (
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


def _cursor_methods():
    from databricks.sql.client import Cursor

    return {name: Cursor.__dict__[name] for name in _PATCHED}


def test_uninstrument_restores_the_original_methods(telemetry):
    original = _cursor_methods()
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    assert all(_cursor_methods()[name] is not original[name] for name in _PATCHED)
    instrumentor.uninstrument()
    assert _cursor_methods() == original


def test_instrument_twice_patches_once(telemetry, connect):
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    try:
        with connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        instrumentor.uninstrument()
    assert len(telemetry.spans()) == 1


def test_uninstrumented_connector_makes_no_spans(instrument, connect, telemetry):
    instrument()
    DatabricksInstrumentor().uninstrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert telemetry.spans() == ()


def test_suppressed_instrumentation_makes_no_spans(instrument, connect):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor, suppress_instrumentation():
        cursor.execute("SELECT 1")
    assert telemetry.spans() == ()


def test_bad_option_fails_at_instrument_time_naming_it(telemetry):
    instrumentor = DatabricksInstrumentor()
    with pytest.raises(ConfigurationError, match="default_warehouse_size"):
        instrumentor.instrument(tracer_provider=telemetry.tracer_provider, default_warehouse_size="Enormous")
    assert not instrumentor.is_instrumented_by_opentelemetry
    instrumentor.uninstrument()


def test_environment_variables_configure_the_instrumentation(monkeypatch, instrument, connect, emulator):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_SIZES", f"{emulator.warehouse_id}=Large")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_DATABRICKS_CAPTURE_QUERY_TEXT", "off")
    monkeypatch.setenv("DAGSTER_JOB_NAME", "from-environment")
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    attributes = telemetry.spans()[0].attributes
    assert attributes["databricks.cost.estimate_method"] == "configured_size"
    assert "db.query.text" not in attributes
    assert attributes["dagster.job.name"] == "from-environment"


def test_importing_the_package_imports_neither_library():
    code = (
        "import sys, opentelemetry_instrumentation_databricks; print('databricks.sql' in sys.modules, "
        "'databricks.sdk' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["False", "False"]


@pytest.mark.subprocess
def test_opentelemetry_instrument_finds_the_entry_point(emulator, tmp_path):
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(f"""
        from databricks import sql
        with sql.connect(**{emulator.connect_kwargs()!r}) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    """)
    )
    environment = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "entry-point-test",
    }
    launcher = os.path.join(os.path.dirname(sys.executable), "opentelemetry-instrument")
    result = subprocess.run(
        [launcher, sys.executable, str(script)], capture_output=True, text=True, env=environment, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert '"db.system.name": "databricks"' in result.stdout
    assert '"databricks.warehouse.id": "' + emulator.warehouse_id in result.stdout


def test_connector_http_is_not_traced_twice_by_the_urllib3_instrumentation(telemetry, connect):
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

    http = URLLib3Instrumentor()
    http.instrument(tracer_provider=telemetry.tracer_provider)
    try:
        with connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            bare_http_spans = len(telemetry.spans())
            telemetry.exporter.clear()
            instrumentor = DatabricksInstrumentor()
            instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
            try:
                cursor.execute("SELECT 1")
                traced = [span.name for span in telemetry.spans()]
            finally:
                instrumentor.uninstrument()
    finally:
        http.uninstrument()
    assert bare_http_spans >= 1, "without our patch the urllib3 instrumentation sees the connector's requests"
    assert traced == ["SELECT"]
