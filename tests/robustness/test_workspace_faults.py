"""Databricks misbehaving under the SDK (``WorkspaceClient``): the user's call behaves exactly as it does without
the instrumentation (same result or same exception type and message), makes the same number of requests (the
SDK's own retries included: we add none), takes no longer beyond a generous 1.5 s, leaves no thread behind, and
its span ends saying what happened. The SDK's retry sleeps run on the emulator's clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from databricks.sdk.service.compute import ClusterSpec
from databricks.sdk.service.jobs import NotebookTask, SubmitTask
from opentelemetry.trace import StatusCode

from databricks_emulator import Clock, Emulator, Fault

from .conftest import Outcome, instrumented, run_call

EXTRA_TIME_BOUND_SECONDS = 1.5

FAULTS: dict[str, tuple[Callable[[], Fault], dict[str, Any]]] = {
    "http_503_once_then_retried": (lambda: Fault(status=503, times=1), {}),
    "http_503_until_the_retry_timeout": (lambda: Fault(status=503), {}),
    "http_429_once_then_retried": (lambda: Fault(status=429, times=1), {}),
    "http_500": (lambda: Fault(status=500, times=1), {}),
    "slow_response_past_the_http_timeout": (lambda: Fault(delay=0.6, times=1), {"http_timeout_seconds": 0.2}),
    "malformed_body": (lambda: Fault(body=b"<html>Bad Gateway</html>", times=1), {}),
    "connection_closed_without_an_answer": (lambda: Fault(body=b"", times=1), {}),
    "truncated_body": (lambda: Fault(truncate_at=10, times=1), {}),
}


def _task() -> SubmitTask:
    cluster = ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=1)
    return SubmitTask(task_key="main", notebook_task=NotebookTask(notebook_path="/robustness"), new_cluster=cluster)


def _get_run(client: Any, run_id: int) -> tuple:
    run = client.jobs.get_run(run_id)
    return run.run_id, run.run_name, [task.task_key for task in run.tasks or ()]


def _submit(client: Any) -> str:
    waiter = client.jobs.submit(run_name="robustness", tasks=[_task()])
    return "submitted" if isinstance(waiter.run_id, int) else repr(waiter.run_id)


CALLS: dict[str, tuple[str, Callable[[Any, int], Any]]] = {
    "jobs.get_run": (r"^/api/2\.\d/jobs/runs/get$", _get_run),
    "jobs.submit": (r"^/api/2\.\d/jobs/runs/submit$", lambda client, run_id: _submit(client)),
}


@pytest.fixture
def fixed_retry_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK adds ``random()`` seconds to each retry sleep, so how many retries fit in its timeout varies from
    call to call; fixed, bare and instrumented calls retry the same number of times."""
    monkeypatch.setattr("databricks.sdk.retries.random", lambda: 0.5)


@pytest.fixture(scope="module")
def run_id(workspace: Emulator) -> int:
    return workspace.workspace_client().jobs.submit(run_name="robustness", tasks=[_task()]).run_id


def _call_under_fault(
    workspace: Emulator, call_name: str, fault: Fault, client_options: dict[str, Any], run_id: int
) -> Outcome:
    path, call = CALLS[call_name]
    client = workspace.workspace_client(**client_options)
    workspace.faults.add(path, fault)
    outcome = run_call(workspace, lambda: call(client, run_id))
    workspace.faults.clear()
    assert fault.hits >= 1, "the fault must have hit the call"
    return outcome


@pytest.mark.parametrize("call_name", list(CALLS))
@pytest.mark.parametrize("fault_name", list(FAULTS))
def test_workspace_call_under_fault_behaves_as_without_instrumentation(
    workspace, faults, telemetry, no_thread_leaks, fixed_retry_jitter, run_id, call_name, fault_name
):
    make_fault, client_options = FAULTS[fault_name]
    bare = _call_under_fault(workspace, call_name, make_fault(), client_options, run_id)
    with instrumented(telemetry):
        traced = _call_under_fault(workspace, call_name, make_fault(), client_options, run_id)

    assert traced.behaviour == bare.behaviour
    assert traced.requests == bare.requests, "the instrumentation must add no request and no retry"
    assert traced.elapsed <= bare.elapsed + EXTRA_TIME_BOUND_SECONDS
    call_spans = [span for span in telemetry.spans() if span.name == f"databricks.{call_name}"]
    assert len(call_spans) == 1, "one span per user call, however often the SDK retried"
    if bare.error_type is None:
        assert call_spans[0].status.status_code is not StatusCode.ERROR
    else:
        assert call_spans[0].status.status_code is StatusCode.ERROR
        assert call_spans[0].attributes["error.type"]


def _call_after_the_server_went_away() -> Outcome:
    server = Emulator(clock=Clock(frozen=True)).start()
    client = server.workspace_client(retry_timeout_seconds=5)
    port = server.port
    server.stop()
    return run_call(server, lambda: _get_run(client, 1), port)


def test_connection_refused_raises_what_the_bare_sdk_raises(telemetry, no_thread_leaks, fixed_retry_jitter):
    bare = _call_after_the_server_went_away()
    with instrumented(telemetry):
        traced = _call_after_the_server_went_away()
    assert bare.error_type is not None
    assert traced.behaviour == bare.behaviour
    (span,) = [span for span in telemetry.spans() if span.name == "databricks.jobs.get_run"]
    assert span.status.status_code is StatusCode.ERROR
