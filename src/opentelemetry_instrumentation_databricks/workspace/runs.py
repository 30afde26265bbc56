"""Run-lifetime spans: a job run, pipeline update, statement or notebook command outlives the call that started it.

The starting call records a :class:`StartedRun` (its span context, orchestration context and what it knew) in the
:class:`RunTable`. Whichever later response first shows the run terminal (``runs/get``, ``runs/list``,
``Wait.result()``'s polls, ``get_update``, ``get_statement``, ``commands/status``) claims it and emits ONE span for
it, parent = the starting call's span; every later sighting, from any thread, finds it claimed and emits nothing.

Bounds: at most ``max_tracked_runs`` (default 10,000) started runs wait for their end; when full, the oldest is
dropped (debug log, ``RunTable.dropped`` counts them) and its span is never emitted. The same number of claimed
keys is remembered so that later polls of a finished run stay silent; a run polled again after that many newer
runs have finished is treated as unseen (and, being untracked, is skipped unless ``trace_untracked_runs``).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from ..context import OrchestrationContext
from ..tags import SPAN_ID_TAG, TRACE_ID_TAG

_logger = logging.getLogger(__name__)

RunKey = tuple[str, str]


_NO_FACTS: Mapping[str, Any] = MappingProxyType({})


class StartedRun:
    """What the starting call knew: its span (the future parent), context, start time and handler facts.

    A plain slotted class, not a frozen dataclass: one is built on every call that starts work, and a frozen
    dataclass's ``__init__`` costs about twice as much."""

    __slots__ = ("context", "facts", "parent", "start_ns")

    def __init__(
        self,
        parent: SpanContext,
        context: OrchestrationContext,
        start_ns: int,
        facts: Mapping[str, Any] = _NO_FACTS,
    ) -> None:
        self.parent = parent
        self.context = context
        self.start_ns = start_ns
        self.facts = facts

    def __repr__(self) -> str:
        return f"StartedRun(parent={self.parent!r}, start_ns={self.start_ns}, facts={dict(self.facts)!r})"


class RunTable:
    """Started runs waiting for their terminal state, and recently claimed ones; both bounded, thread-safe.

    ::

        table = RunTable(max_runs=10_000)
        table.start(("job_run", "42"), StartedRun(span_context, context, time_ns()))
        claimed, started = table.claim(("job_run", "42"))   # True, the StartedRun: emit the span
        claimed, started = table.claim(("job_run", "42"))   # False, None: already emitted
    """

    def __init__(self, max_runs: int) -> None:
        self.max_runs = max_runs
        self.dropped = 0
        self._started: OrderedDict[RunKey, StartedRun] = OrderedDict()
        self._claimed: OrderedDict[RunKey, SpanContext | None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._started)

    def start(self, key: RunKey, run: StartedRun) -> None:
        dropped = None
        with self._lock:
            self._claimed.pop(key, None)
            self._started[key] = run
            self._started.move_to_end(key)
            if len(self._started) > self.max_runs:
                dropped, _ = self._started.popitem(last=False)
                self.dropped += 1
        if dropped is not None:
            _logger.debug("run table full (%d): forgot %s %s, its span will not be emitted", self.max_runs, *dropped)

    def claim(self, key: RunKey) -> tuple[bool, StartedRun | None]:
        """``(True, started run or None if unknown)`` the first time, ``(False, None)`` ever after.

        Polls of a run already emitted return at once, without taking the lock."""
        if key in self._claimed:
            return False, None
        with self._lock:
            if key in self._claimed:
                return False, None
            started = self._started.pop(key, None)
            self._claimed[key] = started.parent if started is not None else None
            if len(self._claimed) > self.max_runs:
                self._claimed.popitem(last=False)
            return True, started

    def parent_of(self, key: RunKey) -> SpanContext | None:
        """The span of the call that started a tracked run (running or recently finished), else ``None``."""
        started = self._started.get(key)
        return started.parent if started is not None else self._claimed.get(key)


def parent_from_tags(tags: Mapping[str, Any] | None) -> SpanContext | None:
    """The span context our ``otel_trace_id``/``otel_span_id`` tags point to, when a run carries them."""
    if not isinstance(tags, Mapping):
        return None
    trace_id, span_id = tags.get(TRACE_ID_TAG), tags.get(SPAN_ID_TAG)
    try:
        parent = SpanContext(
            int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
        )
    except (TypeError, ValueError):
        return None
    return parent if parent.is_valid else None


def start_run_span(
    tracer: trace.Tracer, name: str, parent: SpanContext | None, start_ns: int, attributes: Mapping[str, Any]
) -> trace.Span:
    """A span in the trace of ``parent`` (a root span when there is none), started at ``start_ns``."""
    context = trace.set_span_in_context(NonRecordingSpan(parent)) if parent is not None else Context()
    return tracer.start_span(name, context=context, kind=SpanKind.INTERNAL, attributes=attributes, start_time=start_ns)


def end_run_span(span: trace.Span, end_ns: int, error_type: str | None) -> None:
    if error_type is not None:
        span.set_attribute("error.type", error_type)
        span.set_status(Status(StatusCode.ERROR, error_type))
    span.end(end_time=end_ns)
