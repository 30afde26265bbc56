"""One settings object for the instrumentation, loaded from one table of options: kwargs > env vars > defaults.

:data:`OPTIONS` lists every option once: its ``instrument()`` keyword, its environment variable, its default, the
function that validates it and the line that documents it. :meth:`Settings.load` reads them from that table, and
``docs/configuration.md`` is generated from it (``python tools/generate_docs.py``; a test fails when the
committed page is stale). The cost-reconciling configurator's variables have their own table,
:data:`.reconcile.configurator.RECONCILE_OPTIONS`, in the same form.

A bad keyword argument raises :class:`ConfigurationError` naming the option and the fix, at ``instrument()``
time. A bad environment variable (which the user cannot fix from the running process) logs one warning naming
the variable and falls back to the default::

    settings = Settings.load({"warehouse_sizes": {"abc123": "Medium"}})
    settings.warehouse_sizes["abc123"].dbu_per_hour  # 24.0
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
DEFAULT_MAX_QUERY_TEXT_LENGTH = 4096
MIN_QUERY_TEXT_LENGTH = 64
RUN_POLL_SPAN_MODES = ("join", "off", "caller")
_TRUE = frozenset(("true", "1", "yes", "on"))
_FALSE = frozenset(("false", "0", "no", "off"))


class ConfigurationError(ValueError):
    """An option of :class:`DatabricksInstrumentor` has a value it cannot use."""


@dataclass(frozen=True)
class Option:
    """One setting: where it is read from, what it defaults to, how it is checked, what it means."""

    name: str
    """The ``instrument()`` keyword argument and the :class:`Settings` field."""
    variable: str | None
    """The environment variable (``None``: keyword only, e.g. a callable)."""
    default: Any
    parse: Callable[[Any], Any]
    """Returns the value to use, or raises ``ValueError`` whose message says what is expected."""
    doc: str
    shown_default: str | None = None
    """The default as the docs show it, when its ``repr`` would not say it well."""

    def default_value(self) -> Any:
        """A fresh copy of a mutable default, so no two settings share one dict."""
        return dict(self.default) if isinstance(self.default, Mapping) else self.default

    def from_environment(self, environ: Mapping[str, str]) -> Any:
        """The value of the variable, or the default with one warning naming it when the value is unusable."""
        raw = environ.get(self.variable) if self.variable else None
        if raw is None or raw.strip() == "":
            return self.default_value()
        try:
            return self.parse(raw)
        except Exception as exc:  # a bad environment variable must never stop the instrumentation from starting
            default = self.default_value()
            shown = self.shown_default or repr(default)
            _logger.warning(
                "Ignoring %s=%s (%s); using the default, %s.", self.variable, _shown(raw), _reason(exc), shown
            )
            return default


@dataclass(frozen=True)
class Settings:
    """The options in effect; one field per entry of :data:`OPTIONS`, built by :meth:`load`."""

    capture_query_text: str
    max_query_text_length: int
    inject_tags: bool
    opaque_id_tag_key: str
    warehouse_sizes: Mapping[str, WarehouseShape]
    default_warehouse_size: str
    warehouse_lookup: bool
    sql_dollars_per_dbu: float
    metrics: bool
    request_hook: Callable[..., Any] | None
    response_hook: Callable[..., Any] | None
    node_type_dbu_rates: Mapping[str, float]
    dollars_per_dbu: Mapping[str, float]
    photon_dbu_multiplier: float
    serverless_dbu_per_hour: float
    trace_context_parameters: bool
    trace_untracked_runs: bool
    max_tracked_runs: int
    run_poll_spans: str

    @classmethod
    def load(cls, options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``instrument()`` keyword arguments and the environment."""
        environ = os.environ if environ is None else environ
        return cls(**{option.name: _resolve(option, options, environ) for option in OPTIONS})

    def warehouse_shape(self, warehouse_id: str | None) -> WarehouseShape | None:
        return self.warehouse_sizes.get(warehouse_id) if warehouse_id else None


def _resolve(option: Option, options: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    value = options.get(option.name)
    if value is None:
        return option.from_environment(environ)
    try:
        return option.parse(value)
    except Exception as exc:  # whatever a parser trips over in a value, the caller gets one error type
        raise ConfigurationError(
            f"DatabricksInstrumentor().instrument({option.name}={_shown(value)}): {_reason(exc)}"
        ) from None


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


def _parse_hook(value: Any) -> Callable[..., Any]:
    if not callable(value):
        raise ValueError("expected a callable, e.g. def hook(span, cursor, *args): ...")
    return value


def _parse_poll_spans(value: Any) -> str:
    mode = str(value).strip().lower()
    if mode not in RUN_POLL_SPAN_MODES:
        raise ValueError(f"expected one of {', '.join(RUN_POLL_SPAN_MODES)}")
    return mode


def _parse_query_text_length(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number of characters, e.g. {DEFAULT_MAX_QUERY_TEXT_LENGTH}")
    try:
        length = int(str(value).strip())
    except ValueError:
        raise ValueError(f"expected a whole number of characters, e.g. {DEFAULT_MAX_QUERY_TEXT_LENGTH}") from None
    if length < MIN_QUERY_TEXT_LENGTH:
        raise ValueError(f"at least {MIN_QUERY_TEXT_LENGTH} characters, or the text says nothing")
    return length


def parse_bool(value: Any) -> bool:
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


def finite_number(value: Any, what: str) -> float:
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
            rates[node_type.strip()] = finite_number(rate, "DBU per hour")
        except ValueError as exc:
            raise ValueError(f"node type {node_type!r}: {exc}") from None
    return rates


def _parse_dollars_per_dbu(value: Any) -> dict[str, float]:
    prices = dict(DOLLARS_PER_DBU)
    for family, price in _parse_mapping(value, '{"jobs_classic": 0.15, "all_purpose": 0.55}'):
        if family not in DOLLARS_PER_DBU:
            raise ValueError(f"unknown compute family {family!r}; use one of {', '.join(DOLLARS_PER_DBU)}")
        try:
            prices[family] = finite_number(price, "dollars per DBU")
        except ValueError as exc:
            raise ValueError(f"{family}: {exc}") from None
    return prices


def _parse_multiplier(value: Any) -> float:
    multiplier = finite_number(value, "a multiplier, e.g. 2.0")
    if multiplier < 1:
        raise ValueError("the Photon DBU multiplier is at least 1 (Photon never costs fewer DBUs per hour)")
    return multiplier


def _parse_dbu_rate(value: Any) -> float:
    return finite_number(value, "DBU per hour, e.g. 4.0")


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


OPTIONS: tuple[Option, ...] = (
    Option(
        "capture_query_text",
        env.OTEL_INSTRUMENTATION_DATABRICKS_CAPTURE_QUERY_TEXT,
        "sanitized",
        _parse_query_text_mode,
        "``sanitized``: ``db.query.text`` with literals replaced by ``?``, long literal lists collapsed to "
        "``(?, ?, ?, ...)``; ``raw``: the statement as sent (it may hold secrets); ``off``: no text.",
    ),
    Option(
        "max_query_text_length",
        env.OTEL_INSTRUMENTATION_DATABRICKS_MAX_QUERY_TEXT_LENGTH,
        DEFAULT_MAX_QUERY_TEXT_LENGTH,
        _parse_query_text_length,
        f"``db.query.text`` is cut to this many characters (at least {MIN_QUERY_TEXT_LENGTH}); a cut text's span "
        "has ``databricks.query.text_original_length``.",
    ),
    Option(
        "inject_tags",
        env.OTEL_INSTRUMENTATION_DATABRICKS_INJECT_TAGS,
        True,
        parse_bool,
        "Write trace and orchestration ids into Databricks as query, cluster, job and pipeline tags.",
    ),
    Option(
        "opaque_id_tag_key",
        env.OTEL_INSTRUMENTATION_DATABRICKS_OPAQUE_ID_TAG_KEY,
        DEFAULT_OPAQUE_ID_TAG_KEY,
        _parse_tag_key,
        "The tag key that carries the per-statement opaque id (letters, digits and ``_``; at most 127).",
    ),
    Option(
        "warehouse_sizes",
        env.OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_SIZES,
        {},
        _parse_warehouse_sizes,
        'Known warehouse sizes: ``{warehouse_id: "Medium"}`` (``"Medium*2"`` for two clusters); in the '
        "environment ``<warehouse id>=<size>[*<clusters>]`` comma separated, e.g. ``abc123=Medium*2``.",
        "none",
    ),
    Option(
        "default_warehouse_size",
        env.OTEL_INSTRUMENTATION_DATABRICKS_DEFAULT_WAREHOUSE_SIZE,
        "Small",
        _parse_size,
        "The size assumed for a warehouse whose size is neither configured nor looked up.",
    ),
    Option(
        "warehouse_lookup",
        env.OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_LOOKUP,
        False,
        parse_bool,
        "Ask the Warehouses API once per warehouse, in the background, for its size.",
    ),
    Option(
        "sql_dollars_per_dbu",
        env.OTEL_INSTRUMENTATION_DATABRICKS_SQL_DOLLARS_PER_DBU,
        0.70,
        _parse_price,
        "$/DBU for SQL warehouse estimates (0.70 is the AWS list price of serverless SQL).",
    ),
    Option(
        "metrics",
        env.OTEL_INSTRUMENTATION_DATABRICKS_METRICS,
        True,
        parse_bool,
        "Record duration, DBU and cost metrics; ``false`` keeps spans only.",
    ),
    Option(
        "request_hook",
        None,
        None,
        _parse_hook,
        "``request_hook(span, cursor, args, kwargs)``, called before each statement (keyword only).",
    ),
    Option(
        "response_hook",
        None,
        None,
        _parse_hook,
        "``response_hook(span, cursor, error)``, called before each statement span ends (keyword only).",
    ),
    Option(
        "node_type_dbu_rates",
        env.OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES,
        {},
        _parse_node_type_rates,
        "DBU per hour of node types, added to (or replacing entries of) the shipped table: a dict, a JSON object "
        'such as ``{"i3.xlarge": 1.0}`` or ``i3.xlarge=1.0,m5d.large=0.34``.',
        "the shipped table",
    ),
    Option(
        "dollars_per_dbu",
        env.OTEL_INSTRUMENTATION_DATABRICKS_DOLLARS_PER_DBU,
        dict(DOLLARS_PER_DBU),
        _parse_dollars_per_dbu,
        "$/DBU by compute family, overriding AWS list prices: a dict, JSON or ``family=price`` pairs; families "
        + ", ".join(f"``{family}``" for family in DOLLARS_PER_DBU)
        + ".",
        ", ".join(f"{family} {price}" for family, price in DOLLARS_PER_DBU.items()),
    ),
    Option(
        "photon_dbu_multiplier",
        env.OTEL_INSTRUMENTATION_DATABRICKS_PHOTON_DBU_MULTIPLIER,
        DEFAULT_PHOTON_DBU_MULTIPLIER,
        _parse_multiplier,
        "How many times more DBUs per hour a Photon cluster consumes than without Photon (at least 1).",
    ),
    Option(
        "serverless_dbu_per_hour",
        env.OTEL_INSTRUMENTATION_DATABRICKS_SERVERLESS_DBU_PER_HOUR,
        DEFAULT_SERVERLESS_DBU_PER_HOUR,
        _parse_dbu_rate,
        "DBU per hour assumed for a serverless job task or serverless pipeline update (no public figure).",
    ),
    Option(
        "trace_context_parameters",
        env.OTEL_INSTRUMENTATION_DATABRICKS_TRACE_CONTEXT_PARAMETERS,
        False,
        parse_bool,
        "Also pass the W3C ``traceparent`` as a job parameter (``run_now``; the job must define it) and as "
        "notebook ``base_parameters`` / wheel ``named_parameters`` (``submit``). A wheel task with positional "
        "``parameters`` gets none (a positional list has no place for it); it still gets ``TRACEPARENT`` in "
        "its new cluster's ``spark_env_vars``.",
    ),
    Option(
        "trace_untracked_runs",
        env.OTEL_INSTRUMENTATION_DATABRICKS_TRACE_UNTRACKED_RUNS,
        False,
        parse_bool,
        "Emit a span for runs seen finished that this process did not start (e.g. through ``list_runs``).",
    ),
    Option(
        "max_tracked_runs",
        env.OTEL_INSTRUMENTATION_DATABRICKS_MAX_TRACKED_RUNS,
        DEFAULT_MAX_TRACKED_RUNS,
        _parse_run_limit,
        "How many started-but-unfinished runs, updates, statements and commands are remembered.",
    ),
    Option(
        "run_poll_spans",
        env.OTEL_INSTRUMENTATION_DATABRICKS_RUN_POLL_SPANS,
        "join",
        _parse_poll_spans,
        "Spans of ``runs/get`` and ``get_update`` polls (``Wait.result()``) of a run this process tracks, when "
        "the caller has no span: ``join`` puts them in the run's trace under the call that started it; ``off`` "
        "makes none (the run span is still emitted); ``caller`` leaves each poll its own root trace.",
    ),
)
"""Every option of :class:`DatabricksInstrumentor`, in the order the docs list them."""
