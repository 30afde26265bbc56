"""Metadata calls (catalogs, schemas, tables, columns) answered in the shape a SQL warehouse gives them."""

from __future__ import annotations

import uuid

import pytest

CREATE = (
    "CREATE TABLE {} AS (SELECT 1 AS col_1, '2' AS col_2, named_struct('name', 'alice', 'age', 28) AS col_3, "
    "map('items', 45, 'cost', 228) AS col_4, array('item1', 'item2') AS col_5, CAST(1.5 AS DECIMAL(10, 2)) AS col_6)"
)
JDBC_COLUMNS = [
    ("TABLE_CAT", "string"),
    ("TABLE_SCHEM", "string"),
    ("TABLE_NAME", "string"),
    ("COLUMN_NAME", "string"),
    ("DATA_TYPE", "int"),
    ("TYPE_NAME", "string"),
    ("COLUMN_SIZE", "int"),
    ("BUFFER_LENGTH", "tinyint"),
    ("DECIMAL_DIGITS", "int"),
    ("NUM_PREC_RADIX", "int"),
    ("NULLABLE", "int"),
    ("REMARKS", "string"),
    ("COLUMN_DEF", "string"),
    ("SQL_DATA_TYPE", "int"),
    ("SQL_DATETIME_SUB", "int"),
    ("CHAR_OCTET_LENGTH", "int"),
    ("ORDINAL_POSITION", "int"),
    ("IS_NULLABLE", "string"),
    ("SCOPE_CATALOG", "string"),
    ("SCOPE_SCHEMA", "string"),
    ("SCOPE_TABLE", "string"),
    ("SOURCE_DATA_TYPE", "smallint"),
    ("IS_AUTO_INCREMENT", "string"),
]


@pytest.fixture
def table(ws):
    name = f"meta_{uuid.uuid4().hex[:10]}"
    with ws.sql_connect() as connection, connection.cursor() as cursor:
        cursor.execute(CREATE.format(name))
        yield name
        cursor.execute(f"DROP TABLE {name}")


def test_thrift_get_columns_has_the_jdbc_shape_and_spark_sizes(ws, table):
    with ws.sql_connect() as connection, connection.cursor() as cursor:
        cursor.columns(schema_name="defa%", table_name=table)
        rows = [list(row[1:10]) for row in cursor.fetchall()]
        assert [(name, kind) for name, kind, *_ in cursor.description] == JDBC_COLUMNS
    assert rows == [
        ["default", table, "col_1", 4, "INT", 4, None, 0, 10],
        ["default", table, "col_2", 12, "STRING", None, None, None, None],
        ["default", table, "col_3", 2002, "STRUCT<name: STRING, age: INT>", None, None, None, None],
        ["default", table, "col_4", 2000, "MAP<STRING, INT>", None, None, None, None],
        ["default", table, "col_5", 2003, "ARRAY<STRING>", None, None, None, None],
        ["default", table, "col_6", 3, "DECIMAL(10,2)", 10, None, 2, 10],
    ]


def test_sea_show_columns_reports_the_same_sizes(ws, table):
    with ws.sql_connect(use_sea=True) as connection, connection.cursor() as cursor:
        cursor.columns(catalog_name="main", schema_name="default", table_name=table)
        rows = {row[0]: (row[4], row[5], row[6], row[7]) for row in cursor.fetchall()}
    assert rows["col_1"] == ("INT", 4, 0, 10)
    assert rows["col_2"] == ("STRING", None, None, None)
    assert rows["col_6"] == ("DECIMAL(10,2)", 10, 2, 10)


def test_get_tables_schemas_and_catalogs_have_the_jdbc_columns(ws, table):
    with ws.sql_connect() as connection, connection.cursor() as cursor:
        cursor.tables(schema_name="defa%", table_name=table)
        assert [row[1:4] for row in cursor.fetchall()] == [("default", table, "TABLE")]
        assert [column[0] for column in cursor.description][:5] == [
            "TABLE_CAT",
            "TABLE_SCHEM",
            "TABLE_NAME",
            "TABLE_TYPE",
            "REMARKS",
        ]
        cursor.schemas(catalog_name="main")
        assert [column[:2] for column in cursor.description] == [("TABLE_SCHEM", "string"), ("TABLE_CATALOG", "string")]
        assert ("default", "main") in [tuple(row) for row in cursor.fetchall()]
        cursor.catalogs()
        assert [column[:2] for column in cursor.description] == [("TABLE_CAT", "string")]
