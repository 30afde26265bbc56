"""The SQL engine's parts on their own: query tag parsing, commands, history bounds, error mapping."""

from __future__ import annotations

import pytest
from databricks.sql.utils import serialize_query_tags

from databricks_emulator.sql import commands, querytags
from databricks_emulator.sql.engine import Parameter, SqlEngine
from databricks_emulator.sql.errors import SqlError
from databricks_emulator.sql.history import QueryHistory
from databricks_emulator.sql.ids import guid_of, id_of_guid, new_statement_id


@pytest.mark.parametrize(
    "tags",
    [
        {"team": "data"},
        {"a": "x:y", "b": "1,2", "c": "back\\slash", "d": None, "e": ""},
        {"key\\with": "value", "unicode": "é✓"},
    ],
)
def test_serialized_query_tags_read_back_what_the_connector_wrote(tags):
    assert querytags.parse_serialized(serialize_query_tags(tags)) == tags


def test_list_query_tags_treat_blank_values_as_none_and_keep_twenty():
    items = [{"key": f"k{i}", "value": "v"} for i in range(25)] + [{"key": "blank", "value": " "}]
    parsed = querytags.parse_list(items)
    assert len(parsed) == 20
    assert querytags.parse_list([{"key": "blank", "value": " "}]) == {"blank": None}
    assert querytags.merge({"a": "1", "b": "2"}, {"b": "3"}) == {"a": "1", "b": "3"}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SHOW CATALOGS", commands.Show("CATALOGS")),
        ("show schemas in main like 'd*'", commands.Show("SCHEMAS", catalog="main", pattern="d*")),
        (
            "SHOW TABLES IN CATALOG `main` SCHEMA LIKE 'default' LIKE 't%'",
            commands.Show("TABLES", catalog="main", wide=True, schema_pattern="default", pattern="t%"),
        ),
        (
            "SHOW COLUMNS IN CATALOG main SCHEMA LIKE 's' TABLE LIKE 't' LIKE 'c'",
            commands.Show("COLUMNS", catalog="main", wide=True, schema_pattern="s", table_pattern="t", pattern="c"),
        ),
        ("SET ansi_mode = true", commands.SetConf(key="ansi_mode", value="true")),
        ("CREATE CATALOG IF NOT EXISTS Sales", commands.CatalogDdl(create=True, name="sales", tolerant=True)),
        ("OPTIMIZE t ZORDER BY (a)", commands.NoOp("OPTIMIZE")),
        ("SELECT 1", None),
        ("CREATE TABLE t (a INT)", None),
    ],
)
def test_commands_are_recognised_before_sqlglot(sql, expected):
    assert commands.parse(sql) == expected


def test_history_is_bounded_and_counts_what_it_dropped():
    history = QueryHistory(max_records=3)
    for number in range(5):
        history.append(number)
    assert history.records() == [2, 3, 4]
    assert history.dropped == 2


def test_statement_ids_survive_the_thrift_guid_round_trip():
    statement_id = new_statement_id()
    assert statement_id.startswith("01f0")
    assert id_of_guid(guid_of(statement_id)) == statement_id
    assert len({new_statement_id() for _ in range(1000)}) == 1000


@pytest.fixture(scope="module")
def engine():
    engine = SqlEngine()
    yield engine
    engine.close()


@pytest.mark.parametrize(
    ("sql", "error_class", "fragment"),
    [
        ("SELECT * FROM main.nope.t", "TABLE_OR_VIEW_NOT_FOUND", "`nope`.`t`"),
        ("SELECT a FROM (SELECT 1 AS b)", "UNRESOLVED_COLUMN.WITH_SUGGESTION", "[`b`]"),
        ("SELECT CAST('abc' AS INT)", "CAST_INVALID_INPUT", "'abc'"),
        ("USE CATALOG nope", "NO_SUCH_CATALOG_EXCEPTION", "'nope'"),
        ("USE SCHEMA nope", "SCHEMA_NOT_FOUND", "`main`.`nope`"),
        ("SELECT :missing", "UNBOUND_SQL_PARAMETER", "missing"),
        ("SELECT 1; SELECT 2", "PARSE_SYNTAX_ERROR", "SELECT"),
        ("SELECT 5 % 0", "DIVIDE_BY_ZERO", "try_divide"),
        ("CREATE SCHEMA default", "SCHEMA_ALREADY_EXISTS", "`default`"),
    ],
)
def test_duckdb_failures_become_databricks_errors(engine, sql, error_class, fragment):
    session = engine.open_session()
    with pytest.raises(SqlError) as caught:
        engine.execute(session, sql)
    assert caught.value.error_class == error_class
    assert caught.value.message.startswith(f"[{error_class}] ")
    assert fragment in caught.value.message
    assert "__main" not in caught.value.message
    session.close()


def test_catalogs_can_be_created_used_and_dropped(engine):
    session = engine.open_session()
    engine.execute(session, "CREATE CATALOG sandbox")
    engine.execute(session, "CREATE TABLE sandbox.default.t AS SELECT 1 AS a")
    assert engine.execute(session, "SELECT a FROM sandbox.default.t").rows == [(1,)]
    assert ("sandbox",) in engine.execute(session, "SHOW CATALOGS").rows
    engine.execute(session, "DROP CATALOG sandbox CASCADE")
    assert ("sandbox",) not in engine.execute(session, "SHOW CATALOGS").rows
    with pytest.raises(SqlError, match="FORBIDDEN_OPERATION"):
        engine.execute(session, "DROP CATALOG system")
    session.close()


def test_row_limit_truncates_and_array_parameters_bind(engine):
    session = engine.open_session()
    limited = engine.execute(session, "SELECT id FROM range(10)", row_limit=4)
    assert (len(limited.rows), limited.truncated) == (4, True)
    bound = engine.execute(session, "SELECT :xs AS xs", [Parameter("xs", "ARRAY<INT>", ["1", "2"])])
    assert bound.rows == [([1, 2],)]
    assert bound.columns[0].sql_type.type_text == "ARRAY<INT>"
    session.close()
