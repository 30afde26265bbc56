"""Reading ``system.billing.attributed_cost``: the setting, the column probe and the reads, through a rows callable
that answers like the connector would (the end-to-end reads on the emulator are in test_against_emulator.py)."""

from __future__ import annotations

import logging

import pytest

from opentelemetry_instrumentation_databricks.reconcile.attributed_cost import (
    AUTO,
    BATCH,
    OFF,
    SETTING_VARIABLE,
    AttributedCost,
    deviation,
    parse_setting,
    quantity_sql,
)
from opentelemetry_instrumentation_databricks.reconcile.configurator import reconcile_settings

LOGGER = "opentelemetry_instrumentation_databricks.reconcile.attributed_cost"


class Table:
    """A DESCRIBE answer with ``columns`` and quantity answers from ``records`` (statement id -> DBU)."""

    def __init__(self, columns: list[str], records: dict[str, object] | None = None, error: Exception | None = None):
        self.columns = columns
        self.records = records or {}
        self.error = error
        self.statements: list[str] = []

    def __call__(self, sql: str) -> list[tuple]:
        self.statements.append(sql)
        if self.error is not None:
            raise self.error
        if sql.startswith("DESCRIBE"):
            return [(name, "string", None) for name in self.columns]
        return [(f"cpq_{i}", value) for i, value in self.records.items() if f"'cpq_{i}'" in sql]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", AUTO), ("auto", AUTO), (" TRUE ", AUTO), ("off", OFF), ("false", OFF), ("Usage_Quantity", "usage_quantity")],
)
def test_the_setting_is_auto_off_or_a_column_name(value, expected):
    assert parse_setting(value) == expected


@pytest.mark.parametrize("value", ["usage quantity", "1dbu", "q; DROP TABLE x", "a" * 129])
def test_a_setting_that_is_no_column_name_is_refused_with_the_accepted_values(value):
    with pytest.raises(ValueError, match="auto, off, or the name of the table's quantity column"):
        parse_setting(value)


def test_a_bad_environment_value_warns_naming_the_variable_and_falls_back_to_auto(caplog):
    with caplog.at_level(logging.WARNING):
        settings = reconcile_settings({SETTING_VARIABLE: "usage quantity"})
    assert settings["billing_attributed_cost"] == AUTO
    assert SETTING_VARIABLE in caplog.text


def test_the_first_known_quantity_column_is_used_and_the_table_is_described_once():
    table = Table(["record_id", "usage_metadata", "attributed_quantity", "active_usage_quantity"], {"s1": 0.5})
    attributed = AttributedCost(table)
    assert attributed.dbu(["s1", "s2"]) == {"s1": 0.5}
    assert attributed.dbu(["s2"]) == {}
    assert attributed.column == "attributed_quantity"
    assert sum(sql.startswith("DESCRIBE") for sql in table.statements) == 1
    assert "SUM(CAST(a.attributed_quantity AS DOUBLE))" in table.statements[1]


def test_a_configured_column_wins_over_the_known_ones():
    table = Table(["record_id", "usage_quantity", "my_dbus"], {"s1": 2})
    attributed = AttributedCost(table, "MY_DBUS")
    assert attributed.dbu(["s1"]) == {"s1": 2.0}
    assert "a.my_dbus" in table.statements[-1]


def test_a_configured_column_the_table_lacks_warns_naming_the_columns_and_the_variable(caplog):
    table = Table(["record_id", "usage_quantity"], {"s1": 1})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert AttributedCost(table, "my_dbus").dbu(["s1"]) == {}
    assert SETTING_VARIABLE in caplog.text and "record_id, usage_quantity" in caplog.text
    assert len(table.statements) == 1


def test_a_table_with_no_known_quantity_column_warns_once_and_is_not_read(caplog):
    table = Table(["record_id", "usage_metadata", "cost"])
    attributed = AttributedCost(table)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert attributed.dbu(["s1"]) == {} and attributed.dbu(["s2"]) == {}
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert SETTING_VARIABLE in caplog.text and "record_id, usage_metadata, cost" in caplog.text
    assert len(table.statements) == 1


def test_an_unreadable_table_is_one_info_line_not_a_failure(caplog):
    table = Table([], error=RuntimeError("[TABLE_OR_VIEW_NOT_FOUND] system.billing.attributed_cost"))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert AttributedCost(table).dbu(["s1"]) == {}
    (record,) = caplog.records
    assert record.levelno == logging.INFO and "TABLE_OR_VIEW_NOT_FOUND" in record.message


def test_off_never_touches_the_table():
    table = Table(["record_id", "usage_quantity"], {"s1": 1})
    assert AttributedCost(table, OFF).dbu(["s1"]) == {}
    assert table.statements == []


def test_a_failing_read_turns_the_comparison_off_for_the_run(caplog):
    table = Table(["record_id", "usage_quantity"], {"s1": 1})
    attributed = AttributedCost(table)
    assert attributed.column == "usage_quantity"
    table.error = RuntimeError("warehouse stopped")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert attributed.dbu(["s1"]) == {}
    assert "warehouse stopped" in caplog.text and attributed.column is None


def test_ids_that_are_no_statement_ids_are_never_put_into_sql():
    table = Table(["record_id", "usage_quantity"], {"s1": 1})
    assert AttributedCost(table).dbu(["s1", "x' OR '1'='1"]) == {"s1": 1.0}
    assert "OR" not in table.statements[-1].split("IN")[1]


def test_many_statements_are_read_in_batches():
    ids = [f"s{i}" for i in range(BATCH * 2 + 1)]
    table = Table(["record_id", "usage_quantity"], dict.fromkeys(ids, 0.25))
    assert len(AttributedCost(table).dbu(ids)) == len(ids)
    assert len(table.statements) == 1 + 3


def test_malformed_rows_are_counted_not_raised():
    table = Table(["record_id", "usage_quantity"], {"s1": None, "s2": "n/a", "s3": True, "s4": 1.5})
    attributed = AttributedCost(table)
    assert attributed.dbu(["s1", "s2", "s3", "s4"]) == {"s4": 1.5}
    assert attributed.malformed_rows == 3


def test_the_quantity_read_sums_the_records_of_the_statements_asked_for():
    sql = quantity_sql(["a1", "b2"], "usage_quantity")
    assert "record_id IN ('cpq_a1', 'cpq_b2')" in sql and "GROUP BY a.record_id" in sql


@pytest.mark.parametrize(("ours", "theirs", "expected"), [(1.05, 1.0, 0.05), (0.5, 1.0, -0.5)])
def test_deviation_is_relative_to_databricks_figure(ours, theirs, expected):
    assert deviation(ours, theirs) == pytest.approx(expected)


def test_a_statement_databricks_attributes_nothing_to_has_no_deviation():
    assert deviation(1.0, 0.0) is None
