"""The ``ApiClient.do`` wrapper: generic spans, errors, suppression of nested HTTP spans, never breaking a call."""

import subprocess
import sys

import pytest
from databricks.sdk.errors import NotFound, ResourceDoesNotExist
from opentelemetry import context as otel_context
from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY
from opentelemetry.trace import SpanKind, StatusCode

from opentelemetry_instrumentation_databricks.workspace import jobs


def test_every_call_gets_a_client_span_with_http_attributes(sdk):
    fake = sdk()
    result = fake.call("GET", "/api/2.0/permissions/jobs/123", response={"ok": True})
    assert result == {"ok": True}
    (span,) = fake.spans()
    assert span.name == "databricks.permissions.get_jobs"
    assert span.kind is SpanKind.CLIENT
    assert span.attributes["http.request.method"] == "GET"
    assert span.attributes["server.address"] == "adb-123.cloud.databricks.com"
    assert "url.template" not in span.attributes


def test_databricks_errors_keep_their_identity_and_mark_the_span(sdk):
    fake = sdk()
    error = ResourceDoesNotExist("Run 5 does not exist", error_code="RESOURCE_DOES_NOT_EXIST")
    with pytest.raises(ResourceDoesNotExist) as raised:
        fake.call("GET", "/api/2.2/jobs/runs/get", query={"run_id": 5}, raises=error)
    assert raised.value is error
    (span,) = fake.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "RESOURCE_DOES_NOT_EXIST"
    assert span.attributes["http.response.status_code"] == 404
    assert span.attributes["url.template"] == "/api/2.2/jobs/runs/get"
    assert span.attributes["databricks.job.run_id"] == "5"


def test_errors_without_an_error_code_use_the_class_name(sdk):
    fake = sdk()
    with pytest.raises(ConnectionError):
        fake.call("GET", "/api/2.2/jobs/list", raises=ConnectionError("refused"))
    assert fake.spans()[0].attributes["error.type"] == "ConnectionError"
    with pytest.raises(NotFound):
        fake.call("GET", "/api/2.2/jobs/list", raises=NotFound("gone"))
    assert fake.spans()[1].attributes["http.response.status_code"] == 404


def test_the_original_call_runs_with_http_instrumentation_suppressed(sdk):
    fake = sdk()
    seen = {}

    def original(*args, **kwargs):
        seen["suppressed"] = otel_context.get_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY)
        return {}

    fake.patches._do(original, fake.client, ("GET", "/api/2.2/jobs/list"), {})
    assert seen["suppressed"] is True
    assert otel_context.get_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY) is None


def test_a_failing_handler_never_breaks_the_call(sdk, monkeypatch, caplog):
    fake = sdk()

    def broken(self, call, *rest):
        raise RuntimeError("bug in our code")

    monkeypatch.setattr(jobs.SubmitRun, "request", broken)
    monkeypatch.setattr(jobs.SubmitRun, "response", broken)
    body = {"tasks": [{"task_key": "a", "new_cluster": {"node_type_id": "i3.xlarge"}}]}
    for _ in range(3):
        assert fake.call("POST", "/api/2.2/jobs/runs/submit", body=body, response={"run_id": 1}) == {"run_id": 1}
    assert all(sent["body"] is body for sent in fake.sent)
    assert len(fake.spans()) == 3
    assert caplog.text.count("failed in databricks.jobs.submit request") == 1


def test_positional_body_is_replaced_positionally(sdk):
    fake = sdk()
    seen = {}

    def original(method, path=None, url=None, query=None, headers=None, body=None, **rest):
        seen["body"] = body
        return {"run_id": 1}

    body = {"tasks": [{"task_key": "a", "new_cluster": {"node_type_id": "i3.xlarge"}}]}
    fake.patches._do(original, fake.client, ("POST", "/api/2.2/jobs/runs/submit", None, None, {}, body), {})
    assert seen["body"] is not body and "custom_tags" in seen["body"]["tasks"][0]["new_cluster"]


def test_statement_finished_in_the_call_is_estimated_on_the_call_span(sdk):
    fake = sdk()
    body = {"statement": "SELECT * FROM main.sales.orders WHERE id = 42", "warehouse_id": "wh1", "catalog": "main"}
    fake.call(
        "POST", "/api/2.0/sql/statements", body=body, response={"statement_id": "s1", "status": {"state": "SUCCEEDED"}}
    )
    (span,) = fake.spans()
    assert span.attributes["db.query.text"] == "SELECT * FROM main.sales.orders WHERE id = ?"
    assert span.attributes["db.query.summary"] == "SELECT main.sales.orders"
    assert span.attributes["db.system.name"] == "databricks"
    assert span.attributes["databricks.warehouse.id"] == "wh1"
    assert span.attributes["databricks.statement_id"] == "s1"
    assert span.attributes["databricks.cost.estimate_method"] == "default_size"


def test_statement_still_running_gets_its_own_span_when_it_ends(sdk):
    fake = sdk()
    body = {"statement": "DELETE FROM t WHERE x = 'secret'", "warehouse_id": "wh1", "wait_timeout": "0s"}
    fake.call(
        "POST", "/api/2.0/sql/statements", body=body, response={"statement_id": "s2", "status": {"state": "PENDING"}}
    )
    fake.call("GET", "/api/2.0/sql/statements/s2", response={"statement_id": "s2", "status": {"state": "RUNNING"}})
    failed = {"statement_id": "s2", "status": {"state": "FAILED", "error": {"error_code": "TABLE_OR_VIEW_NOT_FOUND"}}}
    fake.call("GET", "/api/2.0/sql/statements/s2", response=failed)
    fake.call("GET", "/api/2.0/sql/statements/s2", response=failed)
    execute = fake.spans("databricks.statement_execution.execute_statement")[0]
    (statement,) = fake.spans("DELETE t")
    assert statement.parent.span_id == execute.context.span_id
    assert statement.attributes["db.query.text"] == "DELETE FROM t WHERE x = ?"
    assert statement.attributes["error.type"] == "TABLE_OR_VIEW_NOT_FOUND"
    assert "databricks.dbu.estimated" in statement.attributes


def test_pipeline_update_span_is_emitted_once_when_terminal(sdk):
    fake = sdk()
    spec = {
        "name": "dlt",
        "edition": "PRO",
        "clusters": [{"label": "default", "node_type_id": "i3.xlarge", "num_workers": 2}],
    }
    fake.call("POST", "/api/2.0/pipelines", body=spec, response={"pipeline_id": "p-1"})
    fake.call("POST", "/api/2.0/pipelines/p-1/updates", body={"full_refresh": True}, response={"update_id": "u-1"})
    update = {"update_id": "u-1", "pipeline_id": "p-1", "state": "RUNNING", "creation_time": 1_780_000_000_000}
    fake.call("GET", "/api/2.0/pipelines/p-1/updates/u-1", response={"update": update})
    done = {"update": {**update, "state": "COMPLETED"}}
    fake.call("GET", "/api/2.0/pipelines/p-1/updates/u-1", response=done)
    fake.call("GET", "/api/2.0/pipelines/p-1", response={"pipeline_id": "p-1", "latest_updates": [done["update"]]})
    fake.patches.tracker.pipeline_end_reads.drain()
    (span,) = fake.spans("databricks.pipelines.update")
    (start,) = fake.spans("databricks.pipelines.start_update")
    assert span.parent.span_id == start.context.span_id
    assert span.attributes["databricks.pipeline.id"] == "p-1"
    assert span.attributes["databricks.pipeline.update_id"] == "u-1"
    assert span.attributes["databricks.pipeline.edition"] == "pro"
    assert span.attributes["databricks.pipeline.serverless"] is False
    assert span.attributes["databricks.pipeline.full_refresh"] is True
    assert span.attributes["databricks.compute.type"] == "dlt"
    assert span.attributes["databricks.cost.estimate_method"] == "node_type_rates"
    assert span.start_time == 1_780_000_000_000 * 1_000_000


def test_command_span_uses_the_cached_cluster(sdk):
    fake = sdk()
    cluster = {"cluster_id": "c-1", "state": "RUNNING", "node_type_id": "i3.xlarge", "num_workers": 1}
    fake.call("GET", "/api/2.1/clusters/get", query={"cluster_id": "c-1"}, response=cluster)
    body = {"clusterId": "c-1", "contextId": "ctx", "language": "python", "command": "print('secret')"}
    fake.call("POST", "/api/1.2/commands/execute", body=body, response={"id": "cmd-1"})
    query = {"clusterId": "c-1", "contextId": "ctx", "commandId": "cmd-1"}
    fake.call("GET", "/api/1.2/commands/status", query=query, response={"id": "cmd-1", "status": "Finished"})
    (span,) = fake.spans("databricks.commands.command")
    assert span.attributes["databricks.cluster.id"] == "c-1"
    assert span.attributes["databricks.command.id"] == "cmd-1"
    assert span.attributes["databricks.compute.type"] == "all_purpose"
    assert span.attributes["databricks.cost.estimate_method"] == "node_type_rates"
    assert all("secret" not in str(value) for s in fake.spans() for value in s.attributes.values())


def test_importing_the_package_does_not_import_the_sdk():
    code = (
        "import sys, opentelemetry_instrumentation_databricks, opentelemetry_instrumentation_databricks.workspace;"
        "import opentelemetry_instrumentation_databricks.remote;"
        "print('databricks.sdk' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_uninstrument_restores_apiclient_do_exactly(instrument):
    from databricks.sdk.core import ApiClient

    from opentelemetry_instrumentation_databricks import DatabricksInstrumentor

    original = ApiClient.__dict__["do"]
    instrument()
    assert ApiClient.__dict__["do"] is not original
    DatabricksInstrumentor().uninstrument()
    assert ApiClient.__dict__["do"] is original
