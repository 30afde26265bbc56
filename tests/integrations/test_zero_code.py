"""``opentelemetry-instrument --traces_exporter otlp --metrics_exporter otlp python app.py`` against the emulator,
exporting with the real OTLP exporters (HTTP/protobuf and gRPC) to a local receiver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from ..otlp_receiver import PROTOCOLS, OtlpReceiver

APP = Path(__file__).resolve().parents[2] / "examples" / "zero_code" / "app.py"
LAUNCHER = Path(sys.executable).with_name("opentelemetry-instrument")
COMMAND = [str(LAUNCHER), "--traces_exporter", "otlp", "--metrics_exporter", "otlp", sys.executable, str(APP)]

pytestmark = pytest.mark.subprocess


class Run(NamedTuple):
    receiver: OtlpReceiver
    stdout: str


def child_environment(workspace, receiver: OtlpReceiver, **extra: str) -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "DATABRICKS_"))}
    environ.update(
        DATABRICKS_HOST=workspace.host,
        DATABRICKS_TOKEN=workspace.token,
        DATABRICKS_HTTP_PATH=workspace.http_path,
        OTEL_SERVICE_NAME="zero-code-app",
        OTEL_EXPORTER_OTLP_PROTOCOL=receiver.protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_LOGS_EXPORTER="none",
        OTEL_METRIC_EXPORT_INTERVAL="1000",
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_SIZES=f"{workspace.warehouse_id}=Medium",
    )
    environ.update(extra)
    return environ


@pytest.fixture(scope="module")
def workspace():
    from databricks_emulator import Emulator

    with Emulator() as ws:
        ws.auto_advance_on_poll = "settle"
        yield ws


RECONCILING = "http/protobuf+reconcile"
SETTINGS = {
    "http/protobuf": {},
    "grpc": {"OTEL_PYTHON_CONFIGURATOR": "databricks", "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE": "false"},
    RECONCILING: {
        "OTEL_PYTHON_CONFIGURATOR": "databricks",
        "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_HOLD_SECONDS": "60",
        "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_FLUSH_LOOKUP_SECONDS": "20",
    },
}


@pytest.fixture(scope="module")
def runs(workspace):
    """All runs at once (each child spends most of its time importing): ``{run: Run(receiver, stdout)}``.

    One run per protocol with the launcher's defaults (the grpc one selects our configurator with reconciliation
    opted out), and one with our configurator alone: reconciliation is on by default, its billing source reaching
    the emulator's warehouse over plain http."""
    receivers = {run: OtlpReceiver(run.split("+")[0]).start() for run in SETTINGS}
    children = {
        protocol: subprocess.Popen(
            COMMAND,
            env=child_environment(workspace, receiver, **SETTINGS[protocol]),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=APP.parent,
        )
        for protocol, receiver in receivers.items()
    }
    results = {}
    try:
        for protocol, child in children.items():
            stdout, stderr = child.communicate(timeout=120)
            assert child.returncode == 0, stderr
            results[protocol] = Run(receivers[protocol], stdout)
        yield results
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
        for receiver in receivers.values():
            receiver.stop()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_statement_span_arrives_with_ids_tags_and_cost(runs, workspace, protocol):
    receiver, stdout = runs[protocol]
    (statement,) = [span for span in receiver.spans() if "databricks.statement_id" in span.attributes]
    attributes = statement.attributes
    assert statement.name == "SELECT"
    assert statement.resource["service.name"] == "zero-code-app"
    assert statement.scope == "opentelemetry_instrumentation_databricks"
    assert attributes["db.system.name"] == "databricks"
    assert attributes["db.operation.name"] == "SELECT"
    assert "'eu'" not in attributes["db.query.text"]
    assert attributes["databricks.warehouse.id"] == workspace.warehouse_id
    assert attributes["databricks.compute.type"] == "sql_warehouse"
    assert attributes["databricks.cost.estimate_method"] == "configured_size"
    assert attributes["databricks.dbu.estimated"] > 0
    assert attributes["databricks.cost.estimated_usd"] > 0
    assert f"SQL statement  {attributes['databricks.statement_id']}" in stdout
    (record,) = [r for r in workspace.query_history if r.statement_id == attributes["databricks.statement_id"]]
    assert record.query_tags["otel_trace_id"] == statement.trace_id
    assert record.query_tags["otel_span_id"] == statement.span_id


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_job_run_span_arrives_under_its_submit_span(runs, workspace, protocol):
    receiver, stdout = runs[protocol]
    spans = receiver.spans()
    (run,) = [span for span in spans if span.name == "databricks.jobs.run"]
    (submit,) = [span for span in spans if span.name == "databricks.jobs.submit"]
    (task,) = [span for span in spans if span.name == "databricks.jobs.task_run"]
    assert run.parent_span_id == submit.span_id and run.trace_id == submit.trace_id
    assert task.parent_span_id == run.span_id
    attributes = run.attributes
    assert attributes["databricks.run.result_state"] == "SUCCESS"
    assert attributes["databricks.compute.type"] == "jobs_classic"
    assert attributes["databricks.dbu.estimated"] > 0 and attributes["databricks.cost.estimated_usd"] > 0
    assert f"job run        {attributes['databricks.job.run_id']} (SUCCESS)" in stdout
    (record,) = [r for r in workspace.job_runs if str(r.run_id) == attributes["databricks.job.run_id"]]
    assert record.tasks[0].custom_tags["otel_trace_id"] == run.trace_id


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_metrics_arrive(runs, protocol):
    receiver = runs[protocol].receiver
    (duration, *_) = receiver.metrics("db.client.operation.duration")
    assert duration.kind == "histogram" and duration.metric.unit == "s"
    histogram_points = [point for metric in receiver.metrics("db.client.operation.duration") for point in metric.points]
    operations = {attributes_of_point(point).get("db.operation.name") for point in histogram_points}
    assert "SELECT" in operations
    for name, unit in (("databricks.dbu.estimated", "{dbu}"), ("databricks.cost.estimated", "{USD}")):
        metrics = receiver.metrics(name)
        assert metrics and all(metric.kind == "sum" and metric.metric.unit == unit for metric in metrics)
        last = metrics[-1]
        assert last.metric.sum.is_monotonic
        compute_types = {attributes_of_point(point)["databricks.compute.type"] for point in last.points}
        assert {"sql_warehouse", "jobs_classic"} <= compute_types
        assert all(point.as_double > 0 for point in last.points)


def attributes_of_point(point) -> dict:
    from ..otlp_receiver import attributes_of

    return attributes_of(point.attributes)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_without_reconciliation_spans_carry_no_cost_status(runs, protocol):
    receiver = runs[protocol].receiver
    assert not [span.name for span in receiver.spans() if "databricks.cost.status" in span.attributes]


def test_our_configurator_installs_the_cost_reconciling_processor_by_default(runs, workspace):
    """Billing arrives hours after the work: the processor holds the spans of billed work, looks them up once more at
    exit (over plain http, in the emulator's system tables), finds no billing yet, and forwards them marked pending;
    every span still arrives, with its estimate."""
    receiver = runs[RECONCILING].receiver
    spans = receiver.spans()
    held = {span.name: span.attributes for span in spans if "databricks.cost.status" in span.attributes}
    assert set(held) == {"SELECT", "databricks.jobs.run"}
    assert {attributes["databricks.cost.status"] for attributes in held.values()} == {"pending"}
    assert all(attributes["databricks.cost.estimated_usd"] > 0 for attributes in held.values())
    assert {"databricks.jobs.submit", "databricks.jobs.task_run"} <= {span.name for span in spans}
    assert receiver.metrics("databricks.cost.estimated")
    lookups = [r for r in workspace.query_history if "system.billing.usage" in r.statement_text]
    assert lookups and all(r.execution_status == "FINISHED" for r in lookups)


def documented_command(readme: Path) -> str:
    """The launcher command of ``readme``'s first sh block, continuation lines joined, install lines left out."""
    block = readme.read_text().split("```sh\n", 1)[1].split("```", 1)[0]
    command = block.replace("\\\n", " ")
    (line,) = [
        line for line in command.splitlines() if "opentelemetry-instrument " in line and not line.startswith("pip")
    ]
    return line


def test_the_documented_zero_code_command_exports_as_written(workspace):
    """The example's README command, run by a shell as written: only the port of the collector it names (4318) is
    the test receiver's, and ``python`` / ``opentelemetry-instrument`` are this environment's."""
    command = documented_command(APP.parent / "README.md")
    assert "http://localhost:4318" in command
    with OtlpReceiver("http/protobuf") as receiver:
        shell = (
            command.replace("http://localhost:4318", receiver.endpoint)
            .replace("opentelemetry-instrument ", f"{LAUNCHER} ")
            .replace(" python ", f" {sys.executable} ")
        )
        environ = child_environment(workspace, receiver)
        for variable in ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"):
            del environ[variable]
        done = subprocess.run(
            ["bash", "-c", shell], env=environ, cwd=APP.parents[2], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        names = {span.name for span in receiver.spans()}
    assert {"SELECT", "databricks.jobs.run"} <= names
