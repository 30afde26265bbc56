"""Databricks SQL types for DuckDB result columns, and how their values travel over the wire.

Each DuckDB type maps to a :class:`SqlType` that knows its Databricks names (``type_name`` as the Statement
Execution API reports it, ``type_text`` as SQL spells it), its Thrift ``TTypeId`` and Thrift column field,
and how a value renders as text (JSON_ARRAY results and Thrift string columns carry text).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import functools
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

# Thrift TTypeId values (databricks.sql.thrift_api.TCLIService.ttypes.TTypeId); kept here so that this module
# does not import the connector.
BOOLEAN_TYPE, TINYINT_TYPE, SMALLINT_TYPE, INT_TYPE, BIGINT_TYPE = 0, 1, 2, 3, 4
FLOAT_TYPE, DOUBLE_TYPE, STRING_TYPE, TIMESTAMP_TYPE, BINARY_TYPE = 5, 6, 7, 8, 9
ARRAY_TYPE, MAP_TYPE, STRUCT_TYPE, NULL_TYPE, DECIMAL_TYPE, DATE_TYPE = 10, 11, 12, 16, 15, 17
INTERVAL_DAY_TIME_TYPE = 21


@dataclass(frozen=True)
class SqlType:
    """One Databricks column type."""

    type_name: str
    type_text: str
    thrift_type: int
    thrift_field: str
    precision: int | None = None
    scale: int | None = None

    def render(self, value: Any) -> str | None:
        """The value as Databricks renders it in JSON_ARRAY results (``None`` stays ``None``)."""
        if value is None:
            return None
        return _RENDERERS.get(self.type_name, _render_default)(value)

    def jdbc_type(self) -> int:
        """The ``java.sql.Types`` code, as metadata results report it in ``DATA_TYPE``."""
        return _JDBC_TYPES.get(self.type_name, 1111)


def _render_default(value: Any) -> str:
    return str(value)


def _render_bool(value: Any) -> str:
    return "true" if value else "false"


def _render_float(value: Any) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def _render_decimal(value: Any) -> str:
    return format(value, "f") if isinstance(value, decimal.Decimal) else str(value)


def render_timestamp(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS[.ffffff]`` in UTC (the emulator's session time zone)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    return str(value)


def render_instant(value: Any, zone: datetime.tzinfo) -> str | None:
    """A TIMESTAMP (local time zone) as the Statement Execution API's JSON carries it: ISO 8601 in the session
    time zone with its offset (``2021-09-30T07:27:35.123Z``, ``2021-09-30T09:27:35+02:00``), so clients read an
    aware instant. A naive value is taken as UTC; ``None`` stays ``None``."""
    if value is None:
        return None
    if not isinstance(value, datetime.datetime):
        return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    text = value.astimezone(zone).isoformat(timespec="milliseconds" if value.microsecond % 1000 == 0 else "auto")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _render_date(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def _render_binary(value: Any) -> str:
    return bytes(value).hex()


def _render_interval(value: Any) -> str:
    if not isinstance(value, datetime.timedelta):
        return str(value)
    total_micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if total_micros < 0 else ""
    total_micros = abs(total_micros)
    seconds, micros = divmod(total_micros, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{sign}{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}000"


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, datetime.datetime):
        return render_timestamp(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime.timedelta):
        return _render_interval(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _render_complex(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_json_default, ensure_ascii=False)


_RENDERERS: dict[str, Callable[[Any], str]] = {
    "BOOLEAN": _render_bool,
    "FLOAT": _render_float,
    "DOUBLE": _render_float,
    "DECIMAL": _render_decimal,
    "TIMESTAMP": render_timestamp,
    "DATE": _render_date,
    "BINARY": _render_binary,
    "INTERVAL": _render_interval,
    "ARRAY": _render_complex,
    "MAP": _render_complex,
    "STRUCT": _render_complex,
}

_JDBC_TYPES = {
    "BOOLEAN": 16,
    "BYTE": -6,
    "SHORT": 5,
    "INT": 4,
    "LONG": -5,
    "FLOAT": 6,
    "DOUBLE": 8,
    "DECIMAL": 3,
    "STRING": 12,
    "DATE": 91,
    "TIMESTAMP": 93,
    "BINARY": -2,
    "ARRAY": 2003,
    "MAP": 2000,
    "STRUCT": 2002,
    "NULL": 0,
    "INTERVAL": 1111,
}

_SIMPLE: dict[str, SqlType] = {}


def _simple(duckdb_ids: tuple[str, ...], sql_type: SqlType) -> None:
    for duckdb_id in duckdb_ids:
        _SIMPLE[duckdb_id] = sql_type


_simple(("boolean",), SqlType("BOOLEAN", "BOOLEAN", BOOLEAN_TYPE, "boolVal"))
_simple(("tinyint",), SqlType("BYTE", "TINYINT", TINYINT_TYPE, "byteVal"))
_simple(("smallint", "utinyint"), SqlType("SHORT", "SMALLINT", SMALLINT_TYPE, "i16Val"))
_simple(("integer", "usmallint"), SqlType("INT", "INT", INT_TYPE, "i32Val"))
_simple(("bigint", "uinteger"), SqlType("LONG", "BIGINT", BIGINT_TYPE, "i64Val"))
_simple(
    ("hugeint", "uhugeint", "ubigint", "varint", "bignum"),
    SqlType("DECIMAL", "DECIMAL(38,0)", DECIMAL_TYPE, "stringVal", 38, 0),
)
_simple(("float",), SqlType("FLOAT", "FLOAT", FLOAT_TYPE, "doubleVal"))
_simple(("double",), SqlType("DOUBLE", "DOUBLE", DOUBLE_TYPE, "doubleVal"))
_simple(("date",), SqlType("DATE", "DATE", DATE_TYPE, "stringVal"))
_simple(("timestamp with time zone",), SqlType("TIMESTAMP", "TIMESTAMP", TIMESTAMP_TYPE, "stringVal"))
_simple(
    ("timestamp", "timestamp_ms", "timestamp_ns", "timestamp_s"),
    SqlType("TIMESTAMP", "TIMESTAMP_NTZ", TIMESTAMP_TYPE, "stringVal"),
)
_simple(("blob",), SqlType("BINARY", "BINARY", BINARY_TYPE, "binaryVal"))
_simple(("interval",), SqlType("INTERVAL", "INTERVAL DAY TO SECOND", INTERVAL_DAY_TIME_TYPE, "stringVal"))
# A warehouse describes a NULL (VOID) column as STRING over Thrift, as the connector's own suite expects.
_simple(("null", '"null"'), SqlType("NULL", "VOID", STRING_TYPE, "stringVal"))

STRING = SqlType("STRING", "STRING", STRING_TYPE, "stringVal")
INT = _SIMPLE["integer"]
BIGINT = _SIMPLE["bigint"]
BOOLEAN = _SIMPLE["boolean"]


def _type_text(duckdb_type: duckdb.DuckDBPyType) -> str:
    return of_duckdb(duckdb_type).type_text


@functools.lru_cache(maxsize=512)
def _of_duckdb_text(text: str) -> SqlType:
    return _convert(duckdb.sqltype(text))


def of_duckdb(duckdb_type: duckdb.DuckDBPyType | str) -> SqlType:
    """The Databricks type of a DuckDB type (a result description's type, or a type's SQL text)."""
    return _of_duckdb_text(str(duckdb_type))


def _convert(duckdb_type: duckdb.DuckDBPyType) -> SqlType:
    kind = duckdb_type.id
    simple = _SIMPLE.get(kind)
    if simple is not None:
        return simple
    if kind == "decimal":
        children = dict(duckdb_type.children)
        precision, scale = int(children["precision"]), int(children["scale"])
        return SqlType("DECIMAL", f"DECIMAL({precision},{scale})", DECIMAL_TYPE, "stringVal", precision, scale)
    if kind in ("list", "array"):
        element = duckdb_type.children[0][1]
        return SqlType("ARRAY", f"ARRAY<{_type_text(element)}>", ARRAY_TYPE, "stringVal")
    if kind == "map":
        key, value = (child for _, child in duckdb_type.children)
        return SqlType("MAP", f"MAP<{_type_text(key)}, {_type_text(value)}>", MAP_TYPE, "stringVal")
    if kind == "struct":
        fields = ", ".join(f"{name}: {_type_text(child)}" for name, child in duckdb_type.children)
        return SqlType("STRUCT", f"STRUCT<{fields}>", STRUCT_TYPE, "stringVal")
    return STRING
