"""Failures of Databricks stay the user's: same exception, same result, a span that says what happened."""

import pytest
from databricks.sql.exc import RequestError
from opentelemetry.trace import StatusCode

from databricks_emulator import Emulator, Fault
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor


def _outcome(call):
    try:
        return "result", call()
    except Exception as exc:  # the point is to compare whatever comes out
        return type(exc), str(exc)


def _failing_statement(connection):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")
        return cursor.fetchall()


def test_sql_error_is_the_same_with_and_without_instrumentation(connect, telemetry):
    with connect() as connection:
        bare = _outcome(lambda: _failing_statement(connection))
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        with connect() as connection:
            traced = _outcome(lambda: _failing_statement(connection))
    finally:
        instrumentor.uninstrument()
    assert bare[0] is not str and bare[0] is not None
    assert traced == bare
    assert "DIVIDE_BY_ZERO" in bare[1]
    (span,) = telemetry.spans()
    assert span.attributes["error.type"] == "DIVIDE_BY_ZERO"


def test_results_are_identical_with_and_without_instrumentation(connect, telemetry):
    query = "SELECT r.id, r.id * 2.5 AS half, 'x' || r.id AS label FROM range(300) AS r(id)"

    def run():
        with connect() as connection, connection.cursor() as cursor:
            cursor.execute(query)
            return cursor.fetchall(), [column[:2] for column in cursor.description]

    bare = run()
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        traced = run()
    finally:
        instrumentor.uninstrument()
    assert traced == bare


@pytest.mark.parametrize("use_sea", [False, True], ids=["thrift", "sea"])
def test_server_gone_mid_session_raises_the_connectors_error_and_ends_the_span(instrument, use_sea):
    telemetry = instrument()
    workspace = Emulator().start()
    connection = workspace.sql_connect(use_sea=use_sea)
    cursor = connection.cursor()
    workspace.stop()
    with pytest.raises(Exception) as raised:
        cursor.execute("SELECT 1")
    assert "wrapt" not in type(raised.value).__module__
    assert "opentelemetry" not in type(raised.value).__module__
    (span,) = telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert "databricks.statement_id" not in span.attributes


def test_http_error_response_ends_the_span_with_error(instrument, emulator, connect, protocol):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        before = cursor.query_id
        path = r"/sql/1\.0/warehouses/" if protocol == "thrift" else r"/api/2\.0/sql/statements$"
        emulator.faults.add(path, Fault(status=403, times=1), method="POST")
        with pytest.raises(RequestError):
            cursor.execute("SELECT 2")
        assert cursor.query_id == before
    _first, failed = telemetry.spans()
    assert failed.status.status_code is StatusCode.ERROR
    assert "databricks.statement_id" not in failed.attributes, "a stale statement id must not be reported"


def test_broken_hook_does_not_break_the_statement(instrument, connect):
    def hook(*args):
        raise RuntimeError("hook bug")

    telemetry = instrument(request_hook=hook, response_hook=hook)
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 5")
        assert cursor.fetchone()[0] == 5
    assert len(telemetry.spans()) == 1
