"""The Dagster example materializes in-process against the session emulator (through its ``DATABRICKS_*`` path)."""

import importlib.util
from pathlib import Path

import dagster as dg
import pytest

from .conftest import spans_of_run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dagster_definitions.py"


@pytest.fixture
def example(ws, monkeypatch):
    monkeypatch.setenv("DATABRICKS_HOST", ws.host)
    monkeypatch.setenv("DATABRICKS_TOKEN", ws.token)
    monkeypatch.setenv("DATABRICKS_HTTP_PATH", ws.http_path)
    spec = importlib.util.spec_from_file_location("dagster_definitions_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_assets_report_their_spans_and_cost(example, instrument, ws):
    telemetry = instrument()
    result = dg.materialize(example.ASSETS, resources=example.defs.resources)
    sql = result.asset_materializations_for_node("daily_orders")[0].metadata
    job = result.asset_materializations_for_node("orders_rollup")[0].metadata
    assert sql["rows"].value == 3
    assert sql["databricks/statements"].value == 2
    assert job["databricks/job_runs"].value == 1
    assert job["databricks/cost_estimated_usd"].value > 0
    (run_span,) = spans_of_run(telemetry, result.run_id, "databricks.jobs.run")
    assert run_span.attributes["dagster.asset.key"] == "orders_rollup"
    (record,) = [run for run in ws.job_runs if str(run.run_id) == run_span.attributes["databricks.job.run_id"]]
    assert record.tasks[0].custom_tags["dagster_asset_key"] == "orders_rollup"
