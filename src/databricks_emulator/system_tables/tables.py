"""A system table's shape in DuckDB and how its rows are written there.

Column types are DuckDB spellings of the Databricks types the docs give (``STRING`` is ``VARCHAR``, ``TIMESTAMP``
is ``TIMESTAMPTZ``, ``MAP<STRING,STRING>`` is ``MAP(VARCHAR, VARCHAR)``); the SQL engine reports them back in
Databricks names. Rows are tuples in column order with plain Python values: ``dict`` for structs and maps,
``list`` for arrays, ``datetime`` (UTC) for timestamps, ``date``, ``Decimal`` for decimals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

STRING = "VARCHAR"
BIGINT = "BIGINT"
INT = "INTEGER"
BOOLEAN = "BOOLEAN"
TIMESTAMP = "TIMESTAMPTZ"
DATE = "DATE"
DECIMAL = "DECIMAL(38,18)"
STRINGS = "VARCHAR[]"
STRING_MAP = "MAP(VARCHAR, VARCHAR)"
BATCH_ROWS = 50_000


def struct(**fields: str) -> str:
    """A DuckDB ``STRUCT`` type of ``fields`` (name -> type), in order."""
    return "STRUCT(" + ", ".join(f'"{name}" {kind}' for name, kind in fields.items()) + ")"


def string_struct(*names: str) -> str:
    return struct(**dict.fromkeys(names, STRING))


@dataclass(frozen=True)
class TableSpec:
    """One system table: ``system.<schema>.<name>``, its columns and the docs page they come from."""

    schema: str
    name: str
    columns: tuple[tuple[str, str], ...]
    doc: str

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def qualified(self, database: str) -> str:
        return f'"{database}"."{self.schema}"."{self.name}"'

    def create_sql(self, database: str) -> str:
        body = ", ".join(f'"{name}" {kind}' for name, kind in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.qualified(database)} ({body})"

    def insert_sql(self, database: str) -> str:
        """One INSERT of a JSON array of row objects (parameter 1) read with the columns' types (parameter 2)."""
        names = ", ".join(f'"{name}"' for name in self.column_names)
        return (
            f"INSERT INTO {self.qualified(database)} ({names}) "
            "SELECT r.* FROM (SELECT unnest(from_json(?::JSON, ?)) AS r)"
        )

    def json_structure(self) -> str:
        return json.dumps([dict(self.columns)])

    def json_rows(self, rows: Sequence[Sequence[Any]]) -> str:
        names = self.column_names
        for row in rows:
            if len(row) != len(names):
                raise ValueError(f"system.{self.schema}.{self.name}: {len(row)} values for {len(names)} columns")
        return json.dumps([dict(zip(names, row, strict=True)) for row in rows], default=_json_value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a system table value")


def replace_rows(
    cursor: duckdb.DuckDBPyConnection, database: str, spec: TableSpec, rows: Sequence[Sequence[Any]]
) -> None:
    """Make ``rows`` the table's whole content, in one transaction (readers see the old rows or the new ones).

    Rows travel as JSON read back with the columns' types: one statement per batch, not one per row.
    """
    cursor.execute("BEGIN TRANSACTION")
    try:
        cursor.execute(f"DELETE FROM {spec.qualified(database)}")
        structure = spec.json_structure()
        for first in range(0, len(rows), BATCH_ROWS):
            cursor.execute(spec.insert_sql(database), [spec.json_rows(rows[first : first + BATCH_ROWS]), structure])
        cursor.execute("COMMIT")
    except BaseException:
        cursor.execute("ROLLBACK")
        raise
