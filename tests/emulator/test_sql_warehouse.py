"""The emulator's SQL warehouse, driven by the real ``databricks-sql-connector`` over Thrift and over SEA."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from databricks.sql.backend.types import CommandState
from databricks.sql.exc import Error, ServerOperationError

from databricks_emulator import Clock, Emulator
from databricks_emulator.sql.history import Durations, default_latency_model, fitted, typical_latency_model

STATEMENT_ID = re.compile(r"^01f0[0-9a-f]{4}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def record_of(workspace, statement_id):
    found = [record for record in workspace.query_history if record.statement_id == statement_id]
    assert len(found) == 1, f"statement {statement_id} recorded {len(found)} times"
    return found[0]


def test_select_literals_of_every_common_type(connect, protocol):
    with connect().cursor() as cursor:
        cursor.execute(
            "SELECT 1 AS i, CAST(9000000000 AS BIGINT) AS b, 1.5D AS d, CAST(12.34 AS DECIMAL(10,2)) AS dec, "
            "'héllo' AS s, true AS t, DATE'2024-02-29' AS dt, TIMESTAMP'2024-01-01 10:11:12.5' AS ts, NULL AS n"
        )
        row = cursor.fetchone()
        description = cursor.description

    assert tuple(row) == (
        1,
        9_000_000_000,
        1.5,
        Decimal("12.34"),
        "héllo",
        True,
        date(2024, 2, 29),
        datetime(2024, 1, 1, 10, 11, 12, 500000, tzinfo=timezone.utc),
        None,
    )
    assert row[7].utcoffset().total_seconds() == 0
    assert [column[0] for column in description] == ["i", "b", "d", "dec", "s", "t", "dt", "ts", "n"]
    assert [column[1] for column in description] == [
        "int",
        "bigint",
        "double",
        "decimal",
        "string",
        "boolean",
        "date",
        "timestamp",
        "string" if protocol == "thrift" else "null",
    ]
    assert description[3][4:6] == (10, 2)


def test_ddl_and_dml_round_trip(connect, protocol):
    table = unique("orders")
    with connect().cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (id INT, item STRING, amount DECIMAL(10,2), at TIMESTAMP) USING DELTA")
        cursor.execute(
            f"INSERT INTO {table} VALUES (1, 'a', 1.50, TIMESTAMP'2024-01-01 00:00:00'), (2, 'b', 2.25, NULL)"
        )
        assert [tuple(row) for row in cursor.fetchall()] == [(2, 2)]
        if protocol == "thrift":
            assert cursor.rowcount == 2
        cursor.execute(f"UPDATE {table} SET amount = amount * 2 WHERE id = 2")
        cursor.execute(f"DELETE FROM {table} WHERE id = 1")
        cursor.execute(f"SELECT id, item, amount, at FROM main.default.{table} ORDER BY id")
        assert [tuple(row) for row in cursor.fetchall()] == [(2, "b", Decimal("4.50"), None)]
        cursor.execute(f"DROP TABLE {table}")


def test_named_parameters_are_bound_with_their_types(connect):
    table = unique("params")
    with connect().cursor() as cursor:
        cursor.execute(
            "SELECT :n + 1 AS n, :s AS s, :day AS day, :nothing AS nothing",
            {"n": 41, "s": "it's", "day": date(2024, 5, 6), "nothing": None},
        )
        assert tuple(cursor.fetchone()) == (42, "it's", date(2024, 5, 6), None)
        cursor.execute(f"CREATE TABLE {table} (id INT, name STRING)")
        cursor.execute(f"INSERT INTO {table} VALUES (:id, :name)", {"id": 7, "name": "seven"})
        cursor.execute(f"SELECT name FROM {table} WHERE id = :id", {"id": 7})
        assert cursor.fetchall()[0][0] == "seven"


def test_positional_parameters_on_thrift_are_refused_by_sea(connect, protocol):
    with connect().cursor() as cursor:
        if protocol == "thrift":
            cursor.execute("SELECT ? + 1 AS n, ? AS s", [1, "x"])
            assert tuple(cursor.fetchone()) == (2, "x")
        else:
            with pytest.raises(Error):
                cursor.execute("SELECT ? + 1 AS n", [1])


def test_executemany_runs_each_parameter_set(connect, protocol):
    table = unique("many")
    with connect().cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (id INT, name STRING)")
        cursor.executemany(f"INSERT INTO {table} VALUES (:id, :name)", [{"id": i, "name": f"n{i}"} for i in range(5)])
        if protocol == "thrift":
            assert cursor.rowcount == 5
        cursor.execute(f"SELECT count(*), max(name) FROM {table}")
        assert tuple(cursor.fetchone()) == (5, "n4")


def test_fetchone_fetchmany_fetchall_across_result_pages(ws, connect, protocol):
    with connect().cursor(arraysize=10) as cursor:
        before = ws._app.requests_served
        cursor.execute("SELECT id, id * 2 AS twice FROM range(25) ORDER BY id")
        assert tuple(cursor.fetchone()) == (0, 0)
        assert [row[0] for row in cursor.fetchmany(5)] == [1, 2, 3, 4, 5]
        assert [row[0] for row in cursor.fetchmany(12)] == list(range(6, 18))
        assert [row[1] for row in cursor.fetchall()] == [2 * i for i in range(18, 25)]
        assert cursor.fetchall() == []
        if protocol == "thrift":
            assert ws._app.requests_served - before >= 3, "the rows past the first page came from FetchResults"


def test_metadata_calls(connect, protocol):
    table = unique("meta")
    with connect().cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (id BIGINT, label STRING)")

        cursor.catalogs()
        assert {"main", "system"} <= {row[0] for row in cursor.fetchall()}

        cursor.schemas(catalog_name="main")
        assert "default" in {row[0] for row in cursor.fetchall()}
        cursor.schemas(catalog_name="system")
        assert {"access", "billing", "compute", "lakeflow", "query"} <= {row[0] for row in cursor.fetchall()}

        cursor.tables(catalog_name="main", schema_name="default", table_name=table)
        tables = [row.asDict() for row in cursor.fetchall()]
        cursor.columns(catalog_name="main", schema_name="default", table_name=table)
        columns = [row.asDict() for row in cursor.fetchall()]

    if protocol == "thrift":
        assert [(t["TABLE_CAT"], t["TABLE_SCHEM"], t["TABLE_NAME"], t["TABLE_TYPE"]) for t in tables] == [
            ("main", "default", table, "TABLE")
        ]
        assert [(c["COLUMN_NAME"], c["TYPE_NAME"], c["ORDINAL_POSITION"]) for c in columns] == [
            ("id", "BIGINT", 1),
            ("label", "STRING", 2),
        ]
    else:
        assert [(t["catalogName"], t["namespace"], t["tableName"], t["tableType"]) for t in tables] == [
            ("main", "default", table, "TABLE")
        ]
        assert [(c["col_name"], c["columnType"], c["tableName"]) for c in columns] == [
            ("id", "BIGINT", table),
            ("label", "STRING", table),
        ]


def test_use_catalog_and_schema_and_the_system_catalog(ws, connect):
    ws.sql.engine.duckdb_cursor().execute(
        'CREATE TABLE IF NOT EXISTS "__system".billing.emulator_probe AS SELECT 1 AS usage_quantity'
    )
    with connect().cursor() as cursor:
        cursor.execute("SELECT sum(usage_quantity) FROM system.billing.emulator_probe")
        assert cursor.fetchone()[0] == 1
        cursor.execute("USE CATALOG system")
        cursor.execute("SHOW SCHEMAS")
        assert {"billing", "query"} <= {row[0] for row in cursor.fetchall()}
        cursor.execute("USE SCHEMA billing")
        cursor.execute("SELECT current_catalog(), current_schema()")
        assert tuple(cursor.fetchone()) == ("system", "billing")
        cursor.execute("SHOW TABLES")
        assert "emulator_probe" in {row[1] for row in cursor.fetchall()}
        cursor.execute("USE main.default")
        cursor.execute("SELECT current_catalog(), current_schema()")
        assert tuple(cursor.fetchone()) == ("main", "default")


def test_initial_namespace_comes_from_connect(connect):
    with connect(catalog="system", schema="query").cursor() as cursor:
        cursor.execute("SELECT current_catalog(), current_schema()")
        assert tuple(cursor.fetchone()) == ("system", "query")


@pytest.mark.parametrize(
    ("statement", "error_class", "sqlstate"),
    [
        ("SELECT * FROM no_such_table", "TABLE_OR_VIEW_NOT_FOUND", "42P01"),
        ("SELEC 1", "PARSE_SYNTAX_ERROR", "42601"),
        ("SELECT 1/0", "DIVIDE_BY_ZERO", "22012"),
        ("SELECT no_such_column", "UNRESOLVED_COLUMN", "42703"),
    ],
)
def test_sql_errors_carry_the_databricks_error_class_and_sqlstate(ws, connect, statement, error_class, sqlstate):
    with connect().cursor() as cursor:
        with pytest.raises(ServerOperationError) as caught:
            cursor.execute(statement)
        message = str(caught.value)
        assert f"[{error_class}" in message
        assert f"SQLSTATE: {sqlstate}" in message
        assert "Traceback" not in message
        record = record_of(ws, cursor.query_id)
        assert record.execution_status == "FAILED"
        assert f"[{error_class}" in record.error_message
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1


def test_session_and_statement_query_tags_are_merged_in_history(ws, connect, protocol):
    session_tags = {"team": "data", "job": "nightly", "tricky": "a:b,c\\d", "flag": None}
    with connect(query_tags=session_tags).cursor() as cursor:
        cursor.execute("SELECT 1", query_tags={"job": "adhoc", "step": "one"})
        record = record_of(ws, cursor.query_id)
    assert record.query_tags == {"team": "data", "job": "adhoc", "tricky": "a:b,c\\d", "flag": None, "step": "one"}
    assert record.protocol == protocol


def test_query_id_is_the_history_statement_id(ws, connect, protocol):
    connection = connect()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'x' AS x FROM range(3)")
        assert len(cursor.fetchall()) == 3
        statement_id = cursor.query_id
    assert STATEMENT_ID.match(statement_id)
    record = record_of(ws, statement_id)
    assert record.session_id == connection.get_session_id_hex()
    assert record.warehouse_id == ws.warehouse_id
    assert record.statement_text == "SELECT 'x' AS x FROM range(3)"
    assert record.statement_type == "SELECT"
    assert record.execution_status == "FINISHED"
    assert record.produced_rows == 3
    assert record.client_application == "Databricks SQL Connector for Python"
    assert record.protocol == protocol


def test_async_execute_on_the_wall_clock(connect):
    with connect().cursor() as cursor:
        cursor.ASYNC_DEFAULT_POLLING_INTERVAL = 0.001
        cursor.execute_async("SELECT 42 AS answer")
        cursor.get_async_execution_result()
        assert [tuple(row) for row in cursor.fetchall()] == [(42,)]


def test_async_execute_waits_for_the_frozen_clock(frozen_ws, frozen_connect):
    with frozen_connect().cursor() as cursor:
        cursor.execute_async("SELECT 7 AS seven", query_tags={"mode": "async"})
        assert cursor.is_query_pending()
        assert cursor.get_query_state() == CommandState.RUNNING
        record = record_of(frozen_ws, cursor.query_id)
        assert record.query_tags == {"mode": "async"}
        frozen_ws.clock.advance(1)
        assert not cursor.is_query_pending()
        cursor.get_async_execution_result()
        assert [tuple(row) for row in cursor.fetchall()] == [(7,)]


def test_async_failure_is_reported_once_the_statement_ends(frozen_ws, frozen_connect):
    with frozen_connect().cursor() as cursor:
        cursor.execute_async("SELECT 1/0")
        frozen_ws.clock.advance(1)
        with pytest.raises(Error):
            cursor.get_async_execution_result()
        assert record_of(frozen_ws, cursor.query_id).execution_status == "FAILED"


def test_cancel_of_a_running_statement(frozen_ws, frozen_connect):
    with frozen_connect().cursor() as cursor:
        cursor.execute_async("SELECT 1")
        cursor.cancel()
        assert cursor.get_query_state() == CommandState.CANCELLED
        assert record_of(frozen_ws, cursor.query_id).execution_status == "CANCELED"


def test_history_has_simulated_durations_on_a_frozen_clock(frozen_ws, frozen_connect):
    with frozen_connect().cursor() as cursor:
        cursor.execute("SELECT 1")
        record = record_of(frozen_ws, cursor.query_id)
    assert record.start_time == frozen_ws.clock.now()
    assert record.total_duration_ms > 0
    assert record.total_duration_ms == (
        record.compilation_duration_ms + record.execution_duration_ms + record.result_fetch_duration_ms
    )
    assert (record.end_time - record.start_time).total_seconds() * 1000 == pytest.approx(record.total_duration_ms)


def test_on_a_moving_clock_history_shows_the_time_each_statement_took_so_back_to_back_ones_never_overlap(ws, connect):
    with connect().cursor() as cursor:
        ids = []
        for _ in range(5):
            before = ws.clock.time()
            cursor.execute("SELECT count(*) FROM range(1000)")
            cursor.fetchall()
            ids.append((cursor.query_id, before, ws.clock.time()))
    records = [(record_of(ws, statement_id), before, after) for statement_id, before, after in ids]
    for record, before, after in records:
        assert before <= record.start_time.timestamp() <= record.end_time.timestamp() <= after
        assert (record.end_time - record.start_time).total_seconds() * 1000 == pytest.approx(
            record.total_duration_ms, abs=1
        )
        assert record.total_duration_ms == (
            record.compilation_duration_ms + record.execution_duration_ms + record.result_fetch_duration_ms
        )
    for (first, _, _), (second, _, _) in itertools.pairwise(records):
        assert first.end_time <= second.start_time


def test_a_paced_statement_lasts_its_modelled_duration_on_the_emulator_clock(protocol):
    with Emulator(clock=Clock(speed=1000.0)) as paced:
        paced.sql.latency_model, paced.sql.pace = typical_latency_model, True
        with paced.sql_connect(use_sea=protocol == "sea") as connection, connection.cursor() as cursor:
            before = paced.clock.time()
            cursor.execute("SELECT 42")
            cursor.fetchall()
            after = paced.clock.time()
            record = record_of(paced, cursor.query_id)
    modelled = record.compilation_duration_ms + record.execution_duration_ms + record.result_fetch_duration_ms
    assert record.total_duration_ms == modelled >= 250, "a few hundred simulated milliseconds"
    assert after - before >= record.total_duration_ms / 1000, "the answer waited for it on the emulator clock"


def test_fitted_durations_keep_the_phases_proportions_and_a_taskless_statement_taskless():
    model = Durations(compilation_ms=10, execution_ms=30, result_fetch_ms=10, task_ms=60)
    assert fitted(model, 100) == Durations(compilation_ms=20, execution_ms=60, result_fetch_ms=20, task_ms=120)
    assert fitted(model, 7).total_ms == 7
    metadata = Durations(compilation_ms=1, execution_ms=2, result_fetch_ms=1, task_ms=0)
    assert fitted(metadata, 40).task_ms == 0


def test_latency_model_is_replaceable(frozen_ws, frozen_connect):
    frozen_ws.sql.latency_model = lambda profile: Durations(
        compilation_ms=100, execution_ms=2000, result_fetch_ms=50, task_ms=8000
    )
    try:
        with frozen_connect().cursor() as cursor:
            cursor.execute_async("SELECT 1")
            frozen_ws.clock.advance(2.0)
            assert cursor.is_query_pending()
            frozen_ws.clock.advance(0.2)
            assert not cursor.is_query_pending()
            record = record_of(frozen_ws, cursor.query_id)
    finally:
        frozen_ws.sql.latency_model = default_latency_model
    assert (record.total_duration_ms, record.total_task_duration_ms) == (2150, 8000)


def test_wrong_token_fails_fast(connect):
    started = time.monotonic()
    with pytest.raises(Error):
        connect(access_token="dapi-wrong")
    assert time.monotonic() - started < 5


def test_stopped_server_fails_fast_instead_of_retrying(protocol):
    workspace = Emulator().start()
    kwargs = workspace.connect_kwargs(use_sea=protocol == "sea")
    assert kwargs["_retry_stop_after_attempts_count"] == 1
    assert kwargs["_retry_stop_after_attempts_duration"] <= 1
    connection = workspace.sql_connect(use_sea=protocol == "sea")
    cursor = connection.cursor()
    workspace.stop()
    started = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017 - the connector lets urllib3's MaxRetryError escape
        cursor.execute("SELECT 1")
    assert time.monotonic() - started < 5
    started = time.monotonic()
    connection.close()
    assert time.monotonic() - started < 5


def test_the_server_keeps_connections_alive_and_sends_replies_without_delay(ws):
    """What keeps a statement round trip short (no timing here: the socket facts behind it)."""
    import http.client
    import socket
    import urllib.parse

    address = urllib.parse.urlsplit(ws.host)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    sockets = []
    try:
        for _ in range(3):
            connection.request("GET", "/api/2.0/preview/scim/v2/Me", headers={"Authorization": f"Bearer {ws.token}"})
            response = connection.getresponse()
            response.read()
            assert response.status == 200 and response.version == 11
            sockets.append(connection.sock)
        assert all(sock is sockets[0] for sock in sockets), "the server closed a keep-alive connection"
        accepted = list(ws._app._server._open)
        assert accepted and all(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in accepted)
    finally:
        connection.close()
