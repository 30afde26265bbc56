"""The OpenTelemetry context a wrapped Databricks call runs in: its span is current, HTTP spans are suppressed.

The span stands for the connector's or the SDK's own HTTP traffic, so ``requests``/``urllib3`` instrumentations
make no span of their own inside it. Built in one copy of the caller's context (``set_value`` twice would make two).
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY, Context
from opentelemetry.trace import Span
from opentelemetry.trace.propagation import _SPAN_KEY


def attach_call_context(span: Span, current: Context | None = None) -> object:
    """Make ``span`` current with HTTP instrumentation suppressed; returns the token for ``detach``."""
    if current is None:
        current = otel_context.get_current()
    return otel_context.attach(Context({**current, _SPAN_KEY: span, _SUPPRESS_HTTP_INSTRUMENTATION_KEY: True}))
