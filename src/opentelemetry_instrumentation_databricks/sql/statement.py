"""What a SQL statement says about itself: its text without literals, its operation, its table, its summary.

Pure functions; results are cached per distinct statement text in a bounded table (cleared when full), so the
regular expressions run once per distinct statement, not once per call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CACHED_STATEMENTS = 2048

_LITERALS = re.compile(
    r"""
      (?P<line_comment>--[^\n]*)
    | (?P<block_comment>/\*.*?(?:\*/|\Z))
    | (?P<identifier>`(?:[^`]|``)*`)
    | (?P<string>[rRxXbB]?'(?:[^'\\]|\\.|'')*\\?(?:'|\Z))
    | (?P<dstring>[rRxXbB]?"(?:[^"\\]|\\.|"")*\\?(?:"|\Z))
    | (?P<dollar>\$\$.*?(?:\$\$|\Z))
    | (?P<number>(?<![\w.$])(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:BD|bd|[lLsSyYdDfF])?)(?![\w]))
    """,
    re.VERBOSE | re.DOTALL,
)
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


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "identifier":
        return match.group()
    if kind in ("line_comment", "block_comment"):
        return " "
    return "?"


def _operation_after_ctes(text: str, position: int) -> str | None:
    """The first main keyword outside parentheses: the operation of ``WITH a AS (...) INSERT ...``."""
    for found in _MAIN_OPERATION.finditer(text, position):
        prefix = text[position : found.start()]
        if prefix.count("(") == prefix.count(")"):
            return found.group().upper()
    return None


def sanitize(text: str) -> str:
    """The statement with every literal (strings, numbers, ``$$`` bodies) replaced by ``?`` and comments removed."""
    return " ".join(_LITERALS.sub(_replace, text).split())


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
