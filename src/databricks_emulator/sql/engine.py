"""The warehouse's SQL engine: Databricks SQL executed on one in-memory DuckDB database.

One :class:`SqlEngine` per emulator holds every catalog (the metastore is workspace-wide, shared by all
warehouses); each SQL session gets its own DuckDB cursor, so sessions run concurrently and keep their own
current catalog and schema. The Databricks catalog ``x`` is the DuckDB database ``__x``
(see :mod:`.names`), which is how ``system`` can exist at all.
"""

from __future__ import annotations

import contextlib
import threading
import time
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from . import commands, errors, metadata
from .commands import TIME_ZONE_KEY
from .datatypes import BIGINT, BOOLEAN, INT, STRING, SqlType, of_duckdb
from .names import private_catalog, quote
from .parameters import Parameter
from .translate import (
    ANSI_MODE,
    CAST_FAILURE_MACRO,
    CURRENT_CATALOG,
    CURRENT_SCHEMA,
    NONZERO_MACRO,
    PARAMETER_COLUMN_PREFIX,
    SESSION_IN_UTC,
    Translation,
    insert_target,
    translate,
)

SYSTEM_SCHEMAS = ("access", "billing", "compute", "lakeflow", "query")
_PROTECTED_CATALOGS = frozenset({"system"})
CANCEL_PATIENCE_SECONDS = 5.0
_MACROS_SQL = (
    f"CREATE OR REPLACE TEMP MACRO {NONZERO_MACRO}(divisor, ansi) AS CASE WHEN divisor = 0 THEN "
    "(CASE WHEN ansi THEN error('Division by zero') END) ELSE divisor END",
    f"CREATE OR REPLACE TEMP MACRO {CAST_FAILURE_MACRO}(message, ansi) AS CASE WHEN ansi THEN "
    f"error('{errors.CAST_FAILURE_MARK}' || message) END",
)
# What ``SET key`` answers for a key the session never set, as a SQL warehouse does.
CONF_DEFAULTS = {
    "ansi_mode": "true",
    "spark.sql.ansi.enabled": "true",
    TIME_ZONE_KEY.lower(): "Etc/UTC",
    "use_cached_result": "true",
    "statement_timeout": "172800",
    "legacy_time_parser_policy": "EXCEPTION",
    "max_file_partition_bytes": "128m",
}
_TIME_ZONE_ALIASES = frozenset({"timezone", "time_zone", TIME_ZONE_KEY.lower()})


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: SqlType


@dataclass
class StatementResult:
    """A finished statement's answer: columns, rows (Python values) and, for DML, the modified row count."""

    columns: list[Column]
    rows: list[tuple]
    statement_type: str
    modified_rows: int | None = None
    truncated: bool = False


@dataclass
class EngineSession:
    """One SQL session's DuckDB cursor, current namespace and ``SET`` configuration (keys in lower case)."""

    cursor: duckdb.DuckDBPyConnection
    catalog: str
    schema: str
    conf: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    current: threading.Event | None = None
    """The cancel event of the statement executing now, if it was given one."""

    def close(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.cursor.close()


def _strings(*names: str) -> list[Column]:
    return [Column(name, STRING) for name in names]


_COUNT_COLUMNS = {
    "INSERT": [Column("num_affected_rows", BIGINT), Column("num_inserted_rows", BIGINT)],
    "CREATE": [Column("num_affected_rows", BIGINT), Column("num_inserted_rows", BIGINT)],
    "UPDATE": [Column("num_affected_rows", BIGINT)],
    "DELETE": [Column("num_affected_rows", BIGINT)],
    "MERGE": [
        Column("num_affected_rows", BIGINT),
        Column("num_updated_rows", BIGINT),
        Column("num_deleted_rows", BIGINT),
        Column("num_inserted_rows", BIGINT),
    ],
}
_WIDE_TABLE_COLUMNS = [
    Column("namespace", STRING),
    Column("tableName", STRING),
    Column("isTemporary", BOOLEAN),
    Column("information", STRING),
    Column("catalogName", STRING),
    Column("tableType", STRING),
    Column("remarks", STRING),
]
_WIDE_COLUMN_COLUMNS = [
    Column("col_name", STRING),
    Column("catalogName", STRING),
    Column("namespace", STRING),
    Column("tableName", STRING),
    Column("columnType", STRING),
    Column("columnSize", INT),
    Column("decimalDigits", INT),
    Column("radix", INT),
    Column("isNullable", STRING),
    Column("remarks", STRING),
    Column("ordinalPosition", INT),
    Column("isAutoIncrement", STRING),
    Column("isGenerated", STRING),
]


class SqlEngine:
    """Databricks SQL on DuckDB, for every warehouse of one emulated workspace."""

    def __init__(self, *, default_catalog: str = "main", default_schema: str = "default") -> None:
        self.default_catalog = default_catalog.lower()
        self.default_schema = default_schema
        self._database = duckdb.connect(":memory:")
        self._lock = threading.Lock()
        self._read_hooks: dict[str, Callable[[frozenset[tuple[str, str]]], None]] = {}
        with self._lock:
            self._attach(self.default_catalog, (self.default_schema,))
            self._attach("system", SYSTEM_SCHEMAS)

    # the DuckDB side, for services that fill tables (e.g. system tables)
    def duckdb_cursor(self) -> duckdb.DuckDBPyConnection:
        """A new DuckDB cursor on the engine's database (catalog ``x`` is database ``names.private_catalog(x)``)."""
        cursor = self._database.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute("SET enable_progress_bar = false")
        for macro in _MACROS_SQL:
            cursor.execute(macro)
        return cursor

    def on_catalog_read(self, catalog: str, hook: Callable[[frozenset[tuple[str, str]]], None]) -> None:
        """Call ``hook`` with the ``(schema, table)`` names a statement reads in ``catalog``, before it runs.

        Statements that do not name a table of ``catalog`` (nor use it as their current catalog) never call it.
        """
        self._read_hooks[catalog.lower()] = hook

    def close(self) -> None:
        self._database.close()

    # sessions
    def open_session(
        self,
        catalog: str | None = None,
        schema: str | None = None,
        configuration: Mapping[str, str] | None = None,
    ) -> EngineSession:
        """A session whose current namespace is ``catalog.schema`` (defaults: the engine's).

        The catalog must exist; the schema need not (a warehouse accepts it and fails the first statement that
        reads from it). ``configuration`` is the session configuration the client sent (``ansi_mode``,
        ``timezone``...): ``SET key`` answers it and it applies to every statement.
        """
        session = EngineSession(self.duckdb_cursor(), self.default_catalog, self.default_schema)
        try:
            self._use(session, (catalog or self.default_catalog).lower(), schema or self.default_schema, lenient=True)
            for key, value in (configuration or {}).items():
                if key.upper() != "QUERY_TAGS":
                    self._set_conf(session, str(key), str(value))
        except BaseException:
            session.close()
            raise
        return session

    def execute(
        self,
        session: EngineSession,
        sql: str,
        parameters: Sequence[Parameter] = (),
        row_limit: int | None = None,
        cancel: threading.Event | None = None,
    ) -> StatementResult:
        """Run one Databricks statement; raises :class:`errors.SqlError` the way Databricks would fail it.

        ``cancel``, when given, is the statement's cancel event: set before the statement starts, it never runs;
        :meth:`cancel` interrupts it while it runs.
        """
        with session.lock:
            if cancel is not None and cancel.is_set():
                raise errors.canceled()
            session.current = cancel
            try:
                command = commands.parse(sql)
                if command is not None:
                    return self._command(session, command)
                signature = tuple((p.name.lower() if p.name else None, _signature_type(p)) for p in parameters)
                translation = translate(sql, signature)
                if self._read_hooks and translation.tables:
                    self._before_read(session, translation.tables)
                try:
                    return self._run(session, translation, parameters, row_limit)
                except duckdb.ConversionException:
                    positions = self._datetime_columns(session, sql) if translation.statement_type == "INSERT" else ()
                    lenient = translate(sql, signature, datetime_columns=positions) if positions else translation
                    if lenient.sql == translation.sql:
                        raise
                    return self._run(session, lenient, parameters, row_limit)
            except errors.SqlError:
                raise
            except duckdb.Error as error:
                raise errors.from_duckdb(error, sql) from None
            except Exception as error:  # an emulator gap must fail the statement, not the server
                raise errors.internal(f"{type(error).__name__}: {error}") from None
            finally:
                session.current = None

    def _datetime_columns(self, session: EngineSession, sql: str) -> tuple[int, ...]:
        """Positions of an INSERT's values that go into DATE or TIMESTAMP columns of its target table."""
        target = insert_target(sql)
        if target is None:
            return ()
        parts, named = target
        catalog, schema, table = _qualify(session, parts)
        info = metadata.find_table(session.cursor, catalog, schema, table)
        if info is None:
            return ()
        types = {
            column.name.lower(): column.sql_type.type_name
            for column in metadata.columns(session.cursor, info.catalog)
            if (column.schema, column.table) == (info.schema, info.name)
        }
        names = [name.lower() for name in named] or list(types)
        return tuple(index for index, name in enumerate(names) if types.get(name) in ("DATE", "TIMESTAMP"))

    def cancel(self, session: EngineSession, cancel: threading.Event, done: threading.Event) -> None:
        """Cancel the statement whose cancel event is ``cancel``: interrupt DuckDB until ``done`` is set.

        A statement that has not started yet never will; one that is executing fails at once. DuckDB drops an
        interrupt that comes before the query has started, hence the repeated tries (a few milliseconds apart,
        for at most :data:`CANCEL_PATIENCE_SECONDS`).
        """
        cancel.set()
        deadline = time.monotonic() + CANCEL_PATIENCE_SECONDS
        while not done.wait(0.005) and time.monotonic() < deadline:
            if session.current is cancel:
                with contextlib.suppress(duckdb.Error):
                    session.cursor.interrupt()

    def metadata_cursor(self, session: EngineSession) -> duckdb.DuckDBPyConnection:
        """The session's cursor, for metadata reads (hold ``session.lock`` while using it)."""
        return session.cursor

    def _before_read(self, session: EngineSession, tables: tuple[tuple[str, str, str], ...]) -> None:
        wanted: dict[str, set[tuple[str, str]]] = {}
        for catalog, schema, name in tables:
            wanted.setdefault((catalog or session.catalog).lower(), set()).add((schema or session.schema, name))
        for catalog, names in wanted.items():
            hook = self._read_hooks.get(catalog)
            if hook is not None:
                hook(frozenset(names))

    # running translated statements
    def _run(
        self,
        session: EngineSession,
        translation: Translation,
        parameters: Sequence[Parameter],
        row_limit: int | None,
    ) -> StatementResult:
        if translation.action == "use":
            self._use_statement(session, translation)
            return StatementResult([], [], "USE")
        if translation.action == "describe":
            return self._describe(session, translation.target)
        cursor = session.cursor
        cursor.execute(translation.sql, _bind(session, translation, parameters) or None)
        if translation.result == "count":
            found = cursor.fetchone()
            count = int(found[0]) if found and found[0] is not None else 0
            columns = _COUNT_COLUMNS.get(translation.statement_type, _COUNT_COLUMNS["UPDATE"])
            row = (count,) * min(len(columns), 2) + (None,) * max(len(columns) - 2, 0)
            return StatementResult(columns, [row], translation.statement_type, modified_rows=count)
        if translation.result == "none" or cursor.description is None:
            return StatementResult([], [], translation.statement_type)
        columns = [Column(name, of_duckdb(duckdb_type)) for name, duckdb_type, *_ in cursor.description]
        if any(column.name.startswith(PARAMETER_COLUMN_PREFIX) for column in columns):
            columns = _parameter_columns(columns, translation, parameters)
        if row_limit is not None and row_limit > 0:
            rows = cursor.fetchmany(row_limit + 1)
            truncated = len(rows) > row_limit
            return StatementResult(columns, rows[:row_limit], translation.statement_type, truncated=truncated)
        return StatementResult(columns, cursor.fetchall(), translation.statement_type)

    def _use_statement(self, session: EngineSession, translation: Translation) -> None:
        target, kind = translation.target, translation.use_kind
        if kind == "CATALOG":
            self._use(session, target[-1].lower(), self.default_schema, schema_is_default=True)
        elif len(target) >= 2:
            self._use(session, target[-2].lower(), target[-1])
        else:
            self._use(session, session.catalog, target[0])

    def _use(
        self,
        session: EngineSession,
        catalog: str,
        schema: str,
        *,
        schema_is_default: bool = False,
        lenient: bool = False,
    ) -> None:
        cursor = session.cursor
        if not metadata.catalog_exists(cursor, catalog):
            raise errors.catalog_not_found(catalog)
        names = {name.lower(): name for _, name in metadata.schemas(cursor, catalog)}
        actual = names.get(schema.lower())
        if actual is None:
            if not (schema_is_default or lenient):
                raise errors.schema_not_found(f"`{catalog}`.`{schema}`")
            cursor.execute(f"USE {quote(private_catalog(catalog))}")
        else:
            cursor.execute(f"USE {quote(private_catalog(catalog))}.{quote(actual)}")
        session.catalog, session.schema = catalog, actual or schema

    def _describe(self, session: EngineSession, target: tuple[str, ...]) -> StatementResult:
        catalog, schema, table = _qualify(session, target)
        info = metadata.find_table(session.cursor, catalog, schema, table)
        if info is None:
            raise errors.table_not_found(".".join(f"`{part}`" for part in target))
        rows = [
            (column.name, column.sql_type.type_text.lower(), column.comment)
            for column in metadata.columns(session.cursor, info.catalog)
            if (column.schema, column.table) == (info.schema, info.name)
        ]
        return StatementResult(_strings("col_name", "data_type", "comment"), rows, "DESCRIBE")

    # commands
    def _command(self, session: EngineSession, command: commands.Command) -> StatementResult:
        if isinstance(command, commands.Show):
            return self._show(session, command)
        if isinstance(command, commands.SetConf):
            return self._set(session, command)
        if isinstance(command, commands.NoOp):
            return StatementResult([], [], command.keyword)
        return self._catalog_ddl(command)

    def _set(self, session: EngineSession, command: commands.SetConf) -> StatementResult:
        columns = _strings("key", "value")
        if command.reset:
            keys = list(session.conf) if command.key is None else [_conf_key(command.key)]
            for key in keys:
                session.conf.pop(key, None)
                if key == TIME_ZONE_KEY.lower():
                    session.cursor.execute("SET TimeZone = 'UTC'")
            return StatementResult([], [], "SET")
        if command.key is None:
            return StatementResult(columns, sorted(session.conf.items()), "SET")
        if command.value is None:
            key = _conf_key(command.key)
            value = session.conf.get(key, CONF_DEFAULTS.get(key, "<undefined>"))
            return StatementResult(columns, [(command.key, value)], "SET")
        self._set_conf(session, command.key, command.value)
        return StatementResult(columns, [(command.key, command.value)], "SET")

    def _set_conf(self, session: EngineSession, key: str, value: str) -> None:
        key = _conf_key(key)
        if key == TIME_ZONE_KEY.lower():
            value = _time_zone(value)
            session.cursor.execute(f"SET TimeZone = '{value}'")
        session.conf[key] = value

    def _catalog_ddl(self, command: commands.CatalogDdl) -> StatementResult:
        with self._lock:
            exists = metadata.catalog_exists(self._database, command.name)
            if command.create:
                if exists and not command.tolerant:
                    raise errors.catalog_exists(command.name)
                if not exists:
                    self._attach(command.name, ("default",))
                return StatementResult([], [], "CREATE")
            if command.name in _PROTECTED_CATALOGS or command.name == self.default_catalog:
                raise errors.SqlError(
                    "FORBIDDEN_OPERATION",
                    "42809",
                    f"The operation DROP is not allowed on the catalog `{command.name}`.",
                )
            if not exists:
                if command.tolerant:
                    return StatementResult([], [], "DROP")
                raise errors.catalog_not_found(command.name)
            self._database.execute(f"DETACH {quote(private_catalog(command.name))}")
            return StatementResult([], [], "DROP")

    def _attach(self, catalog: str, schemas: Sequence[str]) -> None:
        database = quote(private_catalog(catalog))
        self._database.execute(f"ATTACH ':memory:' AS {database}")
        for schema in schemas:
            self._database.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.{quote(schema)}")

    def _show(self, session: EngineSession, show: commands.Show) -> StatementResult:
        cursor = session.cursor
        if show.what == "CATALOGS":
            rows = [(name,) for name in metadata.catalogs(cursor) if metadata.matches(show.pattern, name)]
            return StatementResult(_strings("catalog"), rows, "SHOW")
        if show.what == "SCHEMAS":
            return self._show_schemas(session, show)
        if show.what == "TABLES":
            return self._show_tables(session, show)
        return self._show_columns(session, show)

    def _require_catalog(self, session: EngineSession, catalog: str) -> str:
        catalog = catalog.lower()
        if not metadata.catalog_exists(session.cursor, catalog):
            raise errors.catalog_not_found(catalog)
        return catalog

    def _show_schemas(self, session: EngineSession, show: commands.Show) -> StatementResult:
        if show.all_catalogs:
            rows = [
                (schema, catalog)
                for catalog, schema in metadata.schemas(session.cursor)
                if metadata.matches(show.pattern, schema)
            ]
            return StatementResult(_strings("databaseName", "catalog"), rows, "SHOW")
        catalog = self._require_catalog(session, show.catalog or session.catalog)
        rows = [
            (schema,)
            for _, schema in metadata.schemas(session.cursor, catalog)
            if metadata.matches(show.pattern, schema)
        ]
        return StatementResult(_strings("databaseName"), rows, "SHOW")

    def _show_tables(self, session: EngineSession, show: commands.Show) -> StatementResult:
        cursor = session.cursor
        if show.wide:
            catalog = None if show.all_catalogs else self._require_catalog(session, show.catalog or "")
            rows = [
                (info.schema, info.name, False, None, info.catalog, info.table_type, info.comment or "")
                for info in metadata.tables(cursor, catalog)
                if metadata.matches(show.schema_pattern, info.schema) and metadata.matches(show.pattern, info.name)
            ]
            return StatementResult(list(_WIDE_TABLE_COLUMNS), rows, "SHOW")
        if show.namespace:
            catalog = self._require_catalog(session, show.namespace[0]) if len(show.namespace) > 1 else session.catalog
            schema = show.namespace[-1]
        else:
            catalog, schema = session.catalog, session.schema
        if not metadata.schema_exists(cursor, catalog, schema):
            raise errors.schema_not_found(f"`{catalog}`.`{schema}`")
        rows = [
            (info.schema, info.name, False)
            for info in metadata.tables(cursor, catalog)
            if info.schema.lower() == schema.lower() and metadata.matches(show.pattern, info.name)
        ]
        columns = [Column("database", STRING), Column("tableName", STRING), Column("isTemporary", BOOLEAN)]
        return StatementResult(columns, rows, "SHOW")

    def _show_columns(self, session: EngineSession, show: commands.Show) -> StatementResult:
        cursor = session.cursor
        if show.wide:
            catalog = self._require_catalog(session, show.catalog or "")
            rows = [
                _wide_column_row(column)
                for column in metadata.columns(cursor, catalog)
                if metadata.matches(show.schema_pattern, column.schema)
                and metadata.matches(show.table_pattern, column.table)
                and metadata.matches(show.pattern, column.name)
            ]
            return StatementResult(list(_WIDE_COLUMN_COLUMNS), rows, "SHOW")
        catalog, schema, table = _qualify(session, show.table)
        info = metadata.find_table(cursor, catalog, schema, table)
        if info is None:
            raise errors.table_not_found(".".join(f"`{part}`" for part in show.table))
        rows = [
            (column.name,)
            for column in metadata.columns(cursor, info.catalog)
            if (column.schema, column.table) == (info.schema, info.name)
        ]
        return StatementResult(_strings("col_name"), rows, "SHOW")


def _wide_column_row(column: metadata.ColumnInfo) -> tuple:
    sql_type = column.sql_type
    size, digits, radix = metadata.jdbc_sizes(sql_type)
    return (
        column.name,
        column.catalog,
        column.schema,
        column.table,
        sql_type.type_text,
        size,
        digits,
        radix,
        "true" if column.nullable else "false",
        column.comment or "",
        column.position - 1 if column.position > 0 else 0,
        "NO",
        "NO",
    )


def _qualify(session: EngineSession, parts: tuple[str, ...]) -> tuple[str, str, str]:
    if len(parts) >= 3:
        return parts[-3].lower(), parts[-2], parts[-1]
    if len(parts) == 2:
        return session.catalog, parts[0], parts[1]
    return session.catalog, session.schema, parts[0]


def _parameter_columns(
    columns: list[Column], translation: Translation, parameters: Sequence[Parameter]
) -> list[Column]:
    """Name bare parameter columns as Databricks does: after the value bound (``SELECT ?`` with 'x' is ``x``)."""
    values = {binding.duckdb_name: parameter.value for binding, parameter in _parameter_values(translation, parameters)}
    renamed = []
    for column in columns:
        if column.name.startswith(PARAMETER_COLUMN_PREFIX):
            value = values.get(column.name[len(PARAMETER_COLUMN_PREFIX) :])
            column = Column("NULL" if value is None else str(value), column.sql_type)
        renamed.append(column)
    return renamed


def _parameter_values(translation: Translation, parameters: Sequence[Parameter]) -> list[tuple[Any, Parameter]]:
    named = {p.name.lower(): p for p in parameters if p.name}
    positional = [p for p in parameters if not p.name]
    found = []
    for binding in translation.bindings:
        if binding.parameter_name is not None:
            found.append((binding, named[binding.parameter_name]))
        elif binding.position is not None:
            found.append((binding, positional[binding.position]))
    return found


def _conf_key(key: str) -> str:
    key = key.strip().strip("`").lower()
    return TIME_ZONE_KEY.lower() if key in _TIME_ZONE_ALIASES else key


def _time_zone(value: str) -> str:
    zone = value.strip().strip("'\"")
    if zone.upper() in ("UTC", "Z", "GMT", "LOCAL"):
        return "Etc/UTC"
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise errors.SqlError(
            "INVALID_CONF_VALUE.TIME_ZONE",
            "22022",
            f"The value '{zone}' in the config \"{TIME_ZONE_KEY}\" is invalid. Cannot resolve the given timezone.",
        ) from None
    return zone


def ansi_mode(session: EngineSession) -> bool:
    """Whether the session runs in ANSI mode (``ansi_mode`` / ``spark.sql.ansi.enabled``, true unless set false)."""
    value = session.conf.get("ansi_mode", session.conf.get("spark.sql.ansi.enabled", "true"))
    return value.strip().lower() not in ("false", "0", "no", "off")


def _signature_type(parameter: Parameter) -> str:
    return (parameter.type or "STRING").strip()


def _bind(session: EngineSession, translation: Translation, parameters: Sequence[Parameter]) -> dict[str, Any]:
    if not translation.bindings:
        return {}
    values: dict[str, Any] = {
        binding.duckdb_name: parameter.bound() for binding, parameter in _parameter_values(translation, parameters)
    }
    for binding in translation.bindings:
        if binding.duckdb_name == CURRENT_CATALOG:
            values[binding.duckdb_name] = session.catalog
        elif binding.duckdb_name == CURRENT_SCHEMA:
            values[binding.duckdb_name] = session.schema
        elif binding.duckdb_name == ANSI_MODE:
            values[binding.duckdb_name] = ansi_mode(session)
        elif binding.duckdb_name == SESSION_IN_UTC:
            values[binding.duckdb_name] = session.conf.get(TIME_ZONE_KEY.lower(), "Etc/UTC") == "Etc/UTC"
    return values
