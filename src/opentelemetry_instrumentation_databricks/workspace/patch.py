"""The one patch of the SDK: ``databricks.sdk.core.ApiClient.do``, through which every service call goes.

Each call gets a CLIENT span named by its route's handler (``databricks.jobs.submit``...) with
``http.request.method``, ``url.template``, ``server.address``/``server.port``, the orchestration context and, on
failure, ``error.type`` (the SDK's ``error_code``) and ``http.response.status_code``. The original call runs inside
the HTTP-suppression context, so the requests/urllib3 instrumentations add no duplicate spans.

A poll of a run this process tracks (``runs/get``, as ``Wait.result()`` makes them; ``get_update``;
``get_statement``) made outside any span would be a root trace of its own, dozens per run. With
``run_poll_spans="join"`` (the default) it joins the run's trace instead, as a child of the call that started the
run, marked ``databricks.run.poll=true``; ``"off"`` makes no span for it (the run's own span is still emitted);
``"caller"`` keeps the plain behaviour. A poll made inside a span of the user's always stays there. Our own failures are
logged once per kind and never change the user's request, result or exception.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from time import time_ns
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.semconv._incubating.attributes.url_attributes import URL_TEMPLATE
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode
from wrapt import wrap_function_wrapper

from ..attributes import RUN_POLL
from ..call_context import attach_call_context
from ..config import Settings
from ..context import OPAQUE_ID, current_context, new_opaque_id
from ..cost.metrics import CostMetrics
from ..cost.warehouse_sizes import WarehouseSizes
from .call import Call, Handler
from .errors import error_facts, status_codes_of_errors
from .routes import ROUTES, RouteTable
from .tracker import Tracker

_logger = logging.getLogger(__name__)

_MODULE = "databricks.sdk.core"
_SERVER = "_otel_databricks_server"
_BODY_POSITION = 5
_QUERY_POSITION = 3


def _server_attributes(client: Any) -> dict[str, Any]:
    """``server.address``/``server.port`` of the client's workspace, computed once per ApiClient."""
    attributes = client.__dict__.get(_SERVER)
    if attributes is None:
        attributes = {}
        try:
            parts = urlsplit(str(client._cfg.host or ""))
            if parts.hostname:
                attributes[SERVER_ADDRESS] = parts.hostname
                if parts.port:
                    attributes[SERVER_PORT] = parts.port
        except Exception:  # a client without a host still gets spans
            pass
        client.__dict__[_SERVER] = attributes
    return attributes


class WorkspacePatches:
    """Installs and removes the ``ApiClient.do`` wrapper; holds the route table and the shared tracker."""

    def __init__(
        self, tracer: trace.Tracer, metrics: CostMetrics | None, settings: Settings, sizes: WarehouseSizes
    ) -> None:
        self.tracker = Tracker(tracer, metrics, settings, sizes)
        self.routes = RouteTable(ROUTES)
        self._status_codes: dict[type, int] = {}
        self._poll_spans = settings.run_poll_spans

    def install(self) -> None:
        self._status_codes = status_codes_of_errors()
        wrap_function_wrapper(_MODULE, "ApiClient.do", self._do)

    @staticmethod
    def uninstall() -> None:
        from databricks.sdk.core import ApiClient

        unwrap(ApiClient, "do")

    def _do(self, wrapped: Callable[..., Any], client: Any, args: tuple, kwargs: dict) -> Any:
        if not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        current = otel_context.get_current()
        try:
            call, args, kwargs = self._start(client, args, kwargs, current)
        except Exception:
            self.tracker.log_once("start")
            return wrapped(*args, **kwargs)
        token = attach_call_context(call.span, current)
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as exc:
            otel_context.detach(token)
            self._finish(call, None, exc)
            raise
        otel_context.detach(token)
        self._finish(call, response, None)
        return response

    def _start(self, client: Any, args: tuple, kwargs: dict, current: otel_context.Context) -> tuple[Call, tuple, dict]:
        """The call's span, started in ``current`` (the caller's context), and the arguments to pass on."""
        start = time_ns()
        method = str(args[0] if args else kwargs.get("method") or "").upper()
        path = args[1] if len(args) > 1 else kwargs.get("path")
        if path is None:
            url = args[2] if len(args) > 2 else kwargs.get("url")
            path = urlsplit(str(url)).path if url else ""
        match = self.routes.match(method, path)
        handler = match.handler
        context = current_context()
        server = _server_attributes(client)
        attributes: dict[str, Any] = {HTTP_REQUEST_METHOD: method, **server, **context.attributes}
        if match.template is not None:
            attributes[URL_TEMPLATE] = match.template
        body = args[_BODY_POSITION] if len(args) > _BODY_POSITION else kwargs.get("body")
        query = args[_QUERY_POSITION] if len(args) > _QUERY_POSITION else kwargs.get("query")
        call = Call(
            self.tracker,
            handler,
            method,
            path,
            match.template,
            match.params,
            query,
            body,
            context,
            start,
            server.get(SERVER_ADDRESS),
            client,
        )
        if handler.starts_work:
            call.opaque_id = new_opaque_id()
            attributes[OPAQUE_ID] = call.opaque_id
        try:
            handler.describe(call, attributes)
        except Exception:
            self.tracker.log_once(f"{handler.span_name} describe")
        parent = None
        if handler.polled_run is not None and self._poll_spans != "caller":
            parent = self._poll_parent(handler, match.params, query, current)
        if parent is None:
            call.span = self.tracker.tracer.start_span(
                handler.span_name, context=current, kind=SpanKind.CLIENT, attributes=attributes, start_time=start
            )
        elif self._poll_spans == "off":
            call.span = INVALID_SPAN
        else:
            attributes[RUN_POLL] = True
            call.span = self.tracker.tracer.start_span(
                handler.span_name,
                context=trace.set_span_in_context(NonRecordingSpan(parent)),
                kind=SpanKind.CLIENT,
                attributes=attributes,
                start_time=start,
            )
        try:
            handler.request(call)
        except Exception:
            call.body = body
            self.tracker.log_once(f"{handler.span_name} request")
        if call.body is not body:
            if len(args) > _BODY_POSITION:
                args = (*args[:_BODY_POSITION], call.body, *args[_BODY_POSITION + 1 :])
            else:
                kwargs = {**kwargs, "body": call.body}
        return call, args, kwargs

    def _poll_parent(
        self, handler: Handler, params: Mapping[str, str], query: Any, current: otel_context.Context
    ) -> SpanContext | None:
        """The starting call's span of a tracked run this poll asks about, when the caller has no span of its own."""
        if trace.get_current_span(current).get_span_context().is_valid:
            return None
        run_id = handler.polled_run_id(params, query)
        return self.tracker.runs.parent_of((handler.polled_run, run_id)) if run_id else None

    def _finish(self, call: Call, response: Any, error: BaseException | None) -> None:
        span = call.span
        try:
            if error is not None:
                error_type, status = error_facts(error, self._status_codes)
                span.set_attribute(ERROR_TYPE, error_type)
                if status is not None:
                    span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
                span.set_status(Status(StatusCode.ERROR, error_type))
            else:
                call.handler.response(call, response)
        except Exception:
            self.tracker.log_once(f"{call.handler.span_name} response")
        try:
            span.end()
        except Exception:
            self.tracker.log_once("end")
