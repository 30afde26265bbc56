"""Native statement parameters of every Databricks type, sent by the real connector over Thrift and SEA."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from databricks.sql.parameters.native import (
    ArrayParameter,
    DateParameter,
    DbsqlParameterBase,
    DecimalParameter,
    MapParameter,
    TimestampNTZParameter,
    TimestampParameter,
    TinyIntParameter,
)

from databricks_emulator.sql.parameters import common_type


@pytest.fixture
def cursor(ws):
    """A cursor of the connector's Thrift backend: its SEA backend sends no value for ARRAY or MAP parameters."""
    with ws.sql_connect() as connection, connection.cursor() as cursor:
        yield cursor


def _types(cursor) -> list[str]:
    return [column[1] for column in cursor.description]


def test_array_parameter_binds_as_an_array_of_its_element_type(cursor):
    cursor.execute("SELECT size(:p) AS n, :p[0] AS first, :p AS whole", {"p": [10, 20, 30]})
    row = cursor.fetchone()
    assert (row.n, row.first) == (3, 10)
    assert _types(cursor) == ["int", "int", "array"]


def test_positional_array_and_map_parameters_bind_as_their_types(cursor):
    cursor.execute("SELECT ?[1] AS second, ?['b'] AS b", [ArrayParameter(["x", "y"]), MapParameter({"a": 1, "b": 2})])
    assert tuple(cursor.fetchone()) == ("y", 2)
    assert _types(cursor) == ["string", "int"]


def test_map_parameter_keeps_its_key_and_value_types(cursor):
    cursor.execute("SELECT :p['b'] AS b, size(map_keys(:p)) AS n, :p AS whole", {"p": {"a": 1, "b": 2}})
    row = cursor.fetchone()
    assert (row.b, row.n) == (2, 2)
    assert _types(cursor) == ["int", "int", "map"]


def test_nested_array_and_map_parameters_bind_to_any_depth(cursor):
    cursor.execute(
        "SELECT :grid[1][0] AS cell, :rows[1]['d'] AS d, :index[2][1] AS letter",
        {"grid": [[1, 2], [3, 4]], "rows": [{"a": 1}, {"d": 4}], "index": {1: ["a", "b"], 2: ["c", "d"]}},
    )
    assert tuple(cursor.fetchone()) == (3, 4, "d")


def test_null_elements_take_the_type_of_the_others(cursor):
    cursor.execute("SELECT :p[1] AS missing, :p[2] + 1 AS n", {"p": [1, None, 3]})
    assert tuple(cursor.fetchone()) == (None, 4)


def test_decimal_parameter_keeps_precision_and_scale(connect):
    with connect().cursor() as cursor:
        cursor.execute("SELECT :p AS d", [DecimalParameter(Decimal("1234.56"), name="p")])
        assert cursor.fetchone().d == Decimal("1234.56")
        assert cursor.description[0][1] == "decimal"
        assert cursor.description[0][4:6] == (6, 2)


def test_timestamp_and_timestamp_ntz_parameters_are_the_same_instant(connect):
    moment = datetime(2023, 9, 6, 3, 14, 27, 843, tzinfo=timezone.utc)
    with connect().cursor() as cursor:
        cursor.execute(
            "SELECT date_format(:ts, 'yyyy-MM-dd HH:mm:ss') AS ts, date_format(:ntz, 'yyyy-MM-dd HH:mm:ss') AS ntz",
            [TimestampParameter(moment, name="ts"), TimestampNTZParameter(moment.replace(tzinfo=None), name="ntz")],
        )
        assert tuple(cursor.fetchone()) == ("2023-09-06 03:14:27", "2023-09-06 03:14:27")


def test_tinyint_parameter_binds_as_tinyint(connect):
    with connect().cursor() as cursor:
        cursor.execute(
            "SELECT :t AS t, :d AS d", [TinyIntParameter(20, name="t"), DateParameter(date(2023, 9, 6), name="d")]
        )
        assert tuple(cursor.fetchone()) == (20, date(2023, 9, 6))
        assert _types(cursor) == ["tinyint", "date"]


@pytest.mark.parametrize(
    "types,expected",
    [
        (["INT", "INT"], "INT"),
        (["INT", "BIGINT"], "BIGINT"),
        (["INT", "DOUBLE"], "DOUBLE"),
        (["DECIMAL(6,2)", "INT"], "DECIMAL(12,2)"),
        (["VOID", "STRING"], "STRING"),
        ([], "STRING"),
        (["INT", "STRING"], "STRING"),
        (["DATE", "TIMESTAMP"], "TIMESTAMP"),
    ],
)
def test_array_elements_widen_to_a_common_type(types, expected):
    assert common_type(types) == expected


class IntervalParameter(DbsqlParameterBase):
    """What a user writes to bind an interval: the connector has no class of its own for one."""

    def __init__(self, value: str, sql_type: str, name: str) -> None:
        self.value, self.CAST_EXPR, self.name = value, sql_type, name


@pytest.mark.parametrize(
    "text,sql_type,expected",
    [
        ("1 02:03:04", "INTERVAL DAY TO SECOND", "2024-01-02 02:03:04"),
        ("-1 00:00:30.5", "INTERVAL DAY TO SECOND", "2023-12-30 23:59:29"),
        ("2-3", "INTERVAL YEAR TO MONTH", "2026-04-01 00:00:00"),
        ("INTERVAL '3' DAY", "INTERVAL DAY", "2024-01-04 00:00:00"),
        ("5", "INTERVAL HOUR", "2024-01-01 05:00:00"),
    ],
)
def test_interval_parameters_read_spark_interval_text(connect, text, sql_type, expected):
    with connect().cursor() as cursor:
        cursor.execute(
            "SELECT date_format(TIMESTAMP '2024-01-01 00:00:00' + :span, 'yyyy-MM-dd HH:mm:ss') AS t",
            [IntervalParameter(text, sql_type, "span")],
        )
        assert cursor.fetchone().t == expected
