"""Continue the caller's trace in code that runs ON Databricks (a notebook, a Python or wheel task, a pipeline).

The instrumentation passes the W3C trace context of the call that started the run into it:
``spark_env_vars.TRACEPARENT`` on the new clusters of a submitted run (always, unless the user set that variable),
and, with ``trace_context_parameters=True``, a ``traceparent`` notebook/wheel task parameter (submit) or job
parameter (run-now; define a ``traceparent`` job parameter with an empty default for it). In the code on the
cluster::

    from opentelemetry import trace
    from opentelemetry_instrumentation_databricks.remote import adopt_trace_context

    adopt_trace_context()                      # notebook or script: the rest of the process joins the trace
    with trace.get_tracer("etl").start_as_current_span("transform"):
        ...                                    # a child of the submit/run-now span of the Dagster asset

For a wheel task, pass the parsed parameters (``adopt_trace_context({"traceparent": args.traceparent})``) or
let it read ``--traceparent=...`` from ``sys.argv``. The span that started the run is the parent; the run's own
span (emitted by the caller when the run ends) is a sibling.

Only this module's stdlib and ``opentelemetry-api`` are needed on the cluster.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_logger = logging.getLogger(__name__)

PARAMETER = "traceparent"
ENVIRONMENT_VARIABLE = "TRACEPARENT"
STATE_ENVIRONMENT_VARIABLE = "TRACESTATE"


def _from_arguments(argv: Sequence[str]) -> str | None:
    for index, argument in enumerate(argv):
        if argument.startswith(f"--{PARAMETER}="):
            return argument.split("=", 1)[1]
        if argument == f"--{PARAMETER}" and index + 1 < len(argv):
            return argv[index + 1]
    return None


def _from_widget() -> str | None:
    """A notebook task's ``base_parameters`` arrive as widgets; ``dbutils`` exists only in Databricks notebooks."""
    try:
        import IPython

        shell = IPython.get_ipython()
        dbutils = shell.user_ns.get("dbutils") if shell is not None else None
        return dbutils.widgets.get(PARAMETER) if dbutils is not None else None
    except Exception:
        return None


def find_traceparent(
    parameters: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
) -> str | None:
    """The ``traceparent`` passed into this run: a parameter, ``--traceparent=``, a notebook widget, or the
    ``TRACEPARENT`` environment variable, in that order."""
    if parameters and parameters.get(PARAMETER):
        return str(parameters[PARAMETER])
    found = _from_arguments(sys.argv if argv is None else argv) or _from_widget()
    if found:
        return found
    environ = os.environ if environ is None else environ
    return environ.get(ENVIRONMENT_VARIABLE) or None


def extract_trace_context(
    parameters: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
) -> Context | None:
    """The caller's trace context as an OpenTelemetry ``Context`` (``None`` when nothing valid was passed)."""
    traceparent = find_traceparent(parameters, environ, argv)
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    state = (os.environ if environ is None else environ).get(STATE_ENVIRONMENT_VARIABLE)
    if state:
        carrier["tracestate"] = state
    context = TraceContextTextMapPropagator().extract(carrier)
    if not get_current_span(context).get_span_context().is_valid:
        _logger.warning("Ignoring an invalid traceparent %r passed to this Databricks run.", traceparent)
        return None
    return context


def adopt_trace_context(
    parameters: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
) -> Context | None:
    """Make the caller's trace the current context of this process (from here on); returns it, or ``None``.

    Spans started afterwards without an explicit parent join the caller's trace. To scope it instead, use the
    context of :func:`extract_trace_context` as ``context=`` of ``start_as_current_span``.
    """
    context = extract_trace_context(parameters, environ, argv)
    if context is not None:
        otel_context.attach(context)
    return context
