"""Bad reconcile variables under the launcher: a warning and a safe default, never a process without telemetry.

Each case runs the configurator the way ``opentelemetry-instrument`` does (its sitecustomize calls
``_load_configurators()``, which picks the configurator named by ``OTEL_PYTHON_CONFIGURATOR``) in a fresh
interpreter, and reports which tracer and meter providers the process ended up with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_PROBE = """
import json
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.auto_instrumentation._load import _load_configurators

_load_configurators()
provider = trace.get_tracer_provider()
processors = getattr(getattr(provider, "_active_span_processor", None), "_span_processors", ())
reconciling = [p for p in processors if type(p).__name__ == "CostReconcilingSpanProcessor"]
print(json.dumps({
    "tracer_provider": type(provider).__name__,
    "meter_provider": type(metrics.get_meter_provider()).__name__,
    "hold_seconds": reconciling[0].hold_seconds if reconciling else None,
    "max_held": reconciling[0].max_held if reconciling else None,
    "discount": reconciling[0].source.discount if reconciling else None,
    "reconciling": len(reconciling),
}))
for processor in reconciling:
    processor.shutdown()
"""

_WAREHOUSE = {
    "DATABRICKS_HOST": "https://example.cloud.databricks.com",
    "DATABRICKS_WAREHOUSE_ID": "abc123",
    "DATABRICKS_TOKEN": "dapi-test",
}


def _launch(**variables: str) -> tuple[dict, str]:
    """The probe's report and stderr; a variable given as ``""`` is left unset."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "DATABRICKS_"))}
    environment.update(
        {
            "OTEL_PYTHON_CONFIGURATOR": "databricks",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "console",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_METRIC_EXPORT_INTERVAL": "600000",
            **_WAREHOUSE,
            **variables,
        }
    )
    environment = {key: value for key, value in environment.items() if value}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], env=environment, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[0]), done.stderr


@pytest.mark.parametrize(
    ("variable", "value", "field", "default"),
    [
        ("OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_DISCOUNT", "-1", "discount", 1.0),
        ("OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_DISCOUNT", "7", "discount", 1.0),
        ("OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_HOLD_SECONDS", "-5", "hold_seconds", 60.0),
        ("OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_MAX_HELD", "0", "max_held", 10_000),
        ("OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_FLUSH_LOOKUP_SECONDS", "-2", None, None),
    ],
)
def test_out_of_range_reconcile_variable_warns_and_keeps_tracing_metrics_and_the_processor(
    variable, value, field, default
):
    report, stderr = _launch(**{variable: value})
    assert report["tracer_provider"] == "TracerProvider"
    assert report["meter_provider"] == "MeterProvider"
    assert report["reconciling"] == 1
    if field is not None:
        assert report[field] == default
    assert f"Ignoring {variable}='{value}'" in stderr
    assert "Traceback" not in stderr


def test_reconcile_maybe_is_a_warning_and_counts_as_unset_not_as_true():
    report, stderr = _launch(OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE="maybe", OTEL_PYTHON_CONFIGURATOR="")
    # unselected, the launcher loads the first configurator installed: ours, or the SDK's when it comes first
    assert report["tracer_provider"] == "TracerProvider"
    assert report["reconciling"] == 0
    assert "Ignoring OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE='maybe' (expected true or false)" in stderr
