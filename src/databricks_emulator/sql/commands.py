"""Databricks commands that neither sqlglot nor DuckDB know: SHOW, SET/RESET, CREATE/DROP CATALOG, and
Delta maintenance commands (OPTIMIZE, VACUUM, ...) which the emulator accepts and ignores.

:func:`parse` recognises them from the statement text before sqlglot sees it, and returns ``None`` for
everything else.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from . import errors

_TOKEN = re.compile(
    r"\s*(?:(`(?:[^`]|``)*`)|('(?:[^'\\]|\\.|'')*')|(\"(?:[^\"\\]|\\.)*\")|([A-Za-z_$][\w$]*|\d[\w$]*)|(\S))"
)
_FIRST_WORDS = re.compile(r"\s*(\w+)(?:\s+(\w+))?")
_KEYWORDS = frozenset({"SHOW", "SET", "RESET", "CREATE", "DROP"})
TIME_ZONE_KEY = "spark.sql.session.timeZone"
_NO_OP_KEYWORDS = frozenset(
    {"OPTIMIZE", "VACUUM", "ANALYZE", "REFRESH", "CACHE", "UNCACHE", "MSCK", "FSCK", "GRANT", "REVOKE", "COMMENT"}
)


@dataclass(frozen=True)
class Show:
    """``SHOW CATALOGS | SCHEMAS | TABLES | COLUMNS`` in any of the forms the connector and users write.

    ``wide`` marks the forms the connector's SEA backend uses for metadata calls (``IN CATALOG x`` and ``IN ALL
    CATALOGS``), which answer with more columns than the plain forms.
    """

    what: str
    catalog: str | None = None
    all_catalogs: bool = False
    wide: bool = False
    namespace: tuple[str, ...] = ()
    table: tuple[str, ...] = ()
    schema_pattern: str | None = None
    table_pattern: str | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class SetConf:
    """``SET``, ``SET key``, ``SET key = value``, ``RESET [key]`` or ``SET TIME ZONE 'zone'`` (key
    :data:`TIME_ZONE_KEY`)."""

    key: str | None = None
    value: str | None = None
    reset: bool = False


@dataclass(frozen=True)
class CatalogDdl:
    """``CREATE CATALOG [IF NOT EXISTS] name`` or ``DROP CATALOG [IF EXISTS] name [CASCADE]``."""

    create: bool
    name: str
    tolerant: bool = False


@dataclass(frozen=True)
class NoOp:
    """A command with nothing to do in the emulator; ``keyword`` is its first word, as history records it."""

    keyword: str


Command = Show | SetConf | CatalogDdl | NoOp


class _Tokens:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, str]] = []
        for found in _TOKEN.finditer(text):
            backtick, single, double, word, other = found.groups()
            if backtick is not None:
                self.items.append(("name", backtick[1:-1].replace("``", "`")))
            elif single is not None:
                self.items.append(("string", _unquote(single)))
            elif double is not None:
                self.items.append(("string", _unquote(double)))
            elif word is not None:
                self.items.append(("word", word))
            elif other != ";":
                self.items.append(("symbol", other))
        self.index = 0

    def peek(self, *words: str) -> bool:
        if self.index + len(words) > len(self.items):
            return False
        return all(
            kind == "word" and value.upper() == word
            for (kind, value), word in zip(self.items[self.index : self.index + len(words)], words, strict=True)
        )

    def accept(self, *words: str) -> bool:
        if self.peek(*words):
            self.index += len(words)
            return True
        return False

    def done(self) -> bool:
        return self.index >= len(self.items)

    def name(self) -> tuple[str, ...]:
        parts = [self._identifier()]
        while self.index < len(self.items) and self.items[self.index] == ("symbol", "."):
            self.index += 1
            parts.append(self._identifier())
        return tuple(parts)

    def _identifier(self) -> str:
        if self.done() or self.items[self.index][0] not in ("name", "word"):
            raise self.error()
        value = self.items[self.index][1]
        self.index += 1
        return value

    def string(self) -> str:
        if self.done() or self.items[self.index][0] != "string":
            raise self.error()
        value = self.items[self.index][1]
        self.index += 1
        return value

    def optional_pattern(self) -> str | None:
        self.accept("LIKE")
        if not self.done() and self.items[self.index][0] == "string":
            return self.string()
        return None

    def rest(self) -> str:
        return " ".join(value for _, value in self.items[self.index :])

    def error(self) -> errors.SqlError:
        near = self.items[self.index][1] if not self.done() else None
        return errors.parse_error(f"'{near}'" if near is not None else "end of input")


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body).replace("''", "'")


def parse(sql: str) -> Command | None:
    """The command ``sql`` is, or None when it is ordinary SQL for the translator."""
    found = _FIRST_WORDS.match(sql)
    if found is None:
        return None
    first = found.group(1).upper()
    if first in _NO_OP_KEYWORDS:
        return NoOp(first)
    if first not in _KEYWORDS:
        return None
    second = (found.group(2) or "").upper()
    if first in ("CREATE", "DROP") and second != "CATALOG":
        return None
    if first == "SHOW" and second not in ("CATALOGS", "SCHEMAS", "DATABASES", "TABLES", "COLUMNS"):
        return None
    tokens = _Tokens(sql)
    if first == "SHOW":
        return _show(tokens)
    if first in ("SET", "RESET"):
        return _set(tokens, sql)
    return _catalog_ddl(tokens)


def _show(tokens: _Tokens) -> Show:
    tokens.accept("SHOW")
    if tokens.accept("CATALOGS"):
        return _finish(tokens, Show("CATALOGS", pattern=tokens.optional_pattern()))
    if tokens.accept("SCHEMAS") or tokens.accept("DATABASES"):
        if tokens.accept("IN", "ALL", "CATALOGS") or tokens.accept("FROM", "ALL", "CATALOGS"):
            return _finish(tokens, Show("SCHEMAS", all_catalogs=True, pattern=tokens.optional_pattern()))
        catalog = None
        if tokens.accept("IN") or tokens.accept("FROM"):
            tokens.accept("CATALOG")
            catalog = tokens.name()[0]
        return _finish(tokens, Show("SCHEMAS", catalog=catalog, pattern=tokens.optional_pattern()))
    if tokens.accept("TABLES"):
        return _show_tables(tokens)
    tokens.accept("COLUMNS")
    return _show_columns(tokens)


def _show_tables(tokens: _Tokens) -> Show:
    if tokens.accept("IN", "ALL", "CATALOGS"):
        show = Show("TABLES", all_catalogs=True, wide=True)
    elif tokens.accept("IN", "CATALOG") or tokens.accept("FROM", "CATALOG"):
        show = Show("TABLES", catalog=tokens.name()[0], wide=True)
    elif tokens.accept("IN") or tokens.accept("FROM"):
        show = Show("TABLES", namespace=tokens.name())
    else:
        show = Show("TABLES")
    schema_pattern = tokens.string() if tokens.accept("SCHEMA", "LIKE") else None
    return _finish(tokens, _with(show, schema_pattern=schema_pattern, pattern=tokens.optional_pattern()))


def _show_columns(tokens: _Tokens) -> Show:
    if tokens.accept("IN", "CATALOG") or tokens.accept("FROM", "CATALOG"):
        show = Show("COLUMNS", catalog=tokens.name()[0], wide=True)
        schema_pattern = tokens.string() if tokens.accept("SCHEMA", "LIKE") else None
        table_pattern = tokens.string() if tokens.accept("TABLE", "LIKE") else None
        show = _with(show, schema_pattern=schema_pattern, table_pattern=table_pattern)
        return _finish(tokens, _with(show, pattern=tokens.optional_pattern()))
    if not (tokens.accept("IN") or tokens.accept("FROM")):
        raise tokens.error()
    table = tokens.name()
    namespace: tuple[str, ...] = ()
    if tokens.accept("IN") or tokens.accept("FROM"):
        namespace = tokens.name()
    return _finish(tokens, Show("COLUMNS", table=namespace + table))


def _with(show: Show, **changes: str | None) -> Show:
    return dataclasses.replace(show, **{key: value for key, value in changes.items() if value is not None})


def _finish(tokens: _Tokens, show: Show) -> Show:
    if not tokens.done():
        raise tokens.error()
    return show


def _set(tokens: _Tokens, sql: str) -> SetConf:
    reset = tokens.accept("RESET")
    tokens.accept("SET")
    if not reset and tokens.accept("TIME", "ZONE"):
        return _time_zone(tokens)
    body = sql.strip().rstrip(";").split(None, 1)
    rest = body[1].strip() if len(body) > 1 else ""
    if not rest:
        return SetConf(reset=reset)
    if "=" in rest and not reset:
        key, value = rest.split("=", 1)
        return SetConf(key=key.strip().strip("`"), value=value.strip().strip("'\""))
    return SetConf(key=rest.strip("`"), reset=reset)


def _time_zone(tokens: _Tokens) -> SetConf:
    if tokens.accept("LOCAL"):
        return SetConf(key=TIME_ZONE_KEY, value="Etc/UTC")
    if tokens.done() or tokens.items[tokens.index][0] != "string":
        raise errors.unsupported("SET TIME ZONE with an interval")
    zone = tokens.string()
    if not tokens.done():
        raise tokens.error()
    return SetConf(key=TIME_ZONE_KEY, value=zone)


def _catalog_ddl(tokens: _Tokens) -> CatalogDdl:
    create = tokens.accept("CREATE")
    if not create:
        tokens.accept("DROP")
    tokens.accept("CATALOG")
    tolerant = tokens.accept("IF", "NOT", "EXISTS") if create else tokens.accept("IF", "EXISTS")
    name = tokens.name()
    if len(name) != 1:
        raise errors.SqlError(
            "INVALID_SCHEMA_OR_RELATION_NAME", "42602", f"{'.'.join(name)} is not a valid catalog name."
        )
    return CatalogDdl(create=create, name=name[0].lower(), tolerant=tolerant)
