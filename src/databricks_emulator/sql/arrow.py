"""Result rows as Apache Arrow, typed as a Databricks SQL warehouse types them.

A client that can read Arrow (the connector with pyarrow installed, an ``ARROW_STREAM`` request) gets
decimals as ``decimal128``, timestamps as ``timestamp[us, tz=<session time zone>]`` (``TIMESTAMP_NTZ`` without a
zone), dates as ``date32`` and arrays, maps and structs as Arrow lists, maps and structs, each only when it asks
for them (:class:`ArrowOptions`); otherwise those columns travel as strings, rendered as in ``JSON_ARRAY``
results. Intervals are always strings, as Databricks sends them to this connector.

pyarrow is imported on first use, so the emulator still runs, column tables only, where it is absent::

    if arrow.available():
        table = arrow.table(result.columns, result.rows, ArrowOptions(time_zone="Europe/Amsterdam"))
        stream = arrow.stream_bytes(table)
"""

from __future__ import annotations

import functools
import importlib
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .datatypes import SqlType
from .engine import Column

UTC = "Etc/UTC"
_TIME_ZONE_KEYS = ("spark.sql.session.timezone", "timezone", "time zone", "time_zone")


@dataclass(frozen=True)
class ArrowOptions:
    """Which Databricks types travel as native Arrow types (the connector's ``TSparkArrowTypes``)."""

    native_decimals: bool = True
    native_timestamps: bool = True
    native_complex_types: bool = True
    time_zone: str = UTC


@functools.cache
def _pyarrow() -> Any:
    try:
        return importlib.import_module("pyarrow")
    except ImportError:
        return None


def available() -> bool:
    """True when pyarrow is installed, so Arrow results can be served."""
    return _pyarrow() is not None


def session_time_zone(*confs: Mapping[str, str] | None) -> str:
    """The session time zone from ``SET TIME ZONE`` / ``spark.sql.session.timeZone`` / a ``timezone`` session
    configuration (first found, keys compared case-insensitively), ``Etc/UTC`` when unset or not a known zone."""
    for conf in confs:
        for key, value in (conf or {}).items():
            if str(key).lower() in _TIME_ZONE_KEYS and value:
                return _known_zone(str(value).strip().strip("'\""))
    return UTC


@functools.lru_cache(maxsize=64)
def _known_zone(name: str) -> str:
    if name.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC
    return name


def _split_top_level(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]


_PRIMITIVES = {
    "BOOLEAN": "bool_",
    "TINYINT": "int8",
    "SMALLINT": "int16",
    "INT": "int32",
    "BIGINT": "int64",
    "FLOAT": "float32",
    "DOUBLE": "float64",
    "STRING": "string",
    "BINARY": "binary",
    "DATE": "date32",
    "VOID": "null",
}


def _type_of_text(pa: Any, text: str, options: ArrowOptions, nested: bool) -> Any:
    upper = text.upper()
    if upper in _PRIMITIVES:
        return getattr(pa, _PRIMITIVES[upper])()
    if upper.startswith("DECIMAL"):
        if not (options.native_decimals or nested):
            return pa.string()
        precision, scale = (int(part) for part in text[text.index("(") + 1 : text.rindex(")")].split(","))
        return pa.decimal128(precision, scale)
    if upper in ("TIMESTAMP", "TIMESTAMP_NTZ"):
        if not (options.native_timestamps or nested):
            return pa.string()
        return pa.timestamp("us", tz=options.time_zone if upper == "TIMESTAMP" else None)
    kind = upper.split("<", 1)[0]
    if kind in ("ARRAY", "MAP", "STRUCT") and not nested and not options.native_complex_types:
        return pa.string()
    inner = text[text.index("<") + 1 : text.rindex(">")] if "<" in text else ""
    if kind == "ARRAY":
        return pa.list_(_type_of_text(pa, inner, options, True))
    if kind == "MAP":
        key, value = _split_top_level(inner)
        return pa.map_(_type_of_text(pa, key, options, True), _type_of_text(pa, value, options, True))
    if kind == "STRUCT":
        fields = []
        for part in _split_top_level(inner):
            name, _, field_type = part.partition(": ")
            fields.append(pa.field(name, _type_of_text(pa, field_type, options, True)))
        return pa.struct(fields)
    return pa.string()


def arrow_type(sql_type: SqlType, options: ArrowOptions) -> Any:
    """The Arrow type a column of ``sql_type`` travels as."""
    return _type_of_text(_pyarrow(), sql_type.type_text, options, False)


def schema(columns: Sequence[Column], options: ArrowOptions) -> Any:
    """The Arrow schema of a result; each field keeps its Databricks type in ``Spark:DataType:SqlName``."""
    pa = _pyarrow()
    return pa.schema(
        [
            pa.field(
                column.name,
                arrow_type(column.sql_type, options),
                metadata={"Spark:DataType:SqlName": column.sql_type.type_text},
            )
            for column in columns
        ]
    )


def _nested_value(pa_type: Any, value: Any, pa: Any) -> Any:
    if value is None:
        return None
    if pa.types.is_map(pa_type):
        items = value.items() if isinstance(value, Mapping) else zip(value["key"], value["value"], strict=True)
        return [(_nested_value(pa_type.key_type, k, pa), _nested_value(pa_type.item_type, v, pa)) for k, v in items]
    if pa.types.is_list(pa_type):
        return [_nested_value(pa_type.value_type, item, pa) for item in value]
    if pa.types.is_struct(pa_type):
        return {
            field.name: _nested_value(field.type, value.get(field.name), pa) for field in pa_type if field.name in value
        }
    return value


def _array(pa: Any, sql_type: SqlType, pa_type: Any, values: Sequence[Any]) -> Any:
    if pa.types.is_string(pa_type) and sql_type.type_name != "STRING":
        return pa.array([sql_type.render(value) for value in values], pa_type)
    if pa.types.is_map(pa_type) or pa.types.is_list(pa_type) or pa.types.is_struct(pa_type):
        return pa.array([_nested_value(pa_type, value, pa) for value in values], pa_type)
    if pa.types.is_string(pa_type):
        return pa.array([None if value is None else str(value) for value in values], pa_type)
    return pa.array(values, pa_type)


def table(columns: Sequence[Column], rows: Sequence[tuple], options: ArrowOptions) -> Any:
    """The rows as one Arrow table of :func:`schema`."""
    pa = _pyarrow()
    result_schema = schema(columns, options)
    by_column = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    arrays = [
        _array(pa, column.sql_type, field.type, values)
        for column, field, values in zip(columns, result_schema, by_column, strict=True)
    ]
    return pa.Table.from_arrays(arrays, schema=result_schema)


def schema_bytes(arrow_schema: Any) -> bytes:
    """The schema as one encapsulated IPC message (Thrift's ``arrowSchema``)."""
    return arrow_schema.serialize().to_pybytes()


def batch_bytes(arrow_table: Any) -> bytes:
    """The rows of a table (one record batch) as an IPC message without the schema (a ``TSparkArrowBatch``)."""
    batches = arrow_table.combine_chunks().to_batches()
    if not batches:
        return b""
    return batches[0].serialize().to_pybytes()


def stream_bytes(arrow_table: Any) -> bytes:
    """A whole Arrow IPC stream, schema first (a cloud-fetch file, an ``ARROW_STREAM`` attachment)."""
    pa = _pyarrow()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, arrow_table.schema) as writer:
        writer.write_table(arrow_table)
    return sink.getvalue().to_pybytes()


def lz4_frame(data: bytes) -> bytes:
    """``data`` as one LZ4 frame, as the connector decompresses it (``lz4.frame``)."""
    import lz4.frame

    return lz4.frame.compress(data)
