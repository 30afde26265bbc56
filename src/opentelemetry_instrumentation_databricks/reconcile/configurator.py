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
  (0: no last lookup at exit). Without a billing warehouse nothing is
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

_logger = logging.getLogger(__name__)

CONFIGURATOR = "OTEL_PYTHON_CONFIGURATOR"
RECONCILE = "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE"
RECONCILE_HOLD_SECONDS = "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_HOLD_SECONDS"
RECONCILE_MAX_HELD = "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_MAX_HELD"
RECONCILE_DISCOUNT = "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_DISCOUNT"
RECONCILE_FLUSH_LOOKUP_SECONDS = "OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE_FLUSH_LOOKUP_SECONDS"
SPAN_RECORD_DIR = "OTEL_INSTRUMENTATION_DATABRICKS_SPAN_RECORD_DIR"


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(environ.get(name, default))
    except ValueError:
        _logger.warning("%s=%r is not a number; using %s", name, environ.get(name), default)
        return default


def reconcile_enabled(environ: Mapping[str, str]) -> bool:
    """``OTEL_INSTRUMENTATION_DATABRICKS_RECONCILE`` when set; otherwise on exactly when the user selected this
    configurator (``OTEL_PYTHON_CONFIGURATOR=databricks``), not when the launcher merely found it first."""
    value = environ.get(RECONCILE, "").strip().lower()
    if value:
        return value not in ("false", "0", "no", "off")
    return environ.get(CONFIGURATOR, "").strip() == "databricks"


def configuration_kwargs(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``_initialize_components`` keyword arguments our environment variables ask for (empty when off)."""
    environ = os.environ if environ is None else environ
    kwargs: dict[str, Any] = {}
    if environ.get(SPAN_RECORD_DIR):
        from .records import SpanIdRecorder

        kwargs["span_processors"] = [SpanIdRecorder(environ[SPAN_RECORD_DIR])]
    if not reconcile_enabled(environ):
        return kwargs
    from .cli import billing_warehouse, connection_factory

    if billing_warehouse(None, None, None, None, environ) is None:
        _logger.info(
            "Databricks cost reconciliation is not installed: no billing warehouse is configured. Set "
            "DATABRICKS_HOST, DATABRICKS_HTTP_PATH (or DATABRICKS_WAREHOUSE_ID) and DATABRICKS_TOKEN to install it, "
            "or %s=false to opt out.",
            RECONCILE,
        )
        return kwargs
    from .processor import CostReconcilingSpanProcessor
    from .source import SqlBillingSource

    source = SqlBillingSource(
        connection_factory(None, None, None, None, environ), discount=_number(environ, RECONCILE_DISCOUNT, 1.0)
    )
    hold = _number(environ, RECONCILE_HOLD_SECONDS, 60.0)
    max_held = int(_number(environ, RECONCILE_MAX_HELD, 10_000))
    flush_lookup = _number(environ, RECONCILE_FLUSH_LOOKUP_SECONDS, 0.0)

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
