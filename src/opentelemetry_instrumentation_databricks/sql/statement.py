"""What a SQL statement says about itself: its text without literals, its operation, its table, its summary.

Pure functions; results are cached per distinct statement text in a bounded table (cleared when full), so the
regular expressions run once per distinct statement, not once per call. :class:`QueryAttributes` turns them into
the span attributes both the connector patch and the Statement Execution API handler put on a statement::

    sanitize("SELECT a FROM t WHERE id IN (1, 2, 3, 4, 5) GROUP BY 1 ORDER BY 2 DESC")
    # 'SELECT a FROM t WHERE id IN (?, ?, ?, ...) GROUP BY 1 ORDER BY 2 DESC'

    QueryAttributes("sanitized", max_length=4096).of("SELECT * FROM main.sales.orders WHERE day = '2026-11-27'")
    # {'db.query.summary': 'SELECT main.sales.orders', 'db.collection.name': 'main.sales.orders',
    #  'db.query.text': 'SELECT * FROM main.sales.orders WHERE day = ?'}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.semconv.attributes.db_attributes import DB_COLLECTION_NAME, DB_QUERY_SUMMARY, DB_QUERY_TEXT

from ..attributes import QUERY_TEXT_ORIGINAL_LENGTH

MAX_CACHED_STATEMENTS = 2048
COLLAPSED_LIST_LENGTH = 3
"""Literal lists longer than this are shown as their first placeholders and ``...``: ``IN (?, ?, ?, ...)``."""

_LITERALS = re.compile(
    r"""
      (?P<line_comment>--[^\n]*)
    | (?P<block_comment>/\*.*?(?:\*/|\Z))
    | (?P<identifier>`(?:[^`]|``)*`)
    | (?P<string>[rRxXbB]?'(?:[^'\\]|\\.|'')*\\?(?:'|\Z))
    | (?P<dstring>[rRxXbB]?"(?:[^"\\]|\\.|"")*\\?(?:"|\Z))
    | (?P<dollar>\$\$.*?(?:\$\$|\Z))
    | (?P<number>(?<![\w.$])(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:BD|bd|[lLsSyYdDfF])?)(?![\w]))
    | (?P<by>(?i:\b(?:GROUP|ORDER)\s+BY\b))
    """,
    re.VERBOSE | re.DOTALL,
)
_ORDINAL = re.compile(r"\d+")
_BETWEEN_ORDINALS = re.compile(r"\s*(?:(?:ASC|DESC)(?:\s+NULLS\s+(?:FIRST|LAST))?\s*)?,\s*", re.IGNORECASE)
_LITERAL_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?){" + str(COLLAPSED_LIST_LENGTH) + r",}\s*\)")
_COLLAPSED_LIST = "(" + ", ".join("?" * COLLAPSED_LIST_LENGTH) + ", ...)"
_KEYWORD = re.compile(r"[A-Za-z_]+")
_TABLE = re.compile(
    r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE|MERGE\s+INTO|USING)\s+((?:`(?:[^`]|``)*`|[\w$]+)(?:\s*\.\s*(?:`(?:[^`]|``)*`|[\w$]+))*)",
    re.IGNORECASE,
)
_MAIN_OPERATION = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
_NOT_TABLES = frozenset(("select", "values", "lateral", "unnest"))


@dataclass(frozen=True, slots=True)
class StatementInfo:
    sanitized: str
    operation: str | None
    collection: str | None
    summary: str


def _operation_after_ctes(text: str, position: int) -> str | None:
    """The first main keyword outside parentheses: the operation of ``WITH a AS (...) INSERT ...``."""
    for found in _MAIN_OPERATION.finditer(text, position):
        prefix = text[position : found.start()]
        if prefix.count("(") == prefix.count(")"):
            return found.group().upper()
    return None


def sanitize(text: str) -> str:
    """The statement with every literal (strings, numbers, ``$$`` bodies) replaced by ``?`` and comments removed.

    Positions in ``GROUP BY``/``ORDER BY`` (``GROUP BY 1, 2``) are column references, not literals: they stay.
    A literal list longer than ``COLLAPSED_LIST_LENGTH`` (``IN (?, ?, ?, ?, ?)``) becomes ``(?, ?, ?, ...)``.
    """
    parts: list[str] = []
    position = 0
    ordinals_from = -1
    for match in _LITERALS.finditer(text):
        kind = match.lastgroup
        start, end = match.span()
        parts.append(text[position:start])
        position = end
        if kind == "by":
            parts.append(match.group())
            ordinals_from = end
        elif kind == "identifier":
            parts.append(match.group())
        elif kind in ("line_comment", "block_comment"):
            parts.append(" ")
        elif kind == "number" and ordinals_from >= 0 and _is_next_ordinal(text, ordinals_from, match):
            parts.append(match.group())
            ordinals_from = end
        else:
            parts.append("?")
            ordinals_from = -1
    parts.append(text[position:])
    sanitized = " ".join("".join(parts).split())
    return _LITERAL_LIST.sub(_COLLAPSED_LIST, sanitized) if "?" in sanitized else sanitized


def _is_next_ordinal(text: str, after: int, number: re.Match[str]) -> bool:
    """Whether ``number`` follows ``GROUP BY``/``ORDER BY`` or a previous ordinal, with only a separator between."""
    if not _ORDINAL.fullmatch(number.group()):
        return False
    gap = text[after : number.start()]
    return not gap.strip() or _BETWEEN_ORDINALS.fullmatch(gap) is not None


def describe(text: str) -> StatementInfo:
    sanitized = sanitize(text)
    keyword = _KEYWORD.search(sanitized)
    operation = keyword.group().upper() if keyword else None
    if operation == "WITH":
        operation = _operation_after_ctes(sanitized, keyword.end()) or operation
    tables = [t for t in _TABLE.findall(sanitized) if t.lower() not in _NOT_TABLES]
    collection = tables[0].replace(" ", "") if len(set(tables)) == 1 else None
    if operation is None:
        summary = "databricks"
    elif tables:
        summary = f"{operation} {tables[0].replace(' ', '')}"
    else:
        summary = operation
    return StatementInfo(sanitized, operation, collection, summary)


_cache: dict[str, StatementInfo] = {}


def statement_info(text: str) -> StatementInfo:
    """:func:`describe`, cached."""
    info = _cache.get(text)
    if info is None:
        if len(_cache) >= MAX_CACHED_STATEMENTS:
            _cache.clear()
        info = _cache[text] = describe(text)
    return info


class QueryAttributes:
    """The statement attributes of a SQL text for one ``capture_query_text`` mode and length cap, cached per text.

    ``db.query.summary`` and ``db.collection.name`` always; ``db.query.text`` sanitized (or raw, or not at all),
    cut at ``max_length`` characters, with ``databricks.query.text_original_length`` when it was cut.
    """

    def __init__(self, capture_query_text: str, max_length: int) -> None:
        self._mode = capture_query_text
        self._max_length = max_length
        self._cache: dict[str, tuple[StatementInfo, Mapping[str, Any]]] = {}

    def of(self, text: str) -> Mapping[str, Any]:
        return self.describe(text)[1]

    def describe(self, text: str) -> tuple[StatementInfo, Mapping[str, Any]]:
        """The statement's :class:`StatementInfo` and its attributes (a shared mapping: copy before changing)."""
        found = self._cache.get(text)
        if found is None:
            if len(self._cache) >= MAX_CACHED_STATEMENTS:
                self._cache.clear()
            found = self._cache[text] = self._build(text)
        return found

    def _build(self, text: str) -> tuple[StatementInfo, Mapping[str, Any]]:
        info = statement_info(text)
        attributes: dict[str, Any] = {DB_QUERY_SUMMARY: info.summary}
        if info.collection is not None:
            attributes[DB_COLLECTION_NAME] = info.collection
        shown = info.sanitized if self._mode == "sanitized" else text if self._mode == "raw" else None
        if shown is not None:
            if len(shown) > self._max_length:
                attributes[QUERY_TEXT_ORIGINAL_LENGTH] = len(shown)
                shown = shown[: self._max_length]
            attributes[DB_QUERY_TEXT] = shown
        return info, attributes
