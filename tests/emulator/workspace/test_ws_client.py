"""The emulator's WorkspaceClient: discovery, isolation from the caller's Databricks settings, and fault switches."""

from __future__ import annotations

import pytest
import requests
from databricks.sdk.errors import DatabricksError, InternalError, NotImplemented, PermissionDenied, Unauthenticated
from databricks.sdk.service import jobs

from databricks_emulator import Fault


def submit_one(w) -> int:
    task = jobs.SubmitTask(task_key="t", notebook_task=jobs.NotebookTask(notebook_path="/n"))
    return w.jobs.submit(run_name="faults", tasks=[task]).run_id


def test_client_ignores_databricks_environment_and_profiles(ws, monkeypatch):
    monkeypatch.setenv("DATABRICKS_HOST", "https://elsewhere.cloud.databricks.com")
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-not-this-one")
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "missing-profile")
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", "someone")
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", "secret")
    monkeypatch.setenv("DATABRICKS_ACCOUNT_ID", "account")

    client = ws.workspace_client()

    assert client.config.host == ws.host
    assert client.config.auth_type == "pat"
    assert client.config.account_id is None and client.config.client_id is None
    assert client.config.workspace_id == str(ws.workspace.workspace_id)
    assert client.current_user.me().user_name == "emulator-user@example.com"


def test_wrong_token_is_unauthenticated(ws):
    with pytest.raises((Unauthenticated, PermissionDenied)):
        ws.workspace_client(token="dapi-wrong").current_user.me()


def test_a_503_is_retried_on_emulator_time(ws, w, no_sleep):
    run_id = submit_one(w)
    ws.faults.add(r"^/api/2\.2/jobs/runs/get$", Fault(status=503, times=2))
    before = ws.clock.time()

    run = w.jobs.get_run(run_id)

    assert run.run_id == run_id
    assert ws.clock.time() - before >= 2


def test_a_dropped_connection_is_retried(ws, w, no_sleep):
    run_id = submit_one(w)
    ws.faults.add(r"^/api/2\.2/jobs/runs/get$", Fault(body=b"", times=1))
    assert w.jobs.get_run(run_id).run_id == run_id


def test_a_500_is_not_retried(ws, w, no_sleep):
    run_id = submit_one(w)
    ws.faults.add(r"^/api/2\.2/jobs/runs/get$", Fault(status=500, times=1))
    with pytest.raises(InternalError):
        w.jobs.get_run(run_id)
    assert w.jobs.get_run(run_id).run_id == run_id


def test_a_malformed_response_fails_fast_with_a_json_error(ws, w, no_sleep):
    run_id = submit_one(w)
    ws.faults.add(r"^/api/2\.2/jobs/runs/get$", Fault(body=b"{not json", times=1))
    with pytest.raises(requests.exceptions.JSONDecodeError):
        w.jobs.get_run(run_id)
    assert w.jobs.get_run(run_id).run_id == run_id


def test_an_unknown_route_is_not_implemented_and_names_the_route(w, no_sleep):
    with pytest.raises(NotImplemented) as raised:
        w.api_client.do("GET", "/api/2.0/no-such-service/things", query={"id": "1"})
    assert "GET /api/2.0/no-such-service/things" in str(raised.value)


def test_a_known_route_with_another_method_is_method_not_allowed_naming_both(w, no_sleep):
    with pytest.raises(DatabricksError) as raised:
        w.api_client.do("DELETE", "/api/2.2/jobs/runs/get")
    assert "DELETE is not allowed on /api/2.2/jobs/runs/get" in str(raised.value)
