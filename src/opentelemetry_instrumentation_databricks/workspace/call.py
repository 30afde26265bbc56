"""One SDK call in flight (:class:`Call`) and what a route adds to it (:class:`Handler`).

A handler is a small object in the module of its Databricks service (``jobs.py``, ``pipelines.py``...)::

    class CancelRun(Handler):
        def describe(self, call: Call, attributes: dict[str, Any]) -> None:
            attributes[JOB_RUN_ID] = str(call.body_value("run_id"))

    CANCEL_RUN = CancelRun("jobs", "cancel_run")

``describe`` runs before the span starts and adds what the request says to the span's start attributes (the
cheapest way onto a span: no per-attribute lock). ``request`` runs after the span started and before the call goes
out, for what needs the span's ids (tags, ``traceparent``); it may replace ``call.body`` with a new dict (never
mutate the user's). ``response`` runs after a successful call with the decoded response. Failures in any of them
are logged once and never reach the user's call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span, SpanContext

from ..context import OrchestrationContext
from ..tags import hex_ids, orchestration_tags

if TYPE_CHECKING:
    from .tracker import Tracker


class Handler:
    """The span name of a route and its hooks; the base class adds nothing beyond the generic span."""

    starts_work = False
    """Calls that start remote work (a run, an update, a statement, a command) get an opaque id."""
    polled_run: str | None = None
    """The kind of run (a :class:`.runs.RunTable` key) this route polls, e.g. ``job_run`` for ``runs/get``."""

    __slots__ = ("operation", "service", "span_name")

    def __init__(self, service: str, operation: str) -> None:
        self.service = service
        self.operation = operation
        self.span_name = f"databricks.{service}.{operation}"

    def polled_run_id(self, params: Mapping[str, str], query: Mapping[str, Any] | None) -> str | None:
        """The id of the run a poll asks about (only for routes with ``polled_run``)."""
        return None

    def describe(self, call: Call, attributes: dict[str, Any]) -> None:
        """Add request facts to ``attributes``, the span's start attributes (``call.span`` does not exist yet)."""

    def request(self, call: Call) -> None:
        """Add request facts that need ``call.span``; inject tags by assigning a new ``call.body``."""

    def response(self, call: Call, response: Any) -> None:
        """Add response facts to ``call.span``; observe runs."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.span_name})"


class Call:
    """What handlers know of one ``ApiClient.do`` call."""

    __slots__ = (
        "_ids",
        "_span_context",
        "_tags",
        "_traceparent",
        "body",
        "client",
        "context",
        "handler",
        "method",
        "opaque_id",
        "params",
        "path",
        "query",
        "server",
        "span",
        "start",
        "template",
        "tracker",
    )

    def __init__(
        self,
        tracker: Tracker,
        handler: Handler,
        method: str,
        path: str,
        template: str | None,
        params: Mapping[str, str],
        query: Mapping[str, Any] | None,
        body: Any,
        context: OrchestrationContext,
        start: int,
        server: str | None,
        client: Any = None,
    ) -> None:
        self.tracker = tracker
        self.handler = handler
        self.method = method
        self.path = path
        self.template = template
        self.params = params
        self.query = query
        self.body = body
        self.context = context
        self.start = start
        self.server = server
        self.client = client
        self.opaque_id: str | None = None
        self.span: Span = None  # type: ignore[assignment]
        self._tags: list[tuple[str, str]] | None = None
        self._ids: tuple[str, str] | None = None
        self._traceparent: str | None = None
        self._span_context: SpanContext | None = None

    def body_value(self, name: str) -> Any:
        return self.body.get(name) if isinstance(self.body, Mapping) else None

    def query_value(self, name: str) -> Any:
        return self.query.get(name) if isinstance(self.query, Mapping) else None

    def span_context(self) -> SpanContext:
        """The context of this call's span (looked up once)."""
        if self._span_context is None:
            self._span_context = self.span.get_span_context()
        return self._span_context

    def span_ids(self) -> tuple[str, str]:
        """The trace and span id of this call's span, in hex, as tags and ``traceparent`` write them."""
        if self._ids is None:
            self._ids = hex_ids(self.span_context())
        return self._ids

    def our_tags(self) -> list[tuple[str, str]]:
        """Orchestration and trace ids as ``(key, value)`` pairs, most important first."""
        if self._tags is None:
            trace_id, span_id = self.span_ids()
            self._tags = orchestration_tags(
                self.context, self.opaque_id, trace_id, span_id, self.tracker.settings.opaque_id_tag_key
            )
        return self._tags

    def traceparent(self) -> str:
        """The W3C ``traceparent`` of this call's span: remote code that adopts it joins this trace (built once)."""
        if self._traceparent is None:
            trace_id, span_id = self.span_ids()
            self._traceparent = f"00-{trace_id}-{span_id}-{int(self.span_context().trace_flags):02x}"
        return self._traceparent
