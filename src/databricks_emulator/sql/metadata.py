"""What exists in the emulated metastore: catalogs, schemas, tables and columns, under their public names.

Read from DuckDB's own catalog functions; DuckDB's internal databases and schemas (``memory``, ``temp``,
``system``, each database's ``main``, ``information_schema``, ``pg_catalog``) are never shown.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import duckdb

from .datatypes import SqlType, of_duckdb
from .names import private_catalog, public_catalog

HIDDEN_SCHEMAS = frozenset({"main", "information_schema", "pg_catalog"})


@dataclass(frozen=True)
class TableInfo:
    catalog: str
    schema: str
    name: str
    table_type: str
    comment: str | None = None


@dataclass(frozen=True)
class ColumnInfo:
    catalog: str
    schema: str
    table: str
    name: str
    position: int
    sql_type: SqlType
    nullable: bool
    comment: str | None = None


# Spark's default sizes, which its Thrift server reports as COLUMN_SIZE (DECIMAL: 8 up to precision 18, else 16).
_COLUMN_SIZES = {
    "BOOLEAN": 1,
    "BYTE": 1,
    "SHORT": 2,
    "INT": 4,
    "LONG": 8,
    "FLOAT": 4,
    "DOUBLE": 8,
    "DATE": 4,
    "TIMESTAMP": 8,
    "NULL": 1,
    "INTERVAL": 8,
}
_DECIMAL_DIGITS = {"BOOLEAN": 0, "BYTE": 0, "SHORT": 0, "INT": 0, "LONG": 0, "FLOAT": 7, "DOUBLE": 15, "TIMESTAMP": 6}
_NUMERIC = frozenset({"BYTE", "SHORT", "INT", "LONG", "FLOAT", "DOUBLE", "DECIMAL"})


def jdbc_sizes(sql_type: SqlType) -> tuple[int | None, int | None, int | None]:
    """``(COLUMN_SIZE, DECIMAL_DIGITS, NUM_PREC_RADIX)`` of a column, as Databricks' metadata calls report them.

    DECIMAL reports its precision and scale; a struct the sum of its fields' sizes is not tracked (None), like
    strings, binaries, arrays and maps.
    """
    name = sql_type.type_name
    if name == "DECIMAL":
        return sql_type.precision, sql_type.scale, 10
    return _COLUMN_SIZES.get(name), _DECIMAL_DIGITS.get(name), 10 if name in _NUMERIC else None


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    alternatives = []
    for alternative in pattern.split("|"):
        parts = []
        escaped = False
        for char in alternative.strip():
            if escaped:
                parts.append(re.escape(char))
                escaped = False
            elif char == "\\":
                escaped = True
            elif char in "*%":
                parts.append(".*")
            elif char == "_":
                parts.append(".")
            else:
                parts.append(re.escape(char))
        alternatives.append("".join(parts))
    return re.compile("^(?:" + "|".join(alternatives) + ")$", re.IGNORECASE | re.DOTALL)


def matches(pattern: str | None, name: str) -> bool:
    """Whether ``name`` matches a SHOW/JDBC pattern (``*`` or ``%`` any text, ``_`` one character, ``|`` or)."""
    return pattern is None or pattern in ("", "*", "%") or _compile(pattern).match(name) is not None


def catalogs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The catalogs, sorted."""
    rows = con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    return sorted(name for name in (public_catalog(row[0]) for row in rows) if name is not None)


def catalog_exists(con: duckdb.DuckDBPyConnection, catalog: str) -> bool:
    found = con.execute("SELECT 1 FROM duckdb_databases() WHERE database_name = ?", [private_catalog(catalog)])
    return found.fetchone() is not None


def schemas(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> list[tuple[str, str]]:
    """``(catalog, schema)`` pairs, sorted, of one catalog or all of them."""
    query = "SELECT database_name, schema_name FROM duckdb_schemas()"
    rows = _rows(con, query, catalog)
    found = {
        (public, schema)
        for database, schema in rows
        if (public := public_catalog(database)) is not None and schema not in HIDDEN_SCHEMAS
    }
    return sorted(found)


def schema_exists(con: duckdb.DuckDBPyConnection, catalog: str, schema: str) -> bool:
    return any(name.lower() == schema.lower() for _, name in schemas(con, catalog))


def tables(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> list[TableInfo]:
    """Tables and views, sorted, of one catalog or all of them."""
    query = (
        "SELECT database_name, schema_name, table_name, 'TABLE', comment FROM duckdb_tables() "
        "UNION ALL SELECT database_name, schema_name, view_name, 'VIEW', comment FROM duckdb_views() "
        "WHERE NOT internal"
    )
    found = [
        TableInfo(public, schema, name, table_type, comment or None)
        for database, schema, name, table_type, comment in _rows(con, f"SELECT * FROM ({query})", catalog)
        if (public := public_catalog(database)) is not None and schema not in HIDDEN_SCHEMAS
    ]
    return sorted(found, key=lambda info: (info.catalog, info.schema, info.name))


def columns(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> list[ColumnInfo]:
    """Columns of every table and view, in table order then column order, of one catalog or all of them."""
    query = (
        "SELECT database_name, schema_name, table_name, column_name, column_index, data_type, is_nullable, "
        "comment FROM duckdb_columns()"
    )
    found = [
        ColumnInfo(public, schema, table, name, int(index), of_duckdb(data_type), bool(nullable), comment or None)
        for database, schema, table, name, index, data_type, nullable, comment in _rows(con, query, catalog)
        if (public := public_catalog(database)) is not None and schema not in HIDDEN_SCHEMAS
    ]
    return sorted(found, key=lambda info: (info.catalog, info.schema, info.table, info.position))


def find_table(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> TableInfo | None:
    for info in tables(con, catalog):
        if info.schema.lower() == schema.lower() and info.name.lower() == table.lower():
            return info
    return None


def _rows(con: duckdb.DuckDBPyConnection, query: str, catalog: str | None) -> list[tuple]:
    if catalog is None:
        return con.execute(query).fetchall()
    return con.execute(f"SELECT * FROM ({query}) WHERE database_name = ?", [private_catalog(catalog)]).fetchall()
