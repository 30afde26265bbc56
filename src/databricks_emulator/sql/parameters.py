"""Statement parameters as both protocols carry them, with the Databricks type each one binds as.

A Thrift ``TSparkParameter`` names its type (``INT``, ``DECIMAL(6,2)``, ``TIMESTAMP``...) and carries its value as
text; an ``ARRAY`` or ``MAP`` carries no value but a list of typed arguments (a map's alternate key, value, key,
value...), nested to any depth. :func:`from_thrift` turns one into a :class:`Parameter` whose ``type`` is the full
Databricks type (``MAP<STRING, ARRAY<INT>>``, derived from the arguments the way Databricks derives it for
``array(...)`` and ``map(...)``) and whose ``value`` is a tree DuckDB binds and casts to that type::

    parameter = from_thrift(request.parameters[0])
    parameter.type   # 'ARRAY<INT>'
    parameter.value  # ['1', '2', '3']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import errors

_INTEGERS = ("TINYINT", "SMALLINT", "INT", "BIGINT")
_FRACTIONAL = ("FLOAT", "DOUBLE")
_DECIMAL = re.compile(r"DECIMAL\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$", re.IGNORECASE)
_INTEGER_DIGITS = {"TINYINT": 3, "SMALLINT": 5, "INT": 10, "BIGINT": 20}
_ALIASES = {"INTEGER": "INT", "LONG": "BIGINT", "SHORT": "SMALLINT", "BYTE": "TINYINT", "REAL": "FLOAT"}


@dataclass(frozen=True)
class Parameter:
    """A statement parameter: a name (None for ``?``), a Databricks type, a value.

    ``value`` is the value's text, ``None`` for NULL, a list of values for an ``ARRAY<...>`` parameter or
    ``{"key": [...], "value": [...]}`` for a ``MAP<...>`` one (the form DuckDB binds as a map).
    """

    name: str | None
    type: str = "STRING"
    value: Any = None

    def bound(self) -> Any:
        """The value as DuckDB binds it before the cast to the parameter's type (interval text rewritten)."""
        if isinstance(self.value, str) and self.type.strip().upper().startswith("INTERVAL"):
            return interval_text(self.type, self.value)
        return self.value


def from_thrift(parameter: Any) -> Parameter:
    """The :class:`Parameter` a Thrift ``TSparkParameter`` stands for; raises :class:`errors.SqlError` if unusable."""
    name = parameter.name or None
    kind = (parameter.type or "STRING").strip()
    if parameter.arguments is not None or kind.upper() in ("ARRAY", "MAP"):
        sql_type, value = _complex(kind, parameter.arguments or ())
        return Parameter(name, sql_type, value)
    value = parameter.value
    if value is None:
        return Parameter(name, kind, None)
    if value.stringValue is not None:
        return Parameter(name, kind, value.stringValue)
    if value.booleanValue is not None:
        return Parameter(name, kind, "true" if value.booleanValue else "false")
    if value.doubleValue is not None:
        return Parameter(name, kind, repr(value.doubleValue))
    return Parameter(name, kind, None)


def _argument(argument: Any) -> tuple[str, Any]:
    kind = (argument.type or "STRING").strip()
    if argument.arguments is not None or kind.upper() in ("ARRAY", "MAP"):
        return _complex(kind, argument.arguments or ())
    if kind.upper() in ("VOID", "NULL") or argument.value is None or argument.value == "None":
        return "VOID", None
    return kind, argument.value


def _complex(kind: str, arguments: Sequence[Any]) -> tuple[str, Any]:
    items = [_argument(argument) for argument in arguments]
    upper = kind.upper()
    if upper == "ARRAY":
        return f"ARRAY<{common_type([sql_type for sql_type, _ in items])}>", [value for _, value in items]
    if upper == "MAP":
        if len(items) % 2:
            raise errors.SqlError(
                "INVALID_PARAMETER_VALUE", "22023", "A MAP parameter needs a value for every key (an even count)."
            )
        keys, values = items[0::2], items[1::2]
        if any(value is None for _, value in keys):
            raise errors.SqlError("NULL_MAP_KEY", "2200E", "Cannot use null as map key.")
        key_type = common_type([sql_type for sql_type, _ in keys])
        value_type = common_type([sql_type for sql_type, _ in values])
        return f"MAP<{key_type}, {value_type}>", {"key": [v for _, v in keys], "value": [v for _, v in values]}
    raise errors.unsupported(f"{kind} parameters with arguments")


def common_type(types: Sequence[str]) -> str:
    """The type Databricks gives ``array(...)`` elements of ``types``: the widest number, else the one type.

    NULL elements (``VOID``) take the others' type; with none at all, ``STRING`` (what an empty array is compared
    as). Types that do not widen into each other are compared as ``STRING``.
    """
    known = [_normal(sql_type) for sql_type in types if _normal(sql_type) not in ("VOID", "NULL")]
    if not known:
        return "STRING"
    if all(sql_type == known[0] for sql_type in known):
        return known[0]
    if all(_numeric(sql_type) for sql_type in known):
        if any(sql_type in _FRACTIONAL for sql_type in known):
            return "DOUBLE"
        decimals = [_DECIMAL.match(sql_type) for sql_type in known]
        if any(decimals):
            scale = max(int(found.group(2)) for found in decimals if found)
            digits = max(
                int(found.group(1)) - int(found.group(2)) if found else _INTEGER_DIGITS[sql_type]
                for sql_type, found in zip(known, decimals, strict=True)
            )
            return f"DECIMAL({min(38, digits + scale)},{scale})"
        return max(known, key=_INTEGERS.index)
    if {sql_type.split("<", 1)[0] for sql_type in known} <= {"TIMESTAMP", "TIMESTAMP_NTZ", "DATE"}:
        return "TIMESTAMP" if "TIMESTAMP" in known else "TIMESTAMP_NTZ"
    return "STRING"


_INTERVAL_LITERAL = re.compile(r"\s*INTERVAL\s+'([^']*)'\s*(.*)$", re.IGNORECASE | re.DOTALL)
_YEAR_MONTH = re.compile(r"([+-])?(\d+)-(\d+)$")
_DAY_TIME = re.compile(r"([+-])?(?:(\d+)\s+)?(\d+):(\d+)(?::(\d+(?:\.\d*)?))?$")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?$")
_UNITS = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND")


def interval_text(kind: str, text: str) -> str:
    """Spark interval text (``'1 02:03:04'``, ``'2-3'``, ``INTERVAL '3' DAY``, or a number of the type's unit) as
    DuckDB reads it (``1 days 02:03:04``, ``2 years 3 months``, ``3 days``); other text is left as it is."""
    units = kind
    found = _INTERVAL_LITERAL.match(text)
    if found is not None:
        text, units = found.group(1), found.group(2) or kind
    text = text.strip()
    year_month = _YEAR_MONTH.match(text)
    if year_month is not None:
        sign = "-" if year_month.group(1) == "-" else ""
        return f"{sign}{year_month.group(2)} years {sign}{year_month.group(3)} months"
    day_time = _DAY_TIME.match(text)
    if day_time is not None:
        sign = "-" if day_time.group(1) == "-" else ""
        days, hours, minutes, seconds = day_time.group(2) or "0", *day_time.group(3, 4), day_time.group(5) or "0"
        return f"{sign}{days} days {sign}{hours}:{minutes}:{seconds}"
    if _NUMBER.match(text):
        unit = next((word for word in re.findall(r"[A-Za-z]+", units.upper()) if word in _UNITS), "SECOND")
        return f"{text} {unit.lower()}s"
    return text


def _normal(sql_type: str) -> str:
    upper = re.sub(r"\s+", " ", sql_type.strip().upper())
    return _ALIASES.get(upper, upper)


def _numeric(sql_type: str) -> bool:
    return sql_type in _INTEGERS or sql_type in _FRACTIONAL or _DECIMAL.match(sql_type) is not None
