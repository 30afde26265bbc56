"""Spark SQL semantics the emulator keeps, driven by the real connector over Thrift and SEA."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from databricks.sql.exc import Error

from databricks_emulator.sql.datetimes import spark_date, spark_timestamp

LENIENT = {"session_configuration": {"ansi_mode": False}}


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2021-09-30", date(2021, 9, 30)),
        ("2021-09", date(2021, 9, 1)),
        ("2021", date(2021, 1, 1)),
        ("2021-9-3", date(2021, 9, 3)),
        ("2021-09-30 11:27", date(2021, 9, 30)),
        ("9999-99-31", None),
    ],
)
def test_date_casts_read_text_as_spark_does(connect, text, expected):
    with connect(**LENIENT).cursor() as cursor:
        cursor.execute(f"SELECT DATE('{text}') AS d, CAST('{text}' AS DATE) AS c")
        assert tuple(cursor.fetchone()) == (expected, expected)


def test_timestamp_casts_read_partial_text_and_offsets(connect):
    with connect(**LENIENT).cursor() as cursor:
        cursor.execute(
            "SELECT date_format(TIMESTAMP('2021-09-30 11:27:35.123+04:00'), 'yyyy-MM-dd HH:mm:ss') AS shifted, "
            "date_format(TIMESTAMP('2021-09-30 11'), 'yyyy-MM-dd HH:mm:ss') AS hour, "
            "date_format(TIMESTAMP('2021-09'), 'yyyy-MM-dd HH:mm:ss') AS month, "
            "TIMESTAMP('9999-99-31T15:59:59') AS invalid"
        )
        assert tuple(cursor.fetchone()) == ("2021-09-30 07:27:35", "2021-09-30 11:00:00", "2021-09-01 00:00:00", None)


def test_malformed_date_fails_in_ansi_mode_and_try_cast_tolerates_it(connect):
    with connect().cursor() as cursor:
        with pytest.raises(Error, match="CAST_INVALID_INPUT"):
            cursor.execute("SELECT DATE('9999-99-31')")
        cursor.execute("SELECT try_cast('9999-99-31' AS DATE) AS d")
        assert cursor.fetchone().d is None


def test_division_by_zero_is_null_without_ansi_mode(connect):
    with connect().cursor() as cursor, pytest.raises(Error, match="DIVIDE_BY_ZERO"):
        cursor.execute("SELECT 1 / 0")
    with connect(**LENIENT).cursor() as cursor:
        cursor.execute("SELECT 1 / 0 AS q")
        assert cursor.fetchone().q is None


@pytest.mark.parametrize("ansi", [True, False])
def test_set_answers_the_session_configuration(connect, ansi):
    with connect(session_configuration={"ansi_mode": ansi}).cursor() as cursor:
        cursor.execute("SET ansi_mode")
        assert list(cursor.fetchone()) == ["ansi_mode", str(ansi)]


def test_set_answers_server_defaults_and_values_set_in_the_session(connect):
    with connect().cursor() as cursor:
        cursor.execute("SET ansi_mode")
        assert list(cursor.fetchone()) == ["ansi_mode", "true"]
        cursor.execute("SET use_cached_result = false")
        cursor.execute("SET use_cached_result")
        assert list(cursor.fetchone()) == ["use_cached_result", "false"]
    with connect().cursor() as cursor:
        cursor.execute("SET use_cached_result")
        assert list(cursor.fetchone()) == ["use_cached_result", "true"]


def test_session_time_zone_applies_to_timestamp_text(connect):
    with connect().cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Europe/Amsterdam'")
        cursor.execute(
            "SELECT CAST('2022-03-02 12:54:56' AS TIMESTAMP) = TIMESTAMP('2022-03-02 11:54:56Z') AS same, "
            "date_format(CAST('2022-03-02 12:54:56' AS TIMESTAMP), 'HH:mm') AS local"
        )
        row = cursor.fetchone()
        assert row.same is True
        assert row.local == "12:54"
        cursor.execute("SET spark.sql.session.timeZone")
        assert list(cursor.fetchone()) == ["spark.sql.session.timeZone", "Europe/Amsterdam"]


def test_unknown_time_zone_is_refused_with_the_zone_named(connect):
    with connect().cursor() as cursor, pytest.raises(Error, match="Mars/Olympus"):
        cursor.execute("SET TIME ZONE 'Mars/Olympus'")


def test_create_and_use_database_are_schemas(connect):
    database = unique("db")
    with connect().cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        cursor.execute(f"USE DATABASE {database}")
        cursor.execute("SELECT current_database() AS db")
        assert cursor.fetchone().db == database
        cursor.execute("USE DATABASE default")
        cursor.execute(f"DROP DATABASE IF EXISTS {database}")
        cursor.execute("SHOW SCHEMAS")
        assert database not in [row[0] for row in cursor.fetchall()]


def test_use_catalog_then_initial_namespace_of_a_new_session(connect):
    schema = unique("fresh")
    with connect().cursor() as cursor:
        cursor.execute("USE CATALOG main")
        cursor.execute("SELECT current_catalog() AS c")
        assert cursor.fetchone().c == "main"
    with connect(catalog="main", schema=schema).cursor() as cursor:
        cursor.execute("SELECT current_catalog() AS c, current_database() AS s")
        assert tuple(cursor.fetchone()) == ("main", schema)


def test_create_table_as_select_returns_an_empty_result_set(connect):
    table = unique("ctas")
    with connect().cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {table} AS (SELECT 1 AS col_1, '2' AS col_2)")
        assert cursor.fetchall() == []
        cursor.execute(f"SELECT col_1, col_2 FROM {table}")
        assert tuple(cursor.fetchone()) == (1, "2")
        cursor.execute(f"DROP TABLE {table}")


@pytest.mark.parametrize(
    "statement,quoted",
    [
        ("^ FOO BAR", "FOO BAR"),
        ("CREATE TABLE IF NOT EXISTS TABLE table_234234234", "table_234234234"),
        ("USE foo234823498ydfsiusdhf", "foo234823498ydfsiusdhf"),
    ],
)
def test_errors_name_the_failing_text(connect, statement, quoted):
    with connect().cursor() as cursor, pytest.raises(Error) as raised:
        cursor.execute(statement)
    assert quoted in str(raised.value)


def test_syntax_error_quotes_the_statement_with_a_caret_under_the_failing_line(connect):
    with connect().cursor() as cursor, pytest.raises(Error) as raised:
        cursor.execute("SELECT 1 FROM\nWHERE x")
    message = str(raised.value)
    assert "[PARSE_SYNTAX_ERROR] Syntax error at or near 'WHERE'." in message
    assert message.endswith("== SQL ==\nSELECT 1 FROM\nWHERE x\n^^^")


def test_bare_parameter_column_is_named_after_its_value(ws):
    with ws.sql_connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 'samsonite', ? WHERE 'samsonite' LIKE '%sonite'", ["luggage"])
        row = cursor.fetchone()
        assert (row.samsonite, row.luggage) == ("samsonite", "luggage")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2021", "2021-01-01 00:00:00"),
        ("2021-09-30T15:59:59", "2021-09-30 15:59:59"),
        ("2021-09-30 11:27:35.1234567", "2021-09-30 11:27:35.123456"),
        ("2021-09-30 11:27:35Z", "2021-09-30 11:27:35+00:00"),
        ("2021-09-30 11:27:35 Europe/Amsterdam", "2021-09-30 11:27:35 Europe/Amsterdam"),
        ("2021-09-30 25:00", None),
        ("2021-09 11:00", None),
        ("not a date", None),
    ],
)
def test_spark_timestamp_text(text, expected):
    assert spark_timestamp(text) == expected


def test_spark_date_text_ignores_a_time_part_only_after_a_full_date():
    assert spark_date("2021-09-30T11:00") == "2021-09-30"
    assert spark_date("2021-09 11:00") is None


def test_insert_reads_timestamp_text_as_spark_does_for_date_and_timestamp_columns_only(connect):
    table = unique("stamps")
    with connect().cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (s STRING, t TIMESTAMP, d DATE)")
        cursor.execute(f"INSERT INTO {table} VALUES ('2021-09', '2023-09-06 03:14:27.000843 +0000', '2021-09')")
        cursor.execute(f"SELECT s, date_format(t, 'yyyy-MM-dd HH:mm:ss.SSSSSS') AS t, d FROM {table}")
        assert tuple(cursor.fetchone()) == ("2021-09", "2023-09-06 03:14:27.000843", date(2021, 9, 1))
        with pytest.raises(Error, match=r"CAST_INVALID_INPUT\] The value 'nonsense'"):
            cursor.execute(f"INSERT INTO {table} (t) VALUES ('nonsense')")
        cursor.execute(f"DROP TABLE {table}")
