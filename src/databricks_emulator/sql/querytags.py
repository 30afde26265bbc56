"""Query tags as the two protocols carry them, read back into ``{key: value}``.

Thrift sends ``key:value,key2:value2`` (the connector's ``serialize_query_tags``: ``\\``, ``:`` and ``,``
escaped with a backslash; a key without ``:`` has no value); the Statement Execution API sends
``[{"key": ..., "value": ...}]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MAX_TAGS = 20


def parse_serialized(text: str | None) -> dict[str, str | None]:
    """Tags from the ``k:v,k2:v2`` form; malformed escapes are kept literally."""
    if not text:
        return {}
    tags: dict[str, str | None] = {}
    key: list[str] = []
    value: list[str] | None = None
    escaped = False
    for char in text:
        target = key if value is None else value
        if escaped:
            target.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":" and value is None:
            value = []
        elif char == ",":
            _add(tags, key, value)
            key, value = [], None
        else:
            target.append(char)
    if escaped:
        (key if value is None else value).append("\\")
    _add(tags, key, value)
    return tags


def _add(tags: dict[str, str | None], key: list[str], value: list[str] | None) -> None:
    name = "".join(key).strip()
    if name and len(tags) < MAX_TAGS:
        tags[name] = None if value is None else "".join(value)


def parse_list(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str | None]:
    """Tags from the ``[{"key": ..., "value": ...}]`` form (a blank value counts as no value)."""
    tags: dict[str, str | None] = {}
    for item in items or ():
        key = str(item.get("key") or "").strip()
        if not key or len(tags) >= MAX_TAGS:
            continue
        value = item.get("value")
        tags[key] = None if value is None or not str(value).strip() else str(value)
    return tags


def merge(session_tags: Mapping[str, str | None], statement_tags: Mapping[str, str | None]) -> dict[str, str | None]:
    """Session tags overlaid by statement tags (the statement wins on a shared key)."""
    merged = dict(session_tags)
    merged.update(statement_tags)
    return merged
