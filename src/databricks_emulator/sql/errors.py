"""Databricks SQL errors: error class, SQLSTATE and message, made from DuckDB and sqlglot failures.

Databricks messages look like ``[TABLE_OR_VIEW_NOT_FOUND] The table or view `x` cannot be found. ...
SQLSTATE: 42P01``; clients (and the instrumentation) parse the class and the SQLSTATE out of that text.
"""

from __future__ import annotations

import re

import duckdb
import sqlglot.errors

from .names import backticked, public_text


class SqlError(Exception):
    """A statement failure as Databricks reports it."""

    def __init__(
        self, error_class: str, sqlstate: str, detail: str, *, service_code: str = "BAD_REQUEST", where: str = ""
    ) -> None:
        self.error_class = error_class
        self.sqlstate = sqlstate
        self.detail = detail
        self.service_code = service_code
        self.where = where
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The full Databricks message, with the error class in front and the SQLSTATE behind."""
        return f"[{self.error_class}] {self.detail} SQLSTATE: {self.sqlstate}{self.where}"


def table_not_found(name: str) -> SqlError:
    return SqlError(
        "TABLE_OR_VIEW_NOT_FOUND",
        "42P01",
        f"The table or view {name} cannot be found. Verify the spelling and correctness of the schema and catalog.\n"
        "If you did not qualify the name with a schema, verify the current_schema() output, or qualify the name "
        "with the correct schema and catalog.\n"
        "To tolerate the error on drop use DROP VIEW IF EXISTS or DROP TABLE IF EXISTS.",
    )


def schema_not_found(name: str) -> SqlError:
    return SqlError(
        "SCHEMA_NOT_FOUND",
        "42704",
        f"The schema {name} cannot be found. Verify the spelling and correctness of the schema and catalog.\n"
        "If you did not qualify the name with a catalog, verify the current_schema() output, or qualify the name "
        "with the correct catalog.\nTo tolerate the error on drop use DROP SCHEMA IF EXISTS.",
    )


def catalog_not_found(name: str) -> SqlError:
    return SqlError(
        "NO_SUCH_CATALOG_EXCEPTION",
        "42704",
        f"The catalog '{name}' was not found. Please verify the catalog name and then retry the query or command "
        "again.",
    )


def catalog_exists(name: str) -> SqlError:
    return SqlError(
        "CATALOG_ALREADY_EXISTS", "42P04", f"Cannot create catalog {backticked(name)} because it already exists."
    )


def parse_error(near: str, line: int | None = None, position: int | None = None, sql: str | None = None) -> SqlError:
    """A PARSE_SYNTAX_ERROR; with ``sql``, the message quotes the statement under ``== SQL ==`` as Spark does, a
    caret line under the failing line when the position is known."""
    where = f" (line {line}, pos {position})" if line is not None and position is not None else ""
    if sql is not None and sql.strip():
        where += "\n\n== SQL ==\n" + _pointed(sql.strip("\n"), line, position)
    return SqlError("PARSE_SYNTAX_ERROR", "42601", f"Syntax error at or near {near}.", where=where)


def _pointed(sql: str, line: int | None, position: int | None) -> str:
    lines = sql[:MAX_QUOTED_SQL].split("\n")
    if line is None or position is None or not 1 <= line <= len(lines):
        return "\n".join(lines)
    caret = "-" * max(0, position) + "^^^"
    return "\n".join([*lines[:line], caret, *lines[line:]])


def unbound_parameter(name: str) -> SqlError:
    return SqlError(
        "UNBOUND_SQL_PARAMETER",
        "42P02",
        f"Found the unbound parameter: {name}. Please, fix `args` and provide a mapping of the parameter to either a "
        "SQL literal or collection constructor functions such as `map()`, `array()`, `struct()`.",
    )


def cast_invalid_input(text: str, target: str) -> SqlError:
    """The ANSI-mode failure of casting the string ``text`` to ``target`` (``DATE``, ``TIMESTAMP``, ``INT``...)."""
    return SqlError(
        "CAST_INVALID_INPUT",
        "22018",
        f'The value \'{text}\' of the type "STRING" cannot be cast to "{target}" because it is malformed. Correct '
        "the value as per the syntax, or change its target type. Use `try_cast` to tolerate malformed input and "
        'return NULL instead. If necessary set "ansi_mode" to "false" to bypass this error.',
    )


def canceled() -> SqlError:
    return SqlError("OPERATION_CANCELED", "HY008", "The statement was cancelled.")


def unsupported(what: str) -> SqlError:
    return SqlError("UNSUPPORTED_FEATURE", "0A000", f"The feature is not supported: {what}.")


def internal(detail: str) -> SqlError:
    return SqlError("INTERNAL_ERROR", "XX000", detail, service_code="INTERNAL_ERROR")


CAST_FAILURE_MARK = "[CAST_INVALID_INPUT] "
MAX_QUOTED_SQL = 4096
_DUCKDB_PREFIX = re.compile(r"^[A-Za-z ]+ Error: ")
_QUOTED = re.compile(r'"((?:[^"]|"")*)"')
_TABLE_MISSING = re.compile(r"Table with name (\"(?:[^\"]|\"\")*\"|\S+) does not exist")
_TABLE_EXISTS = re.compile(r"Table with name (\"(?:[^\"]|\"\")*\"|\S+) already exists")
_VIEW_EXISTS = re.compile(r"View with name (\"(?:[^\"]|\"\")*\"|\S+) already exists")
_SCHEMA_MISSING = re.compile(r"Schema with name (\"(?:[^\"]|\"\")*\"|\S+) does not exist")
_SCHEMA_EXISTS = re.compile(r"Schema with name (\"(?:[^\"]|\"\")*\"|\S+) already exists")
_CATALOG_MISSING = re.compile(r"Catalog (?:with name )?(\"(?:[^\"]|\"\")*\"|\S+) does not exist")
_FUNCTION_MISSING = re.compile(r"(?:Scalar|Table|Aggregate) Function with name (\S+) does not exist")
_COLUMN_MISSING = re.compile(r'Referenced column "((?:[^"]|"")*)" (not found|was not found)')
_CANDIDATES = re.compile(r"Candidate bindings: (.*)")
_NEAR = re.compile(r'syntax error at or near "((?:[^"]|"")*)"')
_CAST = re.compile(r"Could not convert string '((?:[^']|'')*)' to (\w+)")
_FIELD_FORMAT = re.compile(r'invalid (date|timestamp) field format: "((?:[^"]|"")*)"')
_DUCKDB_TO_DATABRICKS_TYPE = {
    "INT8": "TINYINT",
    "INT16": "SMALLINT",
    "INT32": "INT",
    "INT64": "BIGINT",
    "FLOAT": "FLOAT",
    "DOUBLE": "DOUBLE",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "BOOL": "BOOLEAN",
    "BOOLEAN": "BOOLEAN",
}


def _name_of(token: str) -> str:
    token = public_text(token.strip())
    if token.startswith('"') and token.endswith('"'):
        token = token[1:-1].replace('""', '"')
    parts = [part.strip('"') for part in token.split(".")]
    return backticked(*parts)


def _first_line(message: str) -> str:
    return _DUCKDB_PREFIX.sub("", message.strip().split("\n", 1)[0])


def from_sqlglot(error: sqlglot.errors.ParseError, sql: str | None = None) -> SqlError:
    """A PARSE_SYNTAX_ERROR for what sqlglot could not parse (quoting ``sql``, the statement, when given)."""
    details = error.errors[0] if error.errors else {}
    near = details.get("highlight") or details.get("end_context") or ""
    near_text = f"'{near}'" if near else "end of input"
    line, column = details.get("line"), details.get("col")
    position = column - len(near) if isinstance(column, int) and column >= len(near) else column
    return parse_error(near_text, line, position, sql)


def from_duckdb(error: Exception, sql: str | None = None) -> SqlError:
    """The Databricks error for a DuckDB failure (private catalog names turned back into public ones); a syntax
    error quotes ``sql``, the Databricks statement, when given."""
    message = public_text(str(error))
    first = _first_line(message)
    if isinstance(error, duckdb.ParserException):
        found = _NEAR.search(first)
        if found:
            return parse_error(f"'{found.group(1)}'", sql=sql)
        return parse_error("end of input" if "end of input" in first else f"'{first}'", sql=sql)
    if isinstance(error, duckdb.CatalogException):
        return _from_catalog_error(first) or internal(first)
    if isinstance(error, duckdb.BinderException):
        found = _COLUMN_MISSING.search(first)
        if found:
            return _unresolved_column(found.group(1).replace('""', '"'), message)
        if "argument types" in first or "No function matches" in first:
            return SqlError("DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE", "42K09", first + ".")
        return _from_catalog_error(first) or SqlError("INVALID_SQL_SYNTAX", "42000", first)
    if isinstance(error, duckdb.InvalidInputException) and CAST_FAILURE_MARK in first:
        return SqlError("CAST_INVALID_INPUT", "22018", first.split(CAST_FAILURE_MARK, 1)[1])
    if isinstance(error, duckdb.InvalidInputException) and "Division by zero" in first:
        return SqlError(
            "DIVIDE_BY_ZERO",
            "22012",
            "Division by zero. Use `try_divide` to tolerate divisor being 0 and return NULL instead. If necessary "
            'set "ansi_mode" to "false" to bypass this error.',
        )
    if isinstance(error, duckdb.ConversionException):
        found = _CAST.search(first)
        if found:
            target = _DUCKDB_TO_DATABRICKS_TYPE.get(found.group(2).upper(), found.group(2).upper())
            return cast_invalid_input(found.group(1), target)
        found = _FIELD_FORMAT.search(first)
        if found:
            return cast_invalid_input(found.group(2), found.group(1).upper())
        if "out of range" in first.lower() or "overflow" in first.lower():
            return _overflow(first)
        return SqlError("CAST_INVALID_INPUT", "22018", first)
    if isinstance(error, duckdb.OutOfRangeException):
        return _overflow(first)
    if isinstance(error, duckdb.ConstraintException):
        return SqlError("CONSTRAINT_VIOLATION", "23000", first)
    if isinstance(error, duckdb.InvalidInputException):
        return SqlError("INVALID_PARAMETER_VALUE", "22023", first)
    return internal(first)


def _overflow(first: str) -> SqlError:
    return SqlError(
        "ARITHMETIC_OVERFLOW",
        "22003",
        f'{first}. If necessary set "ansi_mode" to "false" to bypass this error.',
    )


def _unresolved_column(name: str, message: str) -> SqlError:
    candidates = _CANDIDATES.search(message)
    if candidates:
        names = [_name_of(found.group(0)) for found in _QUOTED.finditer(candidates.group(1))]
        if names:
            return SqlError(
                "UNRESOLVED_COLUMN.WITH_SUGGESTION",
                "42703",
                f"A column, variable, or function parameter with name {backticked(name)} cannot be resolved. "
                f"Did you mean one of the following? [{', '.join(names)}].",
            )
    return SqlError(
        "UNRESOLVED_COLUMN.WITHOUT_SUGGESTION",
        "42703",
        f"A column, variable, or function parameter with name {backticked(name)} cannot be resolved.",
    )


def _from_catalog_error(first: str) -> SqlError | None:
    found = _TABLE_MISSING.search(first)
    if found:
        return table_not_found(_name_of(found.group(1)))
    found = _TABLE_EXISTS.search(first) or _VIEW_EXISTS.search(first)
    if found:
        return SqlError(
            "TABLE_OR_VIEW_ALREADY_EXISTS",
            "42P07",
            f"Cannot create table or view {_name_of(found.group(1))} because it already exists.\n"
            "Choose a different name, drop or replace the existing object, or add the IF NOT EXISTS clause to "
            "tolerate pre-existing objects.",
        )
    found = _SCHEMA_MISSING.search(first)
    if found:
        return schema_not_found(_name_of(found.group(1)))
    found = _SCHEMA_EXISTS.search(first)
    if found:
        return SqlError(
            "SCHEMA_ALREADY_EXISTS",
            "42P06",
            f"Cannot create schema {_name_of(found.group(1))} because it already exists.\n"
            "Choose a different name, drop the existing schema, or add the IF NOT EXISTS clause to tolerate "
            "pre-existing schema.",
        )
    found = _CATALOG_MISSING.search(first)
    if found:
        return catalog_not_found(found.group(1).strip('"'))
    found = _FUNCTION_MISSING.search(first)
    if found:
        return SqlError(
            "UNRESOLVED_ROUTINE",
            "42883",
            f"Cannot resolve routine {_name_of(found.group(1))} on search path [`system`.`builtin`, "
            "`system`.`session`].",
        )
    return None
