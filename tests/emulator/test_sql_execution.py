"""Statements DuckDB takes long over: answered RUNNING, polled, cancelled (which interrupts DuckDB)."""

from __future__ import annotations

import pytest

LONG = "SELECT SUM(A.id - B.id) FROM range(1000000000) A CROSS JOIN range(100000000) B GROUP BY (A.id - B.id)"


@pytest.fixture
def impatient(ws):
    """The workspace's SQL service answers at once whatever DuckDB has not finished, and never long-polls."""
    service = ws.sql
    saved = service.execution_wait, service.status_wait
    service.execution_wait = service.status_wait = 0
    yield service
    service.execution_wait, service.status_wait = saved


def test_cancel_interrupts_a_statement_duckdb_is_still_executing(impatient, connect):
    with connect().cursor() as cursor:
        cursor.execute_async(LONG)
        assert cursor.get_query_state().name in ("RUNNING", "PENDING")
        statement_id = cursor.query_id
        cursor.cancel()
        assert impatient.statement(statement_id).state(impatient.clock.time()) == "CANCELED"
        cursor.execute("SELECT * FROM range(3)")
        assert len(cursor.fetchall()) == 3
    record = next(record for record in impatient.query_history() if record.statement_id == statement_id)
    assert record.execution_status == "CANCELED"


def test_a_statement_answered_running_is_fetched_once_duckdb_is_done(impatient, connect):
    with connect().cursor() as cursor:
        cursor.execute("SELECT count(*) AS n, max(id) AS top FROM range(100000)")
        assert tuple(cursor.fetchone()) == (100000, 99999)
        cursor.execute("SELECT id FROM range(5) ORDER BY id")
        assert [row.id for row in cursor.fetchall()] == [0, 1, 2, 3, 4]


def test_closing_a_session_interrupts_what_it_still_executes(impatient, connect):
    connection = connect()
    cursor = connection.cursor()
    cursor.execute_async(LONG)
    statement = impatient.statement(cursor.query_id)
    connection.close()
    statement.wait(60)
    assert statement.done.is_set()


def test_from_unixtime_formats_in_the_session_time_zone(connect):
    with connect().cursor() as cursor:
        cursor.execute("SELECT from_unixtime(0, 'yyyy-MM-dd HH:mm') AS utc, from_unixtime(86400) AS day")
        assert tuple(cursor.fetchone()) == ("1970-01-01 00:00", "1970-01-02 00:00:00")
        cursor.execute("SET TIME ZONE 'America/New_York'")
        cursor.execute("SELECT from_unixtime(0, 'yyyy-MM-dd HH:mm') AS local")
        assert cursor.fetchone().local == "1969-12-31 19:00"


def test_count_star_is_named_count_1(connect):
    with connect().cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM range(4)")
        assert cursor.fetchone().asDict() == {"count(1)": 4}
