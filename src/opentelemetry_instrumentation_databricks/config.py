"""One settings object for the instrumentation: keyword arguments > environment variables > defaults.

A bad keyword argument raises :class:`ConfigurationError` naming the option and the fix, at ``instrument()``
time. A bad environment variable (which the user cannot fix from the running process) logs one warning naming
the variable and falls back to the default.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import environment_variables as env
from .cost.rates import (
    DEFAULT_PHOTON_DBU_MULTIPLIER,
    DEFAULT_SERVERLESS_DBU_PER_HOUR,
    DOLLARS_PER_DBU,
    WAREHOUSE_DBU_PER_HOUR,
    WarehouseShape,
    canonical_warehouse_size,
)

_logger = logging.getLogger(__name__)

QUERY_TEXT_MODES = ("sanitized", "raw", "off")
DEFAULT_OPAQUE_ID_TAG_KEY = "dagster_snowflake_opaque_id"
_FORBIDDEN_TAG_KEY_CHARACTERS = frozenset(",:-/=.<>%&\\?")
"""Refused in a key by some carrier of the opaque id: query tags (``,:-/=.``) or cluster, job and pipeline tags
(``<>%&\\?/``, Azure's rules)."""
_MAX_TAG_KEY_LENGTH = 127
DEFAULT_MAX_TRACKED_RUNS = 10_000
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
    node_type_dbu_rates: Mapping[str, float] = field(default_factory=dict)
    dollars_per_dbu: Mapping[str, float] = field(default_factory=lambda: dict(DOLLARS_PER_DBU))
    photon_dbu_multiplier: float = DEFAULT_PHOTON_DBU_MULTIPLIER
    serverless_dbu_per_hour: float = DEFAULT_SERVERLESS_DBU_PER_HOUR
    trace_context_parameters: bool = False
    trace_untracked_runs: bool = False
    max_tracked_runs: int = DEFAULT_MAX_TRACKED_RUNS

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
            node_type_dbu_rates=_resolve(
                options,
                environ,
                "node_type_dbu_rates",
                env.OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES,
                _parse_node_type_rates,
                {},
            ),
            dollars_per_dbu=_resolve(
                options,
                environ,
                "dollars_per_dbu",
                env.OTEL_INSTRUMENTATION_DATABRICKS_DOLLARS_PER_DBU,
                _parse_dollars_per_dbu,
                dict(DOLLARS_PER_DBU),
            ),
            photon_dbu_multiplier=_resolve(
                options,
                environ,
                "photon_dbu_multiplier",
                env.OTEL_INSTRUMENTATION_DATABRICKS_PHOTON_DBU_MULTIPLIER,
                _parse_multiplier,
                DEFAULT_PHOTON_DBU_MULTIPLIER,
            ),
            serverless_dbu_per_hour=_resolve(
                options,
                environ,
                "serverless_dbu_per_hour",
                env.OTEL_INSTRUMENTATION_DATABRICKS_SERVERLESS_DBU_PER_HOUR,
                _parse_dbu_rate,
                DEFAULT_SERVERLESS_DBU_PER_HOUR,
            ),
            trace_context_parameters=_resolve(
                options,
                environ,
                "trace_context_parameters",
                env.OTEL_INSTRUMENTATION_DATABRICKS_TRACE_CONTEXT_PARAMETERS,
                _parse_bool,
                False,
            ),
            trace_untracked_runs=_resolve(
                options,
                environ,
                "trace_untracked_runs",
                env.OTEL_INSTRUMENTATION_DATABRICKS_TRACE_UNTRACKED_RUNS,
                _parse_bool,
                False,
            ),
            max_tracked_runs=_resolve(
                options,
                environ,
                "max_tracked_runs",
                env.OTEL_INSTRUMENTATION_DATABRICKS_MAX_TRACKED_RUNS,
                _parse_run_limit,
                DEFAULT_MAX_TRACKED_RUNS,
            ),
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
        except Exception as exc:  # whatever a parser trips over in a value, the caller gets one error type
            raise ConfigurationError(
                f"DatabricksInstrumentor().instrument({name}={_shown(options[name])}): {_reason(exc)}"
            ) from None
    raw = environ.get(variable)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse(raw)
    except Exception as exc:  # a bad environment variable must never stop the instrumentation from starting
        _logger.warning("Ignoring %s=%s (%s); using the default %r.", variable, _shown(raw), _reason(exc), default)
        return default


def _shown(value: Any) -> str:
    """The value as it is quoted in an error: its repr, cut short when it is long."""
    try:
        text = repr(value)
    except ValueError:  # an integer with more digits than Python will print
        return f"<a {type(value).__name__} too long to print>"
    return text if len(text) <= 200 else f"{text[:200]}... ({len(text)} characters)"


def _reason(error: Exception) -> str:
    if isinstance(error, ValueError):
        return str(error)
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return f"{type(error).__name__}: {error}"


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
    if not key or len(key) > _MAX_TAG_KEY_LENGTH:
        raise ValueError(f"a tag key has 1 to {_MAX_TAG_KEY_LENGTH} characters (the cluster tag limit)")
    bad = sorted(set(key) & _FORBIDDEN_TAG_KEY_CHARACTERS)
    if bad:
        raise ValueError(f"tag keys may not contain {' '.join(bad)}; use letters, digits and _")
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
    except (TypeError, ValueError, OverflowError):
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
    except (TypeError, ValueError, OverflowError):
        raise ValueError("expected a number of dollars per DBU, e.g. 0.70") from None
    if price < 0 or price != price or price == float("inf"):
        raise ValueError("dollars per DBU must be a finite number >= 0")
    return price


def _finite_number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected {what}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"expected {what}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{what} must be a finite number >= 0")
    return number


def _parse_mapping(value: Any, example: str) -> list[tuple[str, Any]]:
    """A dict, a JSON object, or ``key=value`` pairs separated by commas."""
    if isinstance(value, Mapping):
        return [(str(key), entry) for key, entry in value.items()]
    text = str(value).strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg}); expected e.g. {example}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"expected a JSON object, e.g. {example}")
        return [(str(key), entry) for key, entry in loaded.items()]
    items = []
    for entry in text.split(","):
        if not entry.strip():
            continue
        key, sep, number = entry.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"entry {entry.strip()!r} is not <name>=<number>; expected e.g. {example}")
        items.append((key.strip(), number.strip()))
    return items


def _parse_node_type_rates(value: Any) -> dict[str, float]:
    rates = {}
    for node_type, rate in _parse_mapping(value, '{"i3.xlarge": 1.0}'):
        try:
            rates[node_type.strip()] = _finite_number(rate, "DBU per hour")
        except ValueError as exc:
            raise ValueError(f"node type {node_type!r}: {exc}") from None
    return rates


def _parse_dollars_per_dbu(value: Any) -> dict[str, float]:
    prices = dict(DOLLARS_PER_DBU)
    for family, price in _parse_mapping(value, '{"jobs_classic": 0.15, "all_purpose": 0.55}'):
        if family not in DOLLARS_PER_DBU:
            raise ValueError(f"unknown compute family {family!r}; use one of {', '.join(DOLLARS_PER_DBU)}")
        try:
            prices[family] = _finite_number(price, "dollars per DBU")
        except ValueError as exc:
            raise ValueError(f"{family}: {exc}") from None
    return prices


def _parse_multiplier(value: Any) -> float:
    multiplier = _finite_number(value, "a multiplier, e.g. 2.0")
    if multiplier < 1:
        raise ValueError("the Photon DBU multiplier is at least 1 (Photon never costs fewer DBUs per hour)")
    return multiplier


def _parse_dbu_rate(value: Any) -> float:
    return _finite_number(value, "DBU per hour, e.g. 4.0")


def _parse_run_limit(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number of runs, e.g. 10000")
    try:
        limit = int(str(value).strip())
    except ValueError:
        raise ValueError("expected a whole number of runs, e.g. 10000") from None
    if limit < 1:
        raise ValueError("at least 1 run must be tracked")
    return limit
