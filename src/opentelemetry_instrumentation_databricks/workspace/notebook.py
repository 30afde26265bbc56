"""A span per executed notebook cell, for code running in an IPython kernel (Databricks notebooks, Jupyter).

Usage, in the first cell of a Databricks notebook (or a notebook-scoped init script)::

    from opentelemetry_instrumentation_databricks.workspace.notebook import instrument_notebook

    notebook = instrument_notebook()          # uses the global TracerProvider
    ...                                       # every following cell gets a span "databricks.notebook.cell"
    notebook.uninstrument()                   # optional: stop tracing cells

Each cell span carries what the reconciler needs to find its billing rows (``system.billing.usage`` rows of an
all-purpose cluster carry ``cluster_id`` and ``notebook_id``): ``databricks.cluster.id``,
``databricks.notebook.id``, ``databricks.notebook.path``, ``databricks.notebook.user`` and the cell's own start and
end (the time window). These come from the Databricks notebook context
(``dbutils.notebook.entry_point.getDbutils().notebook().getContext()``) when the kernel runs on Databricks, else
from the ``DB_CLUSTER_ID``/``DATABRICKS_CLUSTER_ID`` and ``DATABRICKS_RUNTIME_VERSION`` environment variables, else
they are left out. Spans made while a cell runs (SQL statements, SDK calls) are children of the cell's span; a cell
that raises gets ``error.type``. The cell's source is never recorded.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode, TracerProvider

from ..attributes import (
    CLUSTER_ID,
    COMPUTE_TYPE,
    NOTEBOOK_CELL,
    NOTEBOOK_ID,
    NOTEBOOK_PATH,
    NOTEBOOK_USER,
    SPAN_NOTEBOOK_CELL,
)
from ..context import current_context
from ..version import __version__

_logger = logging.getLogger(__name__)

CELL_SPAN = SPAN_NOTEBOOK_CELL
_CLUSTER_VARIABLES = ("DB_CLUSTER_ID", "DATABRICKS_CLUSTER_ID")


def _option(value: Any) -> str | None:
    """The value of a Scala ``Option`` (``.isDefined()``/``.get()``) or a plain value, as text."""
    try:
        if hasattr(value, "isDefined"):
            return str(value.get()) if value.isDefined() else None
    except Exception:
        return None
    return None if value is None else str(value)


def databricks_notebook_facts(user_namespace: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Notebook id, path, user and cluster id of the running notebook, from wherever they can be read."""
    facts: dict[str, Any] = {}
    dbutils = user_namespace.get("dbutils")
    if dbutils is not None:
        try:
            notebook_context = dbutils.notebook.entry_point.getDbutils().notebook().getContext()
            for attribute, getter in (
                (NOTEBOOK_ID, "notebookId"),
                (NOTEBOOK_PATH, "notebookPath"),
                (NOTEBOOK_USER, "userName"),
                (CLUSTER_ID, "clusterId"),
            ):
                value = _option(getattr(notebook_context, getter)())
                if value:
                    facts[attribute] = value
        except Exception:  # not on Databricks, or a runtime without this context: fall back to the environment
            _logger.debug("no Databricks notebook context", exc_info=True)
    if CLUSTER_ID not in facts:
        for variable in _CLUSTER_VARIABLES:
            if environ.get(variable):
                facts[CLUSTER_ID] = environ[variable]
                break
    if CLUSTER_ID in facts:
        facts[COMPUTE_TYPE] = "all_purpose"
    return facts


class NotebookInstrumentation:
    """The hooks registered on one IPython shell; :meth:`uninstrument` removes them."""

    def __init__(self, shell: Any, tracer: trace.Tracer, environ: Mapping[str, str]) -> None:
        self.shell = shell
        self._tracer = tracer
        self._environ = environ
        self._facts: dict[str, Any] | None = None
        self._span: trace.Span | None = None
        self._token: object | None = None

    def install(self) -> NotebookInstrumentation:
        self.shell.events.register("pre_run_cell", self._pre_run_cell)
        self.shell.events.register("post_run_cell", self._post_run_cell)
        return self

    def uninstrument(self) -> None:
        for event, callback in (("pre_run_cell", self._pre_run_cell), ("post_run_cell", self._post_run_cell)):
            with contextlib.suppress(ValueError):
                self.shell.events.unregister(event, callback)
        self._end(None)
        if getattr(self.shell, _INSTALLED, None) is self:
            delattr(self.shell, _INSTALLED)

    def _pre_run_cell(self, info: Any = None) -> None:
        try:
            self._end(None)
            if self._facts is None:
                self._facts = databricks_notebook_facts(getattr(self.shell, "user_ns", {}) or {}, self._environ)
            attributes = dict(self._facts)
            attributes.update(current_context().attributes)
            count = getattr(self.shell, "execution_count", None)
            if isinstance(count, int):
                attributes[NOTEBOOK_CELL] = count
            self._span = self._tracer.start_span(CELL_SPAN, attributes=attributes)
            self._token = otel_context.attach(trace.set_span_in_context(self._span))
        except Exception:
            _logger.warning("notebook instrumentation failed before a cell; the cell is unaffected", exc_info=True)

    def _post_run_cell(self, result: Any = None) -> None:
        try:
            error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
            self._end(error)
        except Exception:
            _logger.warning("notebook instrumentation failed after a cell; the cell is unaffected", exc_info=True)

    def _end(self, error: BaseException | None) -> None:
        span, token = self._span, self._token
        self._span = self._token = None
        if token is not None:
            try:
                otel_context.detach(token)
            except Exception:
                _logger.debug("cell context already detached", exc_info=True)
        if span is not None:
            if error is not None:
                error_type = type(error).__qualname__
                span.set_attribute("error.type", error_type)
                span.set_status(Status(StatusCode.ERROR, error_type))
            span.end()


_INSTALLED = "_otel_databricks_notebook"


def instrument_notebook(
    tracer_provider: TracerProvider | None = None, shell: Any = None, environ: Mapping[str, str] | None = None
) -> NotebookInstrumentation | None:
    """Trace every cell of the running IPython kernel (``shell`` defaults to ``get_ipython()``).

    Calling it again on the same shell returns the existing instrumentation. Returns ``None`` (and logs why) when
    there is no IPython shell.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            _logger.warning("instrument_notebook() needs IPython; no cell spans will be made")
            return None
        shell = get_ipython()
        if shell is None:
            _logger.warning("instrument_notebook() found no running IPython shell; no cell spans will be made")
            return None
    existing = getattr(shell, _INSTALLED, None)
    if existing is not None:
        return existing
    tracer = trace.get_tracer(__name__, __version__, tracer_provider)
    instrumentation = NotebookInstrumentation(shell, tracer, os.environ if environ is None else environ).install()
    setattr(shell, _INSTALLED, instrumentation)
    return instrumentation
