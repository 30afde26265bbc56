"""One settings object for the instrumentation: keyword arguments > environment variables > defaults.

A bad keyword argument raises :class:`ConfigurationError` naming the option and the fix, at ``instrument()``
time. A bad environment variable (which the user cannot fix from the running process) logs one warning naming
the variable and falls back to the default.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import environment_variables as env
from .cost.rates import WAREHOUSE_DBU_PER_HOUR, WarehouseShape, canonical_warehouse_size

_logger = logging.getLogger(__name__)

QUERY_TEXT_MODES = ("sanitized", "raw", "off")
DEFAULT_OPAQUE_ID_TAG_KEY = "dagster_snowflake_opaque_id"
_FORBIDDEN_QUERY_TAG_KEY_CHARACTERS = frozenset(",:-/=.")
_TRUE = frozenset(("true", "1", "yes", "on"))
_FALSE = frozenset(("false", "0", "no", "off"))


class ConfigurationError(ValueError):
    """An option of :class:`DatabricksInstrumentor` has a value it cannot use."""


@dataclass(frozen=True)
class Settings:
    capture_query_text: str = "sanitized"
    inject_tags: bool = True
    opaque_id_tag_key: str = DEFAULT_OPAQUE_ID_TAG_KEY
    warehouse_sizes: Mapping[str, WarehouseShape] = field(default_factory=dict)
    default_warehouse_size: str = "Small"
    warehouse_lookup: bool = False
    sql_dollars_per_dbu: float = 0.70
    metrics: bool = True
    request_hook: Callable[..., Any] | None = None
    response_hook: Callable[..., Any] | None = None

    @classmethod
    def load(cls, options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``instrument()`` keyword arguments and the environment."""
        environ = os.environ if environ is None else environ
        return cls(
            capture_query_text=_resolve(
                options,
                environ,
                "capture_query_text",
                env.OTEL_INSTRUMENTATION_DATABRICKS_CAPTURE_QUERY_TEXT,
                _parse_query_text_mode,
                cls.capture_query_text,
            ),
            inject_tags=_resolve(
                options, environ, "inject_tags", env.OTEL_INSTRUMENTATION_DATABRICKS_INJECT_TAGS, _parse_bool, True
            ),
            opaque_id_tag_key=_resolve(
                options,
                environ,
                "opaque_id_tag_key",
                env.OTEL_INSTRUMENTATION_DATABRICKS_OPAQUE_ID_TAG_KEY,
                _parse_tag_key,
                DEFAULT_OPAQUE_ID_TAG_KEY,
            ),
            warehouse_sizes=_resolve(
                options,
                environ,
                "warehouse_sizes",
                env.OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_SIZES,
                _parse_warehouse_sizes,
                {},
            ),
            default_warehouse_size=_resolve(
                options,
                environ,
                "default_warehouse_size",
                env.OTEL_INSTRUMENTATION_DATABRICKS_DEFAULT_WAREHOUSE_SIZE,
                _parse_size,
                "Small",
            ),
            warehouse_lookup=_resolve(
                options,
                environ,
                "warehouse_lookup",
                env.OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_LOOKUP,
                _parse_bool,
                False,
            ),
            sql_dollars_per_dbu=_resolve(
                options,
                environ,
                "sql_dollars_per_dbu",
                env.OTEL_INSTRUMENTATION_DATABRICKS_SQL_DOLLARS_PER_DBU,
                _parse_price,
                0.70,
            ),
            metrics=_resolve(
                options, environ, "metrics", env.OTEL_INSTRUMENTATION_DATABRICKS_METRICS, _parse_bool, True
            ),
            request_hook=_hook(options, "request_hook"),
            response_hook=_hook(options, "response_hook"),
        )

    def warehouse_shape(self, warehouse_id: str | None) -> WarehouseShape | None:
        return self.warehouse_sizes.get(warehouse_id) if warehouse_id else None


def _resolve(
    options: Mapping[str, Any],
    environ: Mapping[str, str],
    name: str,
    variable: str,
    parse: Callable[[Any], Any],
    default: Any,
) -> Any:
    if options.get(name) is not None:
        try:
            return parse(options[name])
        except ValueError as exc:
            raise ConfigurationError(f"DatabricksInstrumentor().instrument({name}={options[name]!r}): {exc}") from None
    raw = environ.get(variable)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        _logger.warning("Ignoring %s=%r (%s); using the default %r.", variable, raw, exc, default)
        return default


def _hook(options: Mapping[str, Any], name: str) -> Callable[..., Any] | None:
    hook = options.get(name)
    if hook is not None and not callable(hook):
        raise ConfigurationError(
            f"DatabricksInstrumentor().instrument({name}={hook!r}): expected a callable taking (span, cursor, ...)"
        )
    return hook


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false")


def _parse_query_text_mode(value: Any) -> str:
    mode = str(value).strip().lower()
    if mode not in QUERY_TEXT_MODES:
        raise ValueError(f"expected one of {', '.join(QUERY_TEXT_MODES)}")
    return mode


def _parse_tag_key(value: Any) -> str:
    key = str(value).strip()
    if not key or len(key) > 128:
        raise ValueError("a query tag key has 1 to 128 characters")
    bad = sorted(set(key) & _FORBIDDEN_QUERY_TAG_KEY_CHARACTERS)
    if bad:
        raise ValueError(f"query tag keys may not contain {' '.join(bad)}; use letters, digits and _")
    return key


def _parse_size(value: Any) -> str:
    size = canonical_warehouse_size(str(value))
    if size is None:
        raise ValueError(f"unknown SQL warehouse size; use one of {', '.join(WAREHOUSE_DBU_PER_HOUR)}")
    return size


def _parse_shape(value: Any) -> WarehouseShape:
    if isinstance(value, WarehouseShape):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        size, clusters = value
    else:
        size, _, clusters = str(value).partition("*")
        clusters = clusters or 1
    try:
        count = int(clusters)
    except (TypeError, ValueError):
        raise ValueError(f"cluster count {clusters!r} is not a whole number") from None
    if count < 1:
        raise ValueError(f"cluster count {count} must be at least 1")
    return WarehouseShape(_parse_size(size), count)


def _parse_warehouse_sizes(value: Any) -> dict[str, WarehouseShape]:
    if isinstance(value, Mapping):
        items = list(value.items())
    else:
        items = []
        for entry in str(value).split(","):
            if not entry.strip():
                continue
            warehouse_id, sep, shape = entry.partition("=")
            if not sep:
                raise ValueError(f"entry {entry.strip()!r} is not <warehouse id>=<size>[*<clusters>]")
            items.append((warehouse_id, shape))
    sizes = {}
    for warehouse_id, shape in items:
        try:
            sizes[str(warehouse_id).strip()] = _parse_shape(shape)
        except ValueError as exc:
            raise ValueError(f"warehouse {warehouse_id!r}: {exc}") from None
    return sizes


def _parse_price(value: Any) -> float:
    try:
        price = float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number of dollars per DBU, e.g. 0.70") from None
    if price < 0 or price != price or price == float("inf"):
        raise ValueError("dollars per DBU must be a finite number >= 0")
    return price
