"""Each example runs with one command against an embedded emulator and prints what a user should look at.

The zero-code launcher example runs in ``test_zero_code.py``; the Dagster example's assets also in
``tests/dagster/test_example.py``."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from .conftest import EXAMPLES

STANDALONE = ("quickstart.py", "dagster_definitions.py")


@pytest.fixture(scope="module")
def standalone_runs():
    """The examples that set global OpenTelemetry state run as child processes, side by side: ``{file: stdout}``."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "DATABRICKS_"))}
    children = {
        name: subprocess.Popen(
            [sys.executable, str(EXAMPLES / name)],
            env=environ,
            cwd=EXAMPLES.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in STANDALONE
    }
    outputs = {}
    try:
        for name, child in children.items():
            stdout, stderr = child.communicate(timeout=180)
            assert child.returncode == 0, f"{name}: {stderr}"
            outputs[name] = stdout
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
    return outputs


@pytest.mark.subprocess
def test_quickstart_prints_spans_with_ids_tags_and_estimates(standalone_runs):
    output = standalone_runs["quickstart.py"]
    assert re.search(r"span  SELECT orders .*\n(      .*\n)*      databricks\.statement_id +[0-9a-f-]{36}", output)
    assert "dagster.asset.key                  sales/orders" in output
    assert re.search(r"databricks\.cost\.estimated_usd +0\.\d{8}", output)
    assert "result: [" in output
    assert re.search(r"'otel_trace_id': '[0-9a-f]{32}'", output)


@pytest.mark.subprocess
def test_dagster_example_prints_spans_and_asset_metadata(standalone_runs):
    output = standalone_runs["dagster_definitions.py"]
    run_span = r"span databricks\.jobs\.run: dagster\.asset\.key=orders_rollup, .*databricks\.job\.run_id=\d+"
    assert re.search(run_span, output)
    assert "metadata of daily_orders:" in output and "metadata of orders_rollup:" in output
    assert re.search(r"databricks/statements +2\n", output)
    assert re.search(r"databricks/job_runs +1\n", output)


def test_workload_prints_spans_and_cost_by_compute_type_asset_and_warehouse(load_example, capsys):
    assert load_example("workload").main([]) == 0
    output = capsys.readouterr().out
    for name in ("CREATE orders", "databricks.jobs.run", "databricks.pipelines.update"):
        assert re.search(rf"^{re.escape(name)} +\d+\.\d{{6}}  ", output, re.MULTILINE), name
    assert "error.type=TABLE_OR_VIEW_NOT_FOUND" in output
    for compute_type in ("sql_warehouse", "jobs_classic", "jobs_serverless", "dlt"):
        assert re.search(rf"^  {compute_type} +\$ +\d", output, re.MULTILINE), compute_type
    for heading in ("compute type", "Dagster asset", "SQL warehouse"):
        assert f"estimated cost by {heading}:" in output
    assert "Look at:" in output


def test_reconcile_prints_billing_spans_idempotence_and_accuracy(load_example, capsys, tmp_path):
    assert load_example("reconcile").main(["--state-dir", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    for kind in ("job_run", "pipeline_update", "statement", "warehouse_idle"):
        assert re.search(rf"^{kind} +\S+ +\d+\.\d{{6}} ", output, re.MULTILINE), kind
    assert re.search(r"^job_run .* span_record \(trace [0-9a-f]{32}\)$", output, re.MULTILINE)
    assert re.search(r"first run: +[1-9]\d* billing spans", output)
    assert "second run: 0 billing spans" in output
    assert re.search(r"^method +units +estimated +billed +median error", output, re.MULTILINE)
    assert re.search(r"^jobs_classic +2 +\$\d+\.\d\d ", output, re.MULTILINE)
    assert re.search(r"^dagster_job +units", output, re.MULTILINE)
    assert re.search(r"^daily_sales +\d+ ", output, re.MULTILINE)
    assert (tmp_path / "reconcile.sqlite").exists()
