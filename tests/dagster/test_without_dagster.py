"""Dagster is optional: without it the instrumentation works without the Dagster fields; with it installed, a
process that never imports Dagster does not import it because of us."""

import json
import subprocess
import sys
import textwrap

import pytest

_CHILD = textwrap.dedent(
    """
    import json
    import sys

    if sys.argv[2] == "blocked":
        sys.modules["dagster"] = None
        sys.modules["dagster_pipes"] = None

    from databricks import sql
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from opentelemetry_instrumentation_databricks import DatabricksInstrumentor, context

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    DatabricksInstrumentor().instrument(tracer_provider=provider)
    with sql.connect(**json.loads(sys.argv[1])) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        rows = cursor.fetchall()
    (span,) = exporter.get_finished_spans()
    print(json.dumps({
        "rows": len(rows),
        "attributes": sorted(span.attributes),
        "detectors": len(context._detectors),
        "dagster_imported": sys.modules.get("dagster") is not None,
    }))
    """
)


def _run_child(emulator, mode: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(emulator.connect_kwargs()), mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.mark.subprocess
def test_without_dagster_statements_are_traced_without_dagster_fields(emulator):
    report = _run_child(emulator, "blocked")
    assert report["rows"] == 1
    assert "databricks.statement_id" in report["attributes"]
    assert "databricks.dbu.estimated" in report["attributes"]
    assert [key for key in report["attributes"] if key.startswith("dagster.")] == ["dagster.opaque_id"]
    assert report["detectors"] == 0
    assert not report["dagster_imported"]


@pytest.mark.subprocess
def test_installed_dagster_is_not_imported_by_the_instrumentation(emulator):
    report = _run_child(emulator, "installed")
    assert report["rows"] == 1
    assert report["detectors"] == 2
    assert not report["dagster_imported"]
