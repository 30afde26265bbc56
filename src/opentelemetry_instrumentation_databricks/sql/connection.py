"""Facts about a connector connection that do not change per statement, read once and kept on the connection."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.semconv.attributes.db_attributes import DB_NAMESPACE, DB_SYSTEM_NAME
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT

from ..attributes import COMPUTE_TYPE, SESSION_ID, WAREHOUSE_ID

_FACTS_ATTRIBUTE = "_otel_databricks_facts"
_WAREHOUSE_IN_PATH = re.compile(r"/(?:warehouses|endpoints)/([^/?#]+)")


@dataclass(frozen=True, slots=True)
class ConnectionFacts:
    span_attributes: Mapping[str, Any]
    metric_attributes: Mapping[str, str]
    warehouse_id: str | None
    session_tags: Mapping[str, str | None]
    base_url: str | None
    auth_provider: Any

    def auth_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        self.auth_provider.add_headers(headers)
        return headers


def warehouse_id_of(http_path: str | None) -> str | None:
    """``/sql/1.0/warehouses/<id>`` (or ``/endpoints/<id>``) names a SQL warehouse; other paths name clusters."""
    if not http_path:
        return None
    found = _WAREHOUSE_IN_PATH.search(http_path)
    return found.group(1) if found else None


def parse_query_tags(serialized: str | None) -> dict[str, str | None]:
    """The inverse of the connector's ``serialize_query_tags``: ``k:v,k2,k3:a\\,b`` to a dict."""
    if not serialized:
        return {}
    tags: dict[str, str | None] = {}
    for part in _split_unescaped(serialized, ","):
        if not part:
            continue
        pieces = _split_unescaped(part, ":", maxsplit=1)
        key = pieces[0].replace("\\\\", "\\")
        tags[key] = _unescape(pieces[1]) if len(pieces) > 1 else None
    return tags


def _split_unescaped(text: str, separator: str, maxsplit: int = -1) -> list[str]:
    parts, current, escaped = [], [], False
    for character in text:
        if escaped:
            current.append("\\" + character)
            escaped = False
        elif character == "\\":
            escaped = True
        elif character == separator and maxsplit != 0:
            parts.append("".join(current))
            current = []
            maxsplit -= 1
        else:
            current.append(character)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _endpoint(backend: Any) -> tuple[str | None, int | None, str | None]:
    for name in ("_transport", "_http_client"):
        transport = getattr(backend, name, None)
        host = getattr(transport, "realhost", None) or getattr(transport, "host", None)
        if isinstance(host, str) and host:
            port = getattr(transport, "realport", None) or getattr(transport, "port", None)
            return host, port if isinstance(port, int) else None, getattr(transport, "scheme", None) or "https"
    return None, None, None


def facts_of(connection: Any) -> ConnectionFacts:
    """The connection's facts, computed on first use and then kept on the connection object."""
    facts = connection.__dict__.get(_FACTS_ATTRIBUTE)
    if facts is None:
        facts = _read_facts(connection)
        connection.__dict__[_FACTS_ATTRIBUTE] = facts
    return facts


def _read_facts(connection: Any) -> ConnectionFacts:
    session = connection.session
    host, port, scheme = _endpoint(getattr(session, "backend", None))
    if host is None:
        host = re.sub(r"^https?://", "", str(session.host or "")).rstrip("/") or None
        port = session.port if isinstance(session.port, int) else None
        scheme = "https"
    warehouse_id = warehouse_id_of(session.http_path)
    span_attributes: dict[str, Any] = {DB_SYSTEM_NAME: "databricks"}
    metric_attributes: dict[str, str] = {DB_SYSTEM_NAME: "databricks"}
    if host:
        span_attributes[SERVER_ADDRESS] = host
    if port:
        span_attributes[SERVER_PORT] = port
    if session.catalog or session.schema:
        span_attributes[DB_NAMESPACE] = "|".join(part for part in (session.catalog, session.schema) if part)
    compute_type = "sql_warehouse" if warehouse_id else "all_purpose"
    span_attributes[COMPUTE_TYPE] = metric_attributes[COMPUTE_TYPE] = compute_type
    if warehouse_id:
        span_attributes[WAREHOUSE_ID] = metric_attributes[WAREHOUSE_ID] = warehouse_id
    with contextlib.suppress(Exception):  # an unopened or closed session has no id; the statement still has a span
        span_attributes[SESSION_ID] = connection.get_session_id_hex()
    configuration = session.session_configuration or {}
    session_tags = parse_query_tags(configuration.get("QUERY_TAGS") if isinstance(configuration, Mapping) else None)
    base_url = f"{scheme}://{host}{f':{port}' if port else ''}" if host else None
    return ConnectionFacts(
        span_attributes,
        metric_attributes,
        warehouse_id,
        session_tags,
        base_url,
        getattr(session, "auth_provider", None),
    )
