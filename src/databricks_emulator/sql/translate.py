"""Databricks SQL to DuckDB SQL: parse with sqlglot, rewrite catalogs and parameters, generate, cache.

A translation depends only on the statement text and the types of its parameters, never on the session, so
it is cached (bounded LRU). What depends on the session (the current catalog and schema) is bound as DuckDB
parameters when the statement runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sqlglot
import sqlglot.errors
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from . import errors
from .datetimes import spark_date, spark_timestamp
from .names import private_catalog

CURRENT_CATALOG = "__current_catalog"
CURRENT_SCHEMA = "__current_schema"
ANSI_MODE = "__ansi_mode"
SESSION_IN_UTC = "__session_in_utc"
NONZERO_MACRO = "__databricks_nonzero"
CAST_FAILURE_MACRO = "__databricks_cast_failure"
PARAMETER_COLUMN_PREFIX = "__databricks_parameter:"
CACHE_SIZE = 4096

# (name or None for a positional ``?``, Databricks type) for each parameter a statement was given.
ParameterTypes = tuple[tuple[str | None, str], ...]


@dataclass(frozen=True)
class Binding:
    """One DuckDB parameter of a translated statement and where its value comes from."""

    duckdb_name: str
    parameter_name: str | None = None
    position: int | None = None


@dataclass(frozen=True)
class Translation:
    """What the engine runs for one Databricks statement.

    ``action`` is ``"duckdb"`` (run ``sql``), or ``"use"`` or ``"describe"`` (``target`` names the object, with
    ``use_kind`` the USE keyword).
    ``result`` says how DuckDB's answer becomes the Databricks answer: ``"rows"``, ``"count"`` (DML: the
    number of affected rows) or ``"none"`` (DDL).
    ``tables`` are the ``(catalog, schema, table)`` names the statement mentions, as written (``""`` for a part
    left out), so that the engine can prepare tables filled on demand (the system tables) before they are read.
    A result column named ``PARAMETER_COLUMN_PREFIX + duckdb_name`` is a bare parameter marker: Databricks names it
    after the value bound to it.
    """

    action: str
    statement_type: str
    result: str = "none"
    sql: str = ""
    bindings: tuple[Binding, ...] = ()
    target: tuple[str, ...] = ()
    use_kind: str = ""
    tables: tuple[tuple[str, str, str], ...] = ()


def translate(sql: str, parameter_types: ParameterTypes = (), *, datetime_columns: tuple[int, ...] = ()) -> Translation:
    """The DuckDB form of Databricks statement ``sql``; raises :class:`errors.SqlError` if it is not valid.

    ``datetime_columns`` are the positions, in an ``INSERT ... VALUES``, of the values that go into DATE or
    TIMESTAMP columns: their string literals are read as Spark reads them (``'2023-09-06 03:14:27.000843 +0000'``,
    ``'2021-09'``). The engine translates an INSERT so after DuckDB refused one of those strings.
    """
    return _translate(sql, parameter_types, datetime_columns)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _translate(sql: str, parameter_types: ParameterTypes, datetime_columns: tuple[int, ...] = ()) -> Translation:
    try:
        trees = [tree for tree in sqlglot.parse(sql, read="databricks") if tree is not None]
    except sqlglot.errors.ParseError as error:
        raise errors.from_sqlglot(error, sql) from None
    except sqlglot.errors.TokenError as error:
        raise errors.parse_error(f"'{str(error)[:40]}'", sql=sql) from None
    if not trees:
        raise errors.parse_error("end of input", sql=sql)
    if len(trees) > 1:
        raise errors.parse_error(f"'{trees[1].sql(dialect='databricks').split(' ', 1)[0]}'", sql=sql)
    return _from_tree(trees[0], parameter_types, datetime_columns)


def _from_tree(
    tree: exp.Expression, parameter_types: ParameterTypes, datetime_columns: tuple[int, ...] = ()
) -> Translation:
    if isinstance(tree, exp.Use):
        return Translation("use", "USE", target=_parts(tree.this), use_kind=_use_kind(tree))
    if isinstance(tree, exp.Describe) and isinstance(tree.this, exp.Table):
        table = tree.this
        return Translation(
            "describe", "DESCRIBE", result="rows", target=_parts(table), tables=((table.catalog, table.db, table.name),)
        )
    statement_type, result = _classify(tree)
    tree = tree.copy()
    tree = _rewrite_databases(tree)
    if datetime_columns and isinstance(tree, exp.Insert):
        _rewrite_value_timestamps(tree, frozenset(datetime_columns))
    tables = tuple(dict.fromkeys((t.catalog, t.db, t.name) for t in tree.find_all(exp.Table) if t.name))
    if isinstance(tree, exp.Select):
        _name_projections(tree)
    _rewrite_catalogs(tree)
    _rewrite_range(tree)
    ansi = _rewrite_divisions(tree)
    ansi = _rewrite_datetime_casts(tree) or ansi
    _rewrite_int_functions(tree)
    in_utc = _rewrite_from_unixtime(tree)
    bindings = _rewrite_parameters(tree, parameter_types)
    if isinstance(tree, exp.Select):
        _name_parameter_columns(tree)
    if ansi:
        bindings += (Binding(ANSI_MODE),)
    if in_utc:
        bindings += (Binding(SESSION_IN_UTC),)
    duckdb_sql = tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.IGNORE)
    return Translation("duckdb", statement_type, result, duckdb_sql, bindings, tables=tables)


def _parts(node: exp.Expression | None) -> tuple[str, ...]:
    if isinstance(node, exp.Table):
        return tuple(part.name for part in node.parts)
    if node is None:
        return ()
    return (node.name,)


def _use_kind(tree: exp.Use) -> str:
    kind = tree.args.get("kind")
    return kind.name.upper() if kind is not None else ""


def _classify(tree: exp.Expression) -> tuple[str, str]:
    if isinstance(tree, exp.Query):
        return "SELECT", "rows"
    if isinstance(tree, exp.Insert):
        return "INSERT", "count"
    if isinstance(tree, exp.Update):
        return "UPDATE", "count"
    if isinstance(tree, exp.Delete):
        return "DELETE", "count"
    if isinstance(tree, exp.Merge):
        return "MERGE", "count"
    if isinstance(tree, exp.Create):
        return "CREATE", "none"
    if isinstance(tree, exp.Drop):
        return "DROP", "none"
    if isinstance(tree, exp.Alter):
        return "ALTER", "none"
    if isinstance(tree, exp.TruncateTable):
        return "TRUNCATE", "none"
    if isinstance(tree, exp.Describe):
        return "DESCRIBE", "rows"
    if isinstance(tree, exp.Command):
        return str(tree.this).upper(), "rows"
    return "OTHER", "rows"


def _rewrite_catalogs(tree: exp.Expression) -> None:
    for table in tree.find_all(exp.Table):
        catalog = table.args.get("catalog")
        if isinstance(catalog, exp.Identifier) and catalog.name:
            table.set("catalog", exp.to_identifier(private_catalog(catalog.name), quoted=True))


def _rewrite_range(tree: exp.Expression) -> None:
    """Databricks' ``range(...)`` table function names its column ``id``; DuckDB's names it ``range``."""
    for table in tree.find_all(exp.Table):
        function = table.this
        if not (isinstance(function, exp.Anonymous) and str(function.this).lower() == "range"):
            continue
        alias = table.args.get("alias")
        if alias is not None and alias.columns:
            continue
        name = alias.this if alias is not None and alias.this else exp.to_identifier("range", quoted=True)
        table.set("alias", exp.TableAlias(this=name, columns=[exp.to_identifier("id")]))


def _rewrite_databases(tree: exp.Expression) -> exp.Expression:
    """``CREATE`` / ``DROP DATABASE`` are Databricks' other spelling of ``SCHEMA``; DuckDB knows only the latter."""
    if isinstance(tree, exp.Create) and str(tree.kind).upper() == "DATABASE":
        tree.set("kind", "SCHEMA")
        tree.set("this", _schema_name(tree.this))
    elif isinstance(tree, exp.Drop) and str(tree.kind).upper() == "DATABASE":
        tree.set("kind", "SCHEMA")
        tree.set("tables", [_schema_name(table) for table in tree.args.get("tables") or ()])
    return tree


def _schema_name(table: exp.Expression) -> exp.Expression:
    if not isinstance(table, exp.Table) or (table.args.get("catalog") is not None and table.name == ""):
        return table
    return exp.Table(db=table.this, catalog=table.args.get("db"))


def insert_target(sql: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``(table name parts, column names or ())`` of an ``INSERT ... VALUES`` statement, else None."""
    tree = sqlglot.parse_one(sql, read="databricks")
    if not isinstance(tree, exp.Insert) or not isinstance(tree.expression, exp.Values):
        return None
    target = tree.this
    columns: tuple[str, ...] = ()
    if isinstance(target, exp.Schema):
        columns = tuple(column.name for column in target.expressions)
        target = target.this
    return _parts(target), columns


def _rewrite_value_timestamps(insert: exp.Insert, positions: frozenset[int]) -> None:
    for values in insert.find_all(exp.Values):
        for row in values.expressions:
            for position, literal in enumerate(row.expressions if isinstance(row, exp.Tuple) else ()):
                if position not in positions or not (isinstance(literal, exp.Literal) and literal.is_string):
                    continue
                text = spark_timestamp(literal.this)
                if text is not None and text != literal.this:
                    literal.replace(exp.Literal.string(text))


def _ansi_mode() -> exp.Expression:
    return exp.Placeholder(this=ANSI_MODE)


def _rewrite_divisions(tree: exp.Expression) -> bool:
    """Databricks in ANSI mode fails on a zero divisor (NULL otherwise) where DuckDB answers infinity or NULL."""
    rewritten = False
    for node in list(tree.find_all(exp.Div, exp.Mod, exp.IntDiv)):
        divisor = node.expression
        if isinstance(divisor, exp.Literal) and not divisor.is_string and _nonzero_number(divisor.this):
            continue
        node.set("expression", exp.Anonymous(this=NONZERO_MACRO, expressions=[divisor, _ansi_mode()]))
        rewritten = True
    return rewritten


_DATE_TYPES = {exp.DataType.Type.DATE: "DATE"}
_TIMESTAMP_TYPES = {
    exp.DataType.Type.TIMESTAMP: "TIMESTAMP",
    exp.DataType.Type.TIMESTAMPTZ: "TIMESTAMP",
    exp.DataType.Type.TIMESTAMPLTZ: "TIMESTAMP",
    exp.DataType.Type.TIMESTAMPNTZ: "TIMESTAMP_NTZ",
}


def _rewrite_datetime_casts(tree: exp.Expression) -> bool:
    """Casts of string literals to DATE / TIMESTAMP read the text as Spark does (``'2021-09'`` is a date).

    ``TIMESTAMP(...)`` and ``to_timestamp(...)`` (which sqlglot reads as casts to a zone-less timestamp) answer a
    Databricks TIMESTAMP, in the session time zone. Text Spark cannot read is NULL, or an error in ANSI mode
    (``try_cast`` is always NULL). Returns whether the statement now depends on the session's ANSI mode.
    """
    rewritten = False
    for node in list(tree.find_all(exp.Cast)):
        kind = node.to.this
        if kind == exp.DataType.Type.TIMESTAMP and not isinstance(node.parent, exp.DataType):
            node.set("to", exp.DataType.build("TIMESTAMPTZ"))
        target = _DATE_TYPES.get(kind) or _TIMESTAMP_TYPES.get(kind)
        literal = node.this
        if target is None or not (isinstance(literal, exp.Literal) and literal.is_string):
            continue
        text = spark_date(literal.this) if target == "DATE" else spark_timestamp(literal.this)
        if text is not None:
            literal.replace(exp.Literal.string(text))
        elif isinstance(node, exp.TryCast) or node.args.get("safe"):
            literal.replace(exp.Null())
        else:
            failure = exp.Anonymous(
                this=CAST_FAILURE_MACRO,
                expressions=[exp.Literal.string(errors.cast_invalid_input(literal.this, target).detail), _ansi_mode()],
            )
            literal.replace(failure)
            rewritten = True
    return rewritten


def _rewrite_int_functions(tree: exp.Expression) -> None:
    """Databricks' ``size`` and ``length`` answer INT; DuckDB's answer BIGINT."""
    for node in list(tree.find_all(exp.ArraySize, exp.Length)):
        if not isinstance(node.parent, exp.Cast):
            node.replace(exp.Cast(this=node.copy(), to=exp.DataType.build("INT")))


def _rewrite_from_unixtime(tree: exp.Expression) -> bool:
    """``from_unixtime`` formats in the session time zone; in UTC (the default) it skips DuckDB's time-zone
    conversion, which costs more than the formatting (a cross join of large ranges calls it a billion times)."""
    rewritten = False
    for node in list(tree.find_all(exp.UnixToStr)):
        if node.args.get("format") is None:
            continue
        seconds = exp.Cast(this=node.this.copy(), to=exp.DataType.build("BIGINT"))
        micros = exp.Mul(this=seconds, expression=exp.Literal.number(1_000_000))
        naive = exp.Anonymous(this="make_timestamp", expressions=[micros])
        in_utc = exp.TimeToStr(this=naive, format=node.args["format"].copy())
        node.replace(
            exp.Case(ifs=[exp.If(this=exp.Placeholder(this=SESSION_IN_UTC), true=in_utc)], default=node.copy())
        )
        rewritten = True
    return rewritten


def _nonzero_number(text: str) -> bool:
    try:
        return float(text) != 0
    except ValueError:
        return False


@functools.lru_cache(maxsize=256)
def _duckdb_type(databricks_type: str) -> exp.DataType | None:
    if databricks_type.upper() in ("VOID", "NULL"):
        return None
    try:
        return exp.DataType.build(databricks_type, dialect="databricks")
    except (sqlglot.errors.ParseError, ValueError):
        raise errors.SqlError(
            "INVALID_PARAMETER_VALUE", "22023", f"The parameter type {databricks_type} is not a Databricks type."
        ) from None


def _rewrite_parameters(tree: exp.Expression, parameter_types: ParameterTypes) -> tuple[Binding, ...]:
    named = {name.lower(): kind for name, kind in parameter_types if name is not None}
    positional = [kind for name, kind in parameter_types if name is None]
    bindings: dict[str, Binding] = {}
    position = 0
    nodes = tree.find_all(exp.Placeholder, exp.CurrentCatalog, exp.CurrentSchema, exp.CurrentDatabase, bfs=False)
    for node in list(nodes):
        if isinstance(node, exp.CurrentCatalog):
            node.replace(exp.Placeholder(this=CURRENT_CATALOG))
            bindings[CURRENT_CATALOG] = Binding(CURRENT_CATALOG)
            continue
        if isinstance(node, (exp.CurrentSchema, exp.CurrentDatabase)):
            node.replace(exp.Placeholder(this=CURRENT_SCHEMA))
            bindings[CURRENT_SCHEMA] = Binding(CURRENT_SCHEMA)
            continue
        name = node.args.get("this")
        if name in (ANSI_MODE, SESSION_IN_UTC):
            continue
        if name:
            kind = named.get(name.lower())
            if kind is None:
                raise errors.unbound_parameter(name)
            duckdb_name = "p_" + name.lower()
            binding = Binding(duckdb_name, parameter_name=name.lower())
        else:
            if position >= len(positional):
                raise errors.unbound_parameter(f"_{position + 1}")
            kind = positional[position]
            duckdb_name = f"p{position + 1}"
            binding = Binding(duckdb_name, position=position)
            position += 1
        bindings[duckdb_name] = binding
        placeholder = exp.Placeholder(this=duckdb_name)
        target = _duckdb_type(kind)
        node.replace(exp.Cast(this=placeholder, to=target.copy()) if target is not None else placeholder)
    return tuple(bindings.values())


def _name_parameter_columns(select: exp.Select) -> None:
    for projection in select.expressions:
        if isinstance(projection, exp.Alias) and projection.alias == PARAMETER_COLUMN_PREFIX:
            placeholder = projection.this.this if isinstance(projection.this, exp.Cast) else projection.this
            name = PARAMETER_COLUMN_PREFIX + str(placeholder.args.get("this") or "")
            projection.set("alias", exp.to_identifier(name, quoted=True))


def _name_projections(select: exp.Select) -> None:
    """Give unnamed result columns the names Databricks would (DuckDB names them after its own rewrite): function
    names in lower case, ``count(*)`` as ``count(1)``."""
    projections = []
    changed = False
    for projection in select.expressions:
        if isinstance(projection, (exp.Alias, exp.Column, exp.Star)) or not isinstance(projection, exp.Expression):
            projections.append(projection)
            continue
        if isinstance(projection, exp.Literal) and projection.is_string:
            name = projection.this
        elif isinstance(projection, exp.Placeholder):
            name = PARAMETER_COLUMN_PREFIX
        elif isinstance(projection, exp.Count) and isinstance(projection.this, exp.Star):
            name = "count(1)"
        else:
            name = projection.sql(dialect="databricks", normalize_functions="lower")
        projections.append(exp.alias_(projection, exp.to_identifier(name, quoted=True)))
        changed = True
    if changed:
        select.set("expressions", projections)
