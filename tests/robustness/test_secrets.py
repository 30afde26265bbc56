"""Secrets never reach a span, a metric attribute or a log line of ours: access tokens (the emulator's and a
PAT-looking one), secrets in connection keywords and headers, literals in SQL text, statement parameters, job
parameters — through successful calls, failing ones, faults and failing lookups, with our logger at DEBUG."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from databricks_emulator import Clock, Emulator, Fault
from databricks_emulator.app import DEFAULT_TOKEN

from .conftest import instrumented

PAT = "dapi0123456789abcdef0123456789abcdef"
LITERAL = "Tr0ub4dor-literal-secret"
PARAMETER = "correct-horse-parameter-secret"
HEADER = "x-api-key-header-secret"
CERTIFICATE_PASSWORD = "cert-password-secret"
JOB_PARAMETER = "job-parameter-secret"
SECRETS = (PAT, DEFAULT_TOKEN, LITERAL, PARAMETER, HEADER, CERTIFICATE_PASSWORD, JOB_PARAMETER)


@pytest.fixture(scope="module")
def pat_workspace() -> Iterator[Emulator]:
    with Emulator(token=PAT, clock=Clock(frozen=True)) as running:
        yield running


def _sql_work(server: Emulator, protocol: str) -> None:
    connection = server.sql_connect(
        use_sea=protocol == "sea",
        http_headers=[("X-Api-Key", HEADER)],
        _tls_client_cert_key_password=CERTIFICATE_PASSWORD,
    )
    with connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT '{LITERAL}' AS a, 1234567 AS b")
        cursor.fetchall()
        cursor.execute("SELECT :p AS a", {"p": PARAMETER})
        cursor.fetchall()
        cursor.executemany("SELECT :p", [{"p": PARAMETER}, {"p": LITERAL}])
        with pytest.raises(Exception, match="TABLE_OR_VIEW_NOT_FOUND"):
            cursor.execute(f"SELECT * FROM no_such_table WHERE password = '{LITERAL}'")
        server.faults.add(r"^/(sql|api)/", Fault(status=503, times=1), method="POST")
        with pytest.raises(Exception):  # noqa: B017 - whatever the connector raises on a 503
            cursor.execute(f"SELECT '{LITERAL}'")
        server.faults.clear()


def _workspace_work(server: Emulator) -> None:
    client = server.workspace_client()
    from databricks.sdk.service.compute import ClusterSpec
    from databricks.sdk.service.jobs import NotebookTask, SubmitTask
    from databricks.sdk.service.sql import StatementParameterListItem

    task = SubmitTask(
        task_key="t",
        notebook_task=NotebookTask(notebook_path="/n", base_parameters={"password": JOB_PARAMETER}),
        new_cluster=ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=1),
    )
    run_id = client.jobs.submit(run_name="secrets", tasks=[task]).run_id
    server.auto_advance_on_poll = "settle"
    try:
        client.jobs.get_run(run_id)
    finally:
        server.auto_advance_on_poll = None
    client.statement_execution.execute_statement(
        statement=f"SELECT '{LITERAL}' AS a, :p AS b",
        warehouse_id=server.warehouse_id,
        parameters=[StatementParameterListItem(name="p", value=PARAMETER)],
        wait_timeout="10s",
    )
    server.faults.add(r"^/api/2\.\d/jobs/runs/get$", Fault(status=500, times=1))
    with pytest.raises(Exception):  # noqa: B017 - the SDK's InternalError
        client.jobs.get_run(1)
    server.faults.clear()


def _everything_we_emitted(telemetry: Any, caplog: pytest.LogCaptureFixture) -> list[str]:
    texts: list[str] = []
    for span in telemetry.spans():
        texts.append(span.name)
        texts.append(span.status.description or "")
        texts.extend(f"{key}={value}" for key, value in span.attributes.items())
        for event in span.events:
            texts.append(event.name)
            texts.extend(f"{key}={value}" for key, value in event.attributes.items())
    data = telemetry.metric_reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    texts.extend(f"{key}={value}" for key, value in point.attributes.items())
    formatter = logging.Formatter("%(name)s %(message)s")
    ours = [record for record in caplog.records if record.name.startswith("opentelemetry_instrumentation_databricks")]
    texts.extend(formatter.format(record) for record in ours)
    return texts


@pytest.mark.parametrize("protocol", ["thrift", "sea"])
def test_no_secret_reaches_spans_metrics_or_logs(pat_workspace, telemetry, caplog, protocol):
    def failing_hook(*args: Any) -> None:
        raise RuntimeError("a broken user hook")

    pat_workspace.faults.add(r"^/api/2\.0/sql/warehouses/", Fault(status=500))
    try:
        with caplog.at_level(logging.DEBUG, logger="opentelemetry_instrumentation_databricks"):
            with instrumented(telemetry, warehouse_lookup=True, request_hook=failing_hook):
                _sql_work(pat_workspace, protocol)
                _workspace_work(pat_workspace)
            for thread in threading.enumerate():
                if thread.name == "databricks-warehouse-lookup":
                    thread.join(10)
    finally:
        pat_workspace.faults.clear()

    emitted = _everything_we_emitted(telemetry, caplog)
    assert len(telemetry.spans()) >= 8, "the work was traced"
    assert any(span.name == "databricks.jobs.run" for span in telemetry.spans()), "the run's own span too"
    assert any("Could not look up" in text for text in emitted), "the failing lookup was logged"
    assert any("hook" in text for text in emitted), "the failing hook was logged"
    leaks = [(secret, text) for secret in SECRETS for text in emitted if secret in text]
    assert leaks == []
