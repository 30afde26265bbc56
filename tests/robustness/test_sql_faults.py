"""Databricks misbehaving under the SQL connector (Thrift and SEA): the user's call behaves exactly as it does
without the instrumentation (same rows or same exception type and message), makes the same number of requests,
takes no longer beyond a generous 1.5 s (it only ever differs by microseconds), leaves no thread behind, and the
span ends saying what happened."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from databricks_emulator import Emulator, Fault

from .conftest import Outcome, instrumented, run_call

EXTRA_TIME_BOUND_SECONDS = 1.5
STATEMENT_PATH = {"thrift": r"^/sql/1\.0/warehouses/", "sea": r"^/api/2\.0/sql/statements/?$"}

FAULTS: dict[str, tuple[Callable[[], Fault], dict[str, Any]]] = {
    "http_503": (lambda: Fault(status=503, times=1), {}),
    "http_500": (lambda: Fault(status=500, times=1), {}),
    "slow_response_past_the_socket_timeout": (
        lambda: Fault(delay=0.6, times=1),
        {"_socket_timeout": 0.2, "_retry_stop_after_attempts_duration": 30},
    ),
    "malformed_body": (lambda: Fault(body=b"<html>Bad Gateway</html>", times=1), {}),
    "connection_closed_without_an_answer": (lambda: Fault(body=b"", times=1), {}),
    "truncated_body": (lambda: Fault(truncate_at=10, times=1), {}),
}


@pytest.fixture(params=["thrift", "sea"])
def protocol(request: pytest.FixtureRequest) -> str:
    return request.param


def _select_and_fetch(cursor: Any) -> list[tuple]:
    cursor.execute("SELECT 42 AS answer")
    return [tuple(row) for row in cursor.fetchall()]


def _statement_under_fault(
    workspace: Emulator, protocol: str, fault: Fault, connect_options: dict[str, Any]
) -> Outcome:
    connection = workspace.sql_connect(use_sea=protocol == "sea", **connect_options)
    try:
        cursor = connection.cursor()
        workspace.faults.add(STATEMENT_PATH[protocol], fault, method="POST")
        outcome = run_call(workspace, lambda: _select_and_fetch(cursor))
        workspace.faults.clear()
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    assert fault.hits == 1, "the fault must have hit the statement"
    return outcome


def _assert_same_behaviour(bare: Outcome, traced: Outcome) -> None:
    assert traced.behaviour == bare.behaviour
    assert traced.requests == bare.requests, "the instrumentation must add no request and no retry"
    assert traced.elapsed <= bare.elapsed + EXTRA_TIME_BOUND_SECONDS


@pytest.mark.parametrize("fault_name", list(FAULTS))
def test_statement_under_fault_behaves_as_without_instrumentation(
    workspace, faults, telemetry, no_thread_leaks, protocol, fault_name
):
    make_fault, connect_options = FAULTS[fault_name]
    bare = _statement_under_fault(workspace, protocol, make_fault(), connect_options)
    with instrumented(telemetry):
        traced = _statement_under_fault(workspace, protocol, make_fault(), connect_options)

    _assert_same_behaviour(bare, traced)
    (span,) = telemetry.spans()
    if bare.error_type is None:
        assert traced.value == [(42,)]
        assert span.status.status_code is not StatusCode.ERROR
        assert "databricks.statement_id" in span.attributes
    else:
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"]


def _statement_on_a_server_killed_mid_statement(protocol: str) -> Outcome:
    server = Emulator().start()
    connection = server.sql_connect(use_sea=protocol == "sea")
    cursor = connection.cursor()
    held = Fault(delay=30.0, times=1)
    server.faults.add(STATEMENT_PATH[protocol], held, method="POST")
    killer = threading.Thread(target=lambda: held.reached.wait(10) and server.stop(), name="test-server-killer")
    killer.start()
    try:
        outcome = run_call(server, lambda: _select_and_fetch(cursor))
    finally:
        killer.join(10)
        server.stop()
    assert held.hits == 1
    return outcome


def test_server_killed_mid_statement_raises_what_the_bare_connector_raises(telemetry, no_thread_leaks, protocol):
    bare = _statement_on_a_server_killed_mid_statement(protocol)
    with instrumented(telemetry):
        traced = _statement_on_a_server_killed_mid_statement(protocol)

    assert bare.error_type is not None
    # Only the type: the message depends on a race between the dying listener and the connector's reconnect.
    assert traced.error_type is bare.error_type
    assert traced.elapsed <= bare.elapsed + EXTRA_TIME_BOUND_SECONDS
    (span,) = telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _statement_after_the_server_went_away(protocol: str) -> Outcome:
    server = Emulator().start()
    connection = server.sql_connect(use_sea=protocol == "sea")
    cursor = connection.cursor()
    port = server.port
    server.stop()
    return run_call(server, lambda: _select_and_fetch(cursor), port)


def test_connection_refused_raises_what_the_bare_connector_raises(telemetry, no_thread_leaks, protocol):
    bare = _statement_after_the_server_went_away(protocol)
    with instrumented(telemetry):
        traced = _statement_after_the_server_went_away(protocol)

    assert bare.error_type is not None
    assert (traced.error_type, traced.error_message) == (bare.error_type, bare.error_message)
    assert traced.elapsed <= bare.elapsed + EXTRA_TIME_BOUND_SECONDS
    (span,) = telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR


def _connect_to_nothing(protocol: str) -> tuple[type[BaseException], str]:
    from databricks import sql

    port = _free_port()
    options = (
        {"use_sea": True, "server_hostname": "http://127.0.0.1", "_port": port}
        if protocol == "sea"
        else {"_connection_uri": f"http://127.0.0.1:{port}/sql/1.0/warehouses/nowhere"}
    )
    kwargs = {
        "server_hostname": "127.0.0.1",
        "http_path": "/sql/1.0/warehouses/nowhere",
        "access_token": "dapi-nobody-listens",
        "enable_telemetry": False,
        "_retry_stop_after_attempts_count": 1,
        "_retry_stop_after_attempts_duration": 1,
        **options,
    }
    try:
        sql.connect(**kwargs)
    except Exception as exc:
        return type(exc), str(exc).replace(str(port), "PORT")
    raise AssertionError("connecting to a closed port succeeded")


def test_connecting_to_a_closed_port_fails_as_without_instrumentation(telemetry, no_thread_leaks, protocol):
    bare = _connect_to_nothing(protocol)
    with instrumented(telemetry):
        traced = _connect_to_nothing(protocol)
    assert traced == bare
    assert telemetry.spans() == ()


def test_hung_warehouse_lookup_never_delays_a_statement(telemetry, protocol):
    server = Emulator().start()
    held = Fault(delay=30.0)
    server.faults.add(r"^/api/2\.0/sql/warehouses/", held, method="GET")
    try:
        with instrumented(telemetry, warehouse_lookup=True):
            connection = server.sql_connect(use_sea=protocol == "sea")
            cursor = connection.cursor()
            assert _select_and_fetch(cursor) == [(42,)]
            assert held.reached.wait(10), "the first statement asks for the warehouse size in the background"
            more = [_select_and_fetch(cursor) for _ in range(3)]
            assert held.hits == 1, "the lookup is still held, and asked once"
            connection.close()
    finally:
        server.stop()
    assert more == [[(42,)]] * 3
    assert [span.attributes["databricks.cost.estimate_method"] for span in telemetry.spans()] == ["default_size"] * 4
