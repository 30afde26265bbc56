"""OpenTelemetry instrumentation for Databricks: spans, tags and cost for the SQL connector and the SDK.

Usage
-----

Zero code, with the ``opentelemetry-instrument`` launcher (options come from ``OTEL_INSTRUMENTATION_DATABRICKS_*``
environment variables, see :mod:`.environment_variables`)::

    opentelemetry-instrument --traces_exporter otlp python my_job.py

Programmatically::

    from databricks import sql
    from opentelemetry_instrumentation_databricks import DatabricksInstrumentor, orchestration_context

    DatabricksInstrumentor().instrument(warehouse_sizes={"abc123": "Medium"})

    with orchestration_context(job_name="nightly", run_id="42"):
        with sql.connect(server_hostname=..., http_path=..., access_token=...) as conn:
            with conn.cursor() as cursor:
                cursor.execute("SELECT * FROM main.sales.orders WHERE day = :day", {"day": "2026-11-27"})

Every statement gets a CLIENT span with its Databricks statement id, warehouse, orchestration context and an
estimate of DBUs and dollars; the same ids go into Databricks as query tags, so ``system.query.history`` joins
back to the trace.

Options of ``instrument()``: ``tracer_provider``, ``meter_provider`` and every entry of :data:`.config.OPTIONS`
(``capture_query_text``, ``max_query_text_length``, ``warehouse_sizes``, ``run_poll_spans``...), each also an
``OTEL_INSTRUMENTATION_DATABRICKS_*`` environment variable; ``docs/configuration.md`` lists them all.

With ``databricks-sdk`` installed, every ``WorkspaceClient`` call gets a CLIENT span
``databricks.<service>.<operation>``; job runs, pipeline updates, statements and notebook commands also get a span
of their own when they finish (see :mod:`.workspace`), and code running on Databricks continues the caller's trace
with :func:`.remote.adopt_trace_context`. Inside a notebook, :func:`.workspace.notebook.instrument_notebook` makes a
span per executed cell.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import Collection
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.dependencies import DependencyConflict, get_dependency_conflicts
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from .config import ConfigurationError, Settings
from .context import OrchestrationContext, current_context, load_environment, orchestration_context
from .cost.metrics import CostMetrics
from .cost.warehouse_sizes import WarehouseSizes
from .package import _instruments, _instruments_any
from .version import __version__

_logger = logging.getLogger(__name__)

_SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"

__all__ = [
    "ConfigurationError",
    "DatabricksInstrumentor",
    "OrchestrationContext",
    "current_context",
    "orchestration_context",
]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def _install(patches: Any, library: str) -> Any:
    """Install one library's patches; a library whose internals changed is left alone, with one warning."""
    try:
        patches.install()
    except Exception:
        _logger.warning("Could not instrument the %s; it runs uninstrumented.", library, exc_info=True)
        with contextlib.suppress(Exception):
            patches.uninstall()
        return None
    return patches


class DatabricksInstrumentor(BaseInstrumentor):
    """Instruments ``databricks-sql-connector`` (and, where installed, ``databricks-sdk``)."""

    _sql = None
    _workspace = None
    tracer_provider: Any = None
    """The ``tracer_provider`` given to ``instrument()`` (``None``: the global one)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _check_dependency_conflicts(self) -> DependencyConflict | None:
        return get_dependency_conflicts(_instruments, _instruments_any)

    def _instrument(self, **kwargs: Any) -> None:
        settings = Settings.load(kwargs)
        load_environment()
        tracer = trace.get_tracer(__name__, __version__, kwargs.get("tracer_provider"), schema_url=_SCHEMA_URL)
        cost_metrics = None
        if settings.metrics:
            meter = metrics.get_meter(__name__, __version__, kwargs.get("meter_provider"), schema_url=_SCHEMA_URL)
            cost_metrics = CostMetrics(meter)
        sizes = WarehouseSizes(settings.warehouse_sizes, settings.default_warehouse_size, settings.warehouse_lookup)
        DatabricksInstrumentor.tracer_provider = kwargs.get("tracer_provider")
        if _installed("dagster") or _installed("dagster_pipes"):
            from .dagster.detection import install_detectors

            install_detectors()
        if _installed("databricks.sql"):
            from .sql import SqlPatches

            DatabricksInstrumentor._sql = _install(SqlPatches(tracer, cost_metrics, settings, sizes), "SQL connector")
        if _installed("databricks.sdk"):
            from .workspace import WorkspacePatches, flush_hooks

            DatabricksInstrumentor._workspace = _install(
                WorkspacePatches(tracer, cost_metrics, settings, sizes), "databricks-sdk"
            )
            if DatabricksInstrumentor._workspace is not None:
                try:
                    flush_hooks.install()
                except Exception:
                    _logger.warning(
                        "Could not hook TracerProvider.force_flush/shutdown; pending pipeline update spans are "
                        "still emitted at uninstrument() and at exit.",
                        exc_info=True,
                    )

    def _uninstrument(self, **kwargs: Any) -> None:
        from .dagster.detection import uninstall_detectors

        uninstall_detectors()
        DatabricksInstrumentor.tracer_provider = None
        if DatabricksInstrumentor._sql is not None:
            DatabricksInstrumentor._sql.uninstall()
            DatabricksInstrumentor._sql = None
        if DatabricksInstrumentor._workspace is not None:
            from .workspace import flush_hooks

            DatabricksInstrumentor._workspace.uninstall()
            DatabricksInstrumentor._workspace.tracker.pipeline_end_reads.drain()
            with contextlib.suppress(Exception):
                flush_hooks.uninstall()
            DatabricksInstrumentor._workspace = None
