"""Readable spans made after the fact: a finished span with more attributes, and the reconciler's billing spans.

An exported span is never mutated: the processor hands the wrapped processor a NEW :class:`ReadableSpan` with the
same trace and span ids, timestamps, events, links, status, resource and scope, and the billed attributes added.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags

from ..attributes import (
    COST_ESTIMATED_USD,
    DBU_ESTIMATED,
)
from .keys import attributes_of

PENDING = "pending"
BILLING = "billing"
BILLING_SPAN = "databricks.billing"


def estimate_error(attributes: Mapping[str, Any], billed_dbu: float, billed_usd: float | None) -> float | None:
    """Relative error of the span's estimate against the billed figure (dollars, else DBUs); ``None`` if unknown."""
    if billed_usd is not None and billed_usd > 0 and isinstance(attributes.get(COST_ESTIMATED_USD), (int, float)):
        return (float(attributes[COST_ESTIMATED_USD]) - billed_usd) / billed_usd
    if billed_dbu > 0 and isinstance(attributes.get(DBU_ESTIMATED), (int, float)):
        return (float(attributes[DBU_ESTIMATED]) - billed_dbu) / billed_dbu
    return None


def with_attributes(span: ReadableSpan, extra: Mapping[str, Any]) -> ReadableSpan:
    """A copy of the finished ``span`` with ``extra`` attributes added (same ids, times, events, links, scope)."""
    original = attributes_of(span)
    attributes = BoundedAttributes(maxlen=None, attributes={**original, **extra}, immutable=True)
    attributes.dropped = getattr(span._attributes, "dropped", 0)
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=span._events,
        links=span._links,
        kind=span.kind,
        instrumentation_info=span._instrumentation_info,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def deterministic_span_id(*parts: object) -> int:
    """A non-zero 64-bit span id derived from ``parts``: re-emitting the same billing delta yields the same span."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def deterministic_trace_id(*parts: object) -> int:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()
    return int.from_bytes(digest, "big") or 1


def billing_span(
    *,
    trace_id: int,
    span_id: int,
    parent_span_id: int | None,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, Any],
    resource: Resource,
    scope: InstrumentationScope,
) -> ReadableSpan:
    """A finished ``databricks.billing`` span, child of ``parent_span_id`` in ``trace_id`` (a root span if none)."""
    flags = TraceFlags(TraceFlags.SAMPLED)
    parent = (
        SpanContext(trace_id, parent_span_id, is_remote=True, trace_flags=flags) if parent_span_id is not None else None
    )
    return ReadableSpan(
        name=BILLING_SPAN,
        context=SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags),
        parent=parent,
        resource=resource,
        attributes=dict(attributes),
        kind=SpanKind.INTERNAL,
        start_time=start_ns,
        end_time=max(end_ns, start_ns),
        instrumentation_scope=scope,
    )
