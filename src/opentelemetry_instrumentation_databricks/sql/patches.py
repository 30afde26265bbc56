"""Patches on ``databricks.sql.client.Cursor``: one CLIENT span per statement or metadata call.

``execute`` and ``executemany`` (one span for the batch: it calls ``execute`` per parameter set), the metadata
calls ``catalogs``/``schemas``/``tables``/``columns``, and ``execute_async`` whose span stays open until
``get_async_execution_result`` (or the cursor's next statement, or ``close``) ends it.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from time import time_ns
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.semconv._incubating.attributes.db_attributes import DB_RESPONSE_RETURNED_ROWS
from opentelemetry.semconv.attributes.db_attributes import (
    DB_OPERATION_BATCH_SIZE,
    DB_OPERATION_NAME,
    DB_RESPONSE_STATUS_CODE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import SpanKind, Status, StatusCode
from wrapt import wrap_function_wrapper

from ..attributes import DAGSTER_ASSET_KEY, DAGSTER_JOB_NAME, STATEMENT_ID, TAGS_DROPPED
from ..call_context import attach_call_context
from ..config import Settings
from ..context import OPAQUE_ID, current_context, new_opaque_id
from ..cost.estimate import CONFIGURED_SIZE
from ..cost.metrics import CostMetrics
from ..cost.model import CostModel, estimate_attributes
from ..cost.warehouse_sizes import WarehouseSizes
from ..tags import QUERY_TAGS, SPAN_ID_TAG, TRACE_ID_TAG, hex_ids, merge_tags, orchestration_tags
from .connection import ConnectionFacts, facts_of
from .errors import error_facts
from .results import returned_rows, statement_id_of
from .statement import QueryAttributes

_logger = logging.getLogger(__name__)

_CURSOR = "databricks.sql.client"
_DOWNLOADER = "databricks.sql.cloudfetch.downloader"
_PENDING = "_otel_databricks_pending"
MAX_METRIC_SERIES = 1024
_in_batch: ContextVar[bool] = ContextVar("databricks_sql_in_batch", default=False)

_METADATA_OPERATIONS = {
    "catalogs": "GetCatalogs",
    "schemas": "GetSchemas",
    "tables": "GetTables",
    "columns": "GetColumns",
}
_QUERY_TAGS_POSITION = {"execute": 4, "execute_async": 3, "executemany": 2}


def _download_without_http_spans(wrapped: Callable[..., Any], handler: Any, args: tuple, kwargs: dict) -> Any:
    """A cloud-fetch file download (a pool thread, outside the statement's context) makes no HTTP span of its own:
    the statement's span stands for the connector's traffic, as it does for the requests made inside ``execute``."""
    token = otel_context.attach(otel_context.set_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY, True))
    try:
        return wrapped(*args, **kwargs)
    finally:
        otel_context.detach(token)


def _plain_query_tag_key(key: str) -> str | None:
    """The opaque-id key when :func:`merge_tags` would keep it as it is next to ours (the common case: the three
    tags of a statement without orchestration context or user tags can then be written directly), else ``None``."""
    if len(key) > QUERY_TAGS.max_key_length or not key.isidentifier() or key in (TRACE_ID_TAG, SPAN_ID_TAG):
        return None
    return key


class _Statement:
    """One statement in flight: its span, its context token and what is needed to finish it."""

    __slots__ = ("facts", "metric_attributes", "previous_command", "span", "start", "token")

    def __init__(
        self,
        facts: ConnectionFacts,
        metric_attributes: dict[str, str],
        span: trace.Span,
        start: int,
        token: object,
        previous_command: object,
    ) -> None:
        self.facts = facts
        self.metric_attributes = metric_attributes
        self.span = span
        self.start = start
        self.token = token
        self.previous_command = previous_command


class SqlPatches:
    """Installs and removes the cursor patches; holds what the wrappers share."""

    def __init__(
        self, tracer: trace.Tracer, metrics: CostMetrics | None, settings: Settings, sizes: WarehouseSizes
    ) -> None:
        self._tracer = tracer
        self._metrics = metrics
        self._settings = settings
        self._sizes = sizes
        self._cost = CostModel(settings, sizes)
        self._queries = QueryAttributes(settings.capture_query_text, settings.max_query_text_length)
        self._failures_logged: set[str] = set()
        self._series: dict[tuple, Mapping[str, str]] = {}
        self._tags_supported = True
        self._opaque_tag_key = _plain_query_tag_key(settings.opaque_id_tag_key)

    # installation
    def install(self) -> None:
        from databricks.sql.client import Cursor

        self._tags_supported = "query_tags" in inspect.signature(Cursor.execute).parameters
        if self._settings.inject_tags and not self._tags_supported:
            _logger.warning(
                "This databricks-sql-connector has no query_tags: statements are traced but not tagged. "
                "Upgrade to databricks-sql-connector >= 4.1 to write tags into query history."
            )
        wrap_function_wrapper(_CURSOR, "Cursor.execute", self._execute)
        wrap_function_wrapper(_CURSOR, "Cursor.executemany", self._executemany)
        wrap_function_wrapper(_CURSOR, "Cursor.execute_async", self._execute_async)
        wrap_function_wrapper(_CURSOR, "Cursor.get_async_execution_result", self._get_async_execution_result)
        wrap_function_wrapper(_CURSOR, "Cursor.close", self._close)
        for method in _METADATA_OPERATIONS:
            wrap_function_wrapper(_CURSOR, f"Cursor.{method}", self._metadata)
        wrap_function_wrapper(_DOWNLOADER, "ResultSetDownloadHandler.run", _download_without_http_spans)

    @staticmethod
    def uninstall() -> None:
        from databricks.sql.client import Cursor

        for method in (
            "execute",
            "executemany",
            "execute_async",
            "get_async_execution_result",
            "close",
            *_METADATA_OPERATIONS,
        ):
            unwrap(Cursor, method)
        from databricks.sql.cloudfetch.downloader import ResultSetDownloadHandler

        unwrap(ResultSetDownloadHandler, "run")

    # wrappers
    def _execute(self, wrapped: Callable[..., Any], cursor: Any, args: tuple, kwargs: dict) -> Any:
        if _in_batch.get():
            return wrapped(*args, **kwargs)
        return self._traced(wrapped, cursor, args, kwargs, "execute", None)

    def _executemany(self, wrapped: Callable[..., Any], cursor: Any, args: tuple, kwargs: dict) -> Any:
        if _in_batch.get():
            return wrapped(*args, **kwargs)
        token = _in_batch.set(True)
        try:
            return self._traced(wrapped, cursor, args, kwargs, "executemany", None)
        finally:
            _in_batch.reset(token)

    def _metadata(self, wrapped: Callable[..., Any], cursor: Any, args: tuple, kwargs: dict) -> Any:
        return self._traced(wrapped, cursor, args, kwargs, "metadata", _METADATA_OPERATIONS[wrapped.__name__])

    def _execute_async(self, wrapped: Callable[..., Any], cursor: Any, args: tuple, kwargs: dict) -> Any:
        return self._traced(wrapped, cursor, args, kwargs, "execute_async", None)

    def _get_async_execution_result(self, wrapped: Callable[..., Any], cursor: Any, args: tuple, kwargs: dict) -> Any:
        statement = cursor.__dict__.pop(_PENDING, None)
        if statement is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            self._finish(statement, cursor, exc)
            raise
        self._finish(statement, cursor, None)
        return result

    def _close(self, wrapped: Callable[..., Any], cursor: Any, args: tuple, kwargs: dict) -> Any:
        self._finish_pending(cursor)
        return wrapped(*args, **kwargs)

    # the traced call
    def _traced(
        self, wrapped: Callable[..., Any], cursor: Any, args: tuple, kwargs: dict, kind: str, operation: str | None
    ) -> Any:
        """Run one statement under its span; ``execute_async`` leaves the span open on the cursor."""
        if not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        try:
            self._finish_pending(cursor)
            statement, args, kwargs = self._start(cursor, args, kwargs, kind, operation)
        except Exception:
            self._log_once("start")
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            otel_context.detach(statement.token)
            self._finish(statement, cursor, exc)
            raise
        otel_context.detach(statement.token)
        if kind == "execute_async":
            cursor.__dict__[_PENDING] = statement
        else:
            self._finish(statement, cursor, None)
        return result

    def _start(
        self, cursor: Any, args: tuple, kwargs: dict, kind: str, operation: str | None
    ) -> tuple[_Statement, tuple, dict]:
        start = time_ns()
        facts = facts_of(cursor.connection)
        settings = self._settings
        attributes = dict(facts.span_attributes)
        if operation is None:
            text = args[0] if args else kwargs.get("operation")
            if isinstance(text, str):
                info, text_attributes = self._queries.describe(text)
                attributes.update(text_attributes)
                operation = info.operation
                name = info.summary
            else:
                name = "databricks"
        else:
            name = operation
        if kind == "executemany":
            parameter_sets = args[1] if len(args) > 1 else kwargs.get("seq_of_parameters")
            with contextlib.suppress(TypeError):
                attributes[DB_OPERATION_BATCH_SIZE] = len(parameter_sets)
            operation = f"BATCH {operation}" if operation else "BATCH"
            name = f"BATCH {name}"
        if operation is not None:
            attributes[DB_OPERATION_NAME] = operation
        context = current_context()
        attributes.update(context.attributes)
        opaque_id = new_opaque_id() if kind != "metadata" else None
        if opaque_id is not None:
            attributes[OPAQUE_ID] = opaque_id
        metric_attributes = self._metric_attributes(facts, operation, context)
        span = self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes, start_time=start)
        if opaque_id is not None and settings.inject_tags and self._tags_supported:
            try:
                args, kwargs = self._with_query_tags(span, facts, context, opaque_id, args, kwargs, kind)
            except Exception:
                self._log_once("query tags")
        if settings.request_hook is not None:
            self._call_hook(settings.request_hook, span, cursor, args, kwargs)
        token = attach_call_context(span)
        return _Statement(facts, metric_attributes, span, start, token, cursor.active_command_id), args, kwargs

    def _metric_attributes(self, facts: ConnectionFacts, operation: str | None, context: Any) -> Mapping[str, str]:
        """One mapping per series, kept (at most ``MAX_METRIC_SERIES``), so the metrics see the same object again."""
        key = (facts.warehouse_id, operation, context.job_name, context.asset_key)
        attributes = self._series.get(key)
        if attributes is None:
            attributes = dict(facts.metric_attributes)
            if operation is not None:
                attributes[DB_OPERATION_NAME] = operation
            if context.job_name is not None:
                attributes[DAGSTER_JOB_NAME] = context.job_name
            if context.asset_key is not None:
                attributes[DAGSTER_ASSET_KEY] = context.asset_key
            if len(self._series) >= MAX_METRIC_SERIES:
                self._series.clear()
            self._series[key] = attributes
        return attributes

    def _with_query_tags(
        self,
        span: trace.Span,
        facts: ConnectionFacts,
        context: Any,
        opaque_id: str,
        args: tuple,
        kwargs: dict,
        kind: str,
    ) -> tuple[tuple, dict]:
        position = _QUERY_TAGS_POSITION[kind]
        user_tags = args[position] if len(args) > position else kwargs.get("query_tags")
        if facts.session_tags:
            user_tags = {**facts.session_tags, **user_tags} if user_tags else facts.session_tags
        span_context = span.get_span_context()
        trace_id, span_id = hex_ids(span_context)
        if not user_tags and not context and self._opaque_tag_key is not None:
            merged = {self._opaque_tag_key: opaque_id, TRACE_ID_TAG: trace_id, SPAN_ID_TAG: span_id}
        else:
            ours = orchestration_tags(context, opaque_id, trace_id, span_id, self._settings.opaque_id_tag_key)
            merged, dropped = merge_tags(user_tags, ours, QUERY_TAGS)
            if dropped:
                span.set_attribute(TAGS_DROPPED, dropped)
                _logger.debug("query tags full (%d): left out %s", QUERY_TAGS.max_tags, dropped)
        if len(args) > position:
            args = (*args[:position], merged, *args[position + 1 :])
        else:
            kwargs = {**kwargs, "query_tags": merged}
        return args, kwargs

    def _finish(self, statement: _Statement, cursor: Any, error: BaseException | None) -> None:
        try:
            end = time_ns()
            span = statement.span
            seconds = (end - statement.start) / 1e9
            estimate = self._cost.warehouse(statement.facts.warehouse_id, seconds)
            attributes = estimate_attributes(estimate)
            command = cursor.active_command_id
            if command is not None and command is not statement.previous_command:
                attributes[STATEMENT_ID] = statement_id_of(command)
                if error is None:
                    rows = returned_rows(cursor.active_result_set)
                    if rows is not None:
                        attributes[DB_RESPONSE_RETURNED_ROWS] = rows
            metric_attributes = statement.metric_attributes
            if error is not None:
                error_type, status_code = error_facts(error)
                attributes[ERROR_TYPE] = error_type
                if status_code is not None:
                    attributes[DB_RESPONSE_STATUS_CODE] = status_code
                span.set_status(Status(StatusCode.ERROR, error_type))
                metric_attributes = {**metric_attributes, ERROR_TYPE: error_type}
            span.set_attributes(attributes)
            if self._settings.response_hook is not None:
                self._call_hook(self._settings.response_hook, span, cursor, error)
            span.end(end_time=end)
            if self._metrics is not None:
                self._metrics.record(seconds, estimate.dbu, estimate.dollars, metric_attributes)
            if estimate.method != CONFIGURED_SIZE:
                self._sizes.request_lookup(
                    statement.facts.warehouse_id,
                    statement.facts.base_url,
                    statement.facts.auth_headers if statement.facts.auth_provider else None,
                )
        except Exception:
            self._log_once("finish")

    def _finish_pending(self, cursor: Any) -> None:
        statement = cursor.__dict__.pop(_PENDING, None)
        if statement is not None:
            self._finish(statement, cursor, None)

    def _call_hook(self, hook: Callable[..., Any], *args: Any) -> None:
        try:
            hook(*args)
        except Exception:
            self._log_once(f"hook {getattr(hook, '__name__', hook)}")

    def _log_once(self, where: str) -> None:
        """Log the first failure of each kind; the user's statement always runs on, untouched."""
        if where not in self._failures_logged:
            self._failures_logged.add(where)
            _logger.warning(
                "Databricks SQL instrumentation failed in %s; the statement itself is unaffected.", where, exc_info=True
            )
