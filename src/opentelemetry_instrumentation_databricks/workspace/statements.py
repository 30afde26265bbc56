"""SQL Statement Execution API handlers: execute_statement, get_statement, cancel_execution, result chunks.

``execute_statement`` gets the attributes of a connector statement span (``db.system.name``, sanitized
``db.query.text``, ``db.query.summary``, ``db.operation.name``, ``db.collection.name``, ``db.namespace``, warehouse
id) and our ids as ``query_tags`` (a list of ``{key, value}``; the user's entries are kept as they are). A
statement that finishes within the call (the default ``wait_timeout``) is estimated on the call's span. One that
is still PENDING/RUNNING when the call returns gets its own span, named by its query summary and parented to the
call, once ``get_statement`` first shows it SUCCEEDED, FAILED, CANCELED or CLOSED (timed from the call's start to
that response: Databricks reports no statement times here).

The connector's SEA backend (``use_sea=True``) posts to the same path through its own HTTP client, not
``ApiClient.do``, so connector statements are never traced twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import time_ns
from typing import Any

from opentelemetry.semconv.attributes.db_attributes import DB_NAMESPACE, DB_OPERATION_NAME, DB_SYSTEM_NAME
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import Span, Status, StatusCode

from ..attributes import (
    COMPUTE_TYPE,
    SPAN_STATEMENT_EXECUTION,
    STATEMENT_ID,
    STATEMENT_STATE,
    TAGS_DROPPED,
    WAREHOUSE_ID,
)
from ..context import OrchestrationContext
from ..cost.compute import SQL_WAREHOUSE
from ..cost.estimate import CONFIGURED_SIZE
from ..cost.model import estimate_attributes
from ..tags import QUERY_TAGS, merge_tags
from .call import Call, Handler
from .runs import StartedRun, end_run_span, start_run_span
from .tracker import Tracker

TERMINAL_STATES = frozenset(("SUCCEEDED", "FAILED", "CANCELED", "CLOSED"))


def statement_attributes(tracker: Tracker, body: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The connector path's statement attributes for an execute_statement body, and the span name for it."""
    attributes: dict[str, Any] = {DB_SYSTEM_NAME: "databricks", COMPUTE_TYPE: SQL_WAREHOUSE}
    warehouse_id = body.get("warehouse_id")
    if warehouse_id:
        attributes[WAREHOUSE_ID] = str(warehouse_id)
    namespace = "|".join(str(part) for part in (body.get("catalog"), body.get("schema")) if part)
    if namespace:
        attributes[DB_NAMESPACE] = namespace
    text = body.get("statement")
    if not isinstance(text, str):
        return attributes, None
    info, text_attributes = tracker.queries.describe(text)
    attributes.update(text_attributes)
    if info.operation is not None:
        attributes[DB_OPERATION_NAME] = info.operation
    return attributes, info.summary


def with_query_tags(call: Call, body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with our ids appended to its ``query_tags`` list, within the 20-tag limit, never over a user key."""
    user_list = body.get("query_tags")
    user_list = list(user_list) if isinstance(user_list, list) else []
    user = {str(tag.get("key")): tag.get("value") for tag in user_list if isinstance(tag, Mapping)}
    merged, dropped = merge_tags(user, call.our_tags(), QUERY_TAGS)
    if dropped:
        call.span.set_attribute(TAGS_DROPPED, dropped)
    added = [{"key": key, "value": value} for key, value in merged.items() if key not in user]
    return {**body, "query_tags": [*user_list, *added]}


def _error_of(status: Mapping[str, Any]) -> str | None:
    state = status.get("state")
    if state == "FAILED":
        error = status.get("error")
        code = error.get("error_code") if isinstance(error, Mapping) else None
        return str(code or state)
    if state == "CANCELED":
        return "CANCELED"
    return None


def _set_error(span: Span, error_type: str | None) -> None:
    if error_type is not None:
        span.set_attribute(ERROR_TYPE, error_type)
        span.set_status(Status(StatusCode.ERROR, error_type))


def _finish_estimate(
    tracker: Tracker, span: Span, attributes: Mapping[str, Any], seconds: float, context: OrchestrationContext
) -> None:
    warehouse_id = attributes.get(WAREHOUSE_ID)
    estimate = tracker.cost.warehouse(warehouse_id, seconds)
    span.set_attributes(estimate_attributes(estimate))
    metric_attributes = tracker.metric_attributes(
        str(attributes.get(DB_OPERATION_NAME) or "statement"), SQL_WAREHOUSE, context
    )
    if warehouse_id:
        metric_attributes[WAREHOUSE_ID] = str(warehouse_id)
    tracker.record(seconds, estimate, metric_attributes)


class ExecuteStatement(Handler):
    starts_work = True
    __slots__ = ()

    def request(self, call: Call) -> None:
        body = call.body
        if not isinstance(body, Mapping):
            return
        attributes, _ = statement_attributes(call.tracker, body)
        call.span.set_attributes(attributes)
        if call.tracker.settings.inject_tags:
            call.body = with_query_tags(call, body)

    def response(self, call: Call, response: Any) -> None:
        if not isinstance(response, Mapping) or not isinstance(call.body, Mapping):
            return
        tracker = call.tracker
        statement_id = response.get("statement_id")
        status = response.get("status") if isinstance(response.get("status"), Mapping) else {}
        if statement_id:
            call.span.set_attribute(STATEMENT_ID, str(statement_id))
        if status.get("state"):
            call.span.set_attribute(STATEMENT_STATE, str(status["state"]))
        attributes, summary = statement_attributes(tracker, call.body)
        _request_size_lookup(call, attributes.get(WAREHOUSE_ID))
        if status.get("state") in TERMINAL_STATES:
            _set_error(call.span, _error_of(status))
            _finish_estimate(tracker, call.span, attributes, (time_ns() - call.start) / 1e9, call.context)
        elif statement_id:
            facts = {"attributes": attributes, "name": summary or SPAN_STATEMENT_EXECUTION}
            started = StartedRun(call.span.get_span_context(), call.context, call.start, facts)
            tracker.runs.start(("statement", str(statement_id)), started)


def _request_size_lookup(call: Call, warehouse_id: Any) -> None:
    """Ask the Warehouses API, once per warehouse and in the background, for its size (``warehouse_lookup``)."""
    sizes = call.tracker.cost.sizes
    if not warehouse_id or sizes.rate(str(warehouse_id))[1] == CONFIGURED_SIZE:
        return
    config = getattr(call.client, "_cfg", None)
    if config is not None:
        sizes.request_lookup(str(warehouse_id), getattr(config, "host", None), getattr(config, "authenticate", None))


class StatementCall(Handler):
    """A call about one statement: its id on the span."""

    __slots__ = ()

    def request(self, call: Call) -> None:
        statement_id = call.params.get("statement_id")
        if statement_id:
            call.span.set_attribute(STATEMENT_ID, statement_id)


class GetStatement(StatementCall):
    polled_run = "statement"
    __slots__ = ()

    def polled_run_id(self, params: Mapping[str, str], query: Mapping[str, Any] | None) -> str | None:
        return params.get("statement_id")

    def response(self, call: Call, response: Any) -> None:
        status = response.get("status") if isinstance(response, Mapping) else None
        if not isinstance(status, Mapping):
            return
        if status.get("state"):
            call.span.set_attribute(STATEMENT_STATE, str(status["state"]))
        statement_id = response.get("statement_id") or call.params.get("statement_id")
        if statement_id and status.get("state") in TERMINAL_STATES:
            observe_statement(call.tracker, str(statement_id), status)


def observe_statement(tracker: Tracker, statement_id: str, status: Mapping[str, Any]) -> None:
    """Emit the span of a statement this process started, once; statements started elsewhere are not traced."""
    key = ("statement", statement_id)
    claimed, started = tracker.runs.claim(key)
    if not claimed or started is None:
        return
    end = time_ns()
    attributes = dict(started.facts.get("attributes") or {})
    attributes[STATEMENT_ID] = statement_id
    attributes[STATEMENT_STATE] = str(status.get("state"))
    attributes.update(started.context.attributes)
    span = start_run_span(tracker.tracer, str(started.facts.get("name")), started.parent, started.start_ns, attributes)
    _finish_estimate(tracker, span, attributes, (end - started.start_ns) / 1e9, started.context)
    end_run_span(span, end, _error_of(status))


EXECUTE = ExecuteStatement("statement_execution", "execute_statement")
GET = GetStatement("statement_execution", "get_statement")
CANCEL = StatementCall("statement_execution", "cancel_execution")
GET_RESULT_CHUNK = StatementCall("statement_execution", "get_statement_result_chunk_n")
