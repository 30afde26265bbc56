"""An ``opentelemetry-instrument`` configurator that adds the cost-reconciling processor and the span-time id record.

::

    OTEL_PYTHON_CONFIGURATOR=databricks \\
    OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_HOLD_SECONDS=300 \\
    OTEL_INSTRUMENTATION_DATABRICKS_SPAN_RECORD_DIR=/Volumes/main/ops/otel_span_records \\
    DATABRICKS_HOST=https://adb-123.azuredatabricks.net DATABRICKS_WAREHOUSE_ID=abc123 DATABRICKS_TOKEN=... \\
    opentelemetry-instrument --traces_exporter otlp python my_job.py

The configurator is the SDK's default one (what ``opentelemetry-distro`` installs) plus:

* the cost-reconciling processor, unless ``OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE=false``: every exporter's
  ``BatchSpanProcessor`` is wrapped in a :class:`~.processor.CostReconcilingSpanProcessor` whose billing source
  connects with ``DATABRICKS_HOST`` + ``DATABRICKS_HTTP_PATH`` (or ``DATABRICKS_WAREHOUSE_ID``) +
  ``DATABRICKS_TOKEN``, lazily, on its background thread; ``..._RECONCILE_HOLD_SECONDS`` (default 60),
  ``..._RECONCILE_MAX_HELD`` (10000), ``..._RECONCILE_DISCOUNT`` (1.0), ``..._RECONCILE_FLUSH_LOOKUP_SECONDS``
  (0: no last lookup at exit); a value out of range warns and keeps the default (see :data:`RECONCILE_OPTIONS`
and ``docs/configuration.md``). Without a billing warehouse nothing is
  installed (no span is ever held without a source) and one info line names the variables to set;
* ``OTEL_INSTRUMENTATION_DATABRICKS_SPAN_RECORD_DIR=<dir>``: a :class:`~.records.SpanIdRecorder` writing there.

Selecting the configurator (``OTEL_PYTHON_CONFIGURATOR=databricks``) is what opts in. Without that variable the
launcher may still load this configurator (it loads the first one installed): it then behaves as the SDK's default
unless ``OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE=true`` asks for the processor.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk._configuration import _OTelSDKConfigurator
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from ..config import Option, finite_number, parse_bool
from .attributed_cost import QUANTITY_COLUMNS
from .attributed_cost import SETTING_VARIABLE as BILLING_ATTRIBUTED_COST
from .attributed_cost import parse_setting as parse_attributed_cost
from .attribution import MAX_TAG_KEYS, parse_tag_keys
from .wiring import MAX_DISCOUNT, parse_discount

_logger = logging.getLogger(__name__)

CONFIGURATOR = "OTEL_PYTHON_CONFIGURATOR"
RECONCILE = "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE"
RECONCILE_HOLD_SECONDS = "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_HOLD_SECONDS"
RECONCILE_MAX_HELD = "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_MAX_HELD"
RECONCILE_DISCOUNT = "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_DISCOUNT"
RECONCILE_FLUSH_LOOKUP_SECONDS = "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_FLUSH_LOOKUP_SECONDS"
SPAN_RECORD_DIR = "OTEL_INSTRUMENTATION_DATABRICKS_SPAN_RECORD_DIR"
BILLING_TAG_KEYS = "OTEL_INSTRUMENTATION_DATABRICKS_BILLING_TAG_KEYS"


def _parse_seconds(value: Any) -> float:
    return finite_number(value, "a number of seconds >= 0, e.g. 60")


def _parse_held(value: Any) -> int:
    try:
        held = int(str(value).strip())
    except ValueError:
        raise ValueError("expected a whole number of spans, e.g. 10000") from None
    if held < 1:
        raise ValueError("at least 1 span must be holdable")
    return held


def _parse_directory(value: Any) -> str:
    return str(value).strip()


RECONCILE_OPTIONS: tuple[Option, ...] = (
    Option(
        "reconcile",
        RECONCILE,
        None,
        parse_bool,
        "``true``/``false``: install the cost-reconciling processor or not. Unset: on exactly when "
        "``OTEL_PYTHON_CONFIGURATOR=databricks`` selected this configurator. Another value warns and counts as unset.",
        "on when OTEL_PYTHON_CONFIGURATOR=databricks",
    ),
    Option(
        "hold_seconds",
        RECONCILE_HOLD_SECONDS,
        60.0,
        _parse_seconds,
        "How long a span with a reconcile key is held for its billed cost before it is exported with the estimate.",
    ),
    Option(
        "max_held",
        RECONCILE_MAX_HELD,
        10_000,
        _parse_held,
        "How many spans are held at most; when full the oldest is exported at once as ``pending``.",
    ),
    Option(
        "discount",
        RECONCILE_DISCOUNT,
        1.0,
        parse_discount,
        f"Your price as a factor of list price (0.8 = 20% off), in (0, {MAX_DISCOUNT:g}].",
    ),
    Option(
        "flush_lookup_seconds",
        RECONCILE_FLUSH_LOOKUP_SECONDS,
        0.0,
        _parse_seconds,
        "At shutdown, how long one last billing lookup for the held spans may take (0: none, export at once).",
    ),
    Option(
        "span_record_dir",
        SPAN_RECORD_DIR,
        None,
        _parse_directory,
        "A directory (e.g. a Unity Catalog volume) where the span-time id record is written, one file per day.",
        "none",
    ),
    Option(
        "billing_tag_keys",
        BILLING_TAG_KEYS,
        (),
        parse_tag_keys,
        "Comma-separated user tag keys (e.g. ``team,cost_center``, at most "
        f"{MAX_TAG_KEYS}) that billing spans carry as ``databricks.tag.<key>`` and billed metrics as labels: from the "
        "span-time record, else the statement's query tags, else the cluster/job/pipeline ``custom_tags``. Read by "
        "the span-time recorder, the processor and the reconciler.",
        "none",
    ),
    Option(
        "billing_attributed_cost",
        BILLING_ATTRIBUTED_COST,
        "auto",
        parse_attributed_cost,
        "``auto``: the reconciler puts Databricks' own per-statement figure from ``system.billing.attributed_cost`` "
        "(Beta) beside its apportioned one on statement billing spans, when the table is readable; ``off``; or the "
        "name of the table's quantity column, when it is none of "
        + ", ".join(f"``{column}``" for column in QUANTITY_COLUMNS)
        + ".",
    ),
)
"""The configurator's environment variables. Every one is read the same way: a bad value logs one warning naming
the variable and uses the default, so a typo never leaves the launcher without tracing or metrics."""


def reconcile_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """Each option's value from ``environ``, or its default (with a warning) when the value is unusable."""
    return {option.name: option.from_environment(environ) for option in RECONCILE_OPTIONS}


def reconcile_enabled(environ: Mapping[str, str]) -> bool:
    """``OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE`` when set to a boolean; otherwise on exactly when the user
    selected this configurator (``OTEL_PYTHON_CONFIGURATOR=databricks``), not when the launcher merely found it."""
    return _enabled(reconcile_settings(environ)["reconcile"], environ)


def _enabled(switch: bool | None, environ: Mapping[str, str]) -> bool:
    if switch is not None:
        return switch
    return environ.get(CONFIGURATOR, "").strip() == "databricks"


def configuration_kwargs(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``_initialize_components`` keyword arguments our environment variables ask for (empty when off)."""
    environ = os.environ if environ is None else environ
    settings = reconcile_settings(environ)
    kwargs: dict[str, Any] = {}
    if settings["span_record_dir"]:
        from .records import SpanIdRecorder

        kwargs["span_processors"] = [SpanIdRecorder(settings["span_record_dir"], settings["billing_tag_keys"])]
    if not _enabled(settings["reconcile"], environ):
        return kwargs
    from .wiring import billing_warehouse, connection_factory

    if billing_warehouse(None, None, None, None, environ) is None:
        _logger.warning(
            "Databricks cost reconciliation is not installed: no billing warehouse is configured. Set "
            "DATABRICKS_HOST, DATABRICKS_HTTP_PATH (or DATABRICKS_WAREHOUSE_ID) and DATABRICKS_TOKEN to install it, "
            "or %s=false to opt out.",
            RECONCILE,
        )
        return kwargs
    from .processor import CostReconcilingSpanProcessor
    from .source import SqlBillingSource

    source = SqlBillingSource(
        connection_factory(None, None, None, None, environ),
        discount=settings["discount"],
        tag_keys=settings["billing_tag_keys"],
    )
    hold, max_held, flush_lookup = settings["hold_seconds"], settings["max_held"], settings["flush_lookup_seconds"]

    def export_span_processor(exporter: SpanExporter) -> CostReconcilingSpanProcessor:
        return CostReconcilingSpanProcessor(
            BatchSpanProcessor(exporter),
            source=source,
            hold_seconds=hold,
            max_held=max_held,
            flush_lookup_seconds=flush_lookup,
        )

    kwargs["export_span_processor"] = export_span_processor
    return kwargs


class DatabricksConfigurator(_OTelSDKConfigurator):
    """The SDK configurator plus the processors our environment variables enable (entry point ``databricks``)."""

    def _configure(self, **kwargs: Any) -> None:
        extra = configuration_kwargs()
        if "span_processors" in extra and kwargs.get("span_processors"):
            extra["span_processors"] = [*kwargs["span_processors"], *extra["span_processors"]]
        super()._configure(**{**kwargs, **extra})
