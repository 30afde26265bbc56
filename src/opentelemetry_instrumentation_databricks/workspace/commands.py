"""Command Execution API handlers (``/api/1.2/contexts/*``, ``/api/1.2/commands/*``): interactive work on an
all-purpose cluster.

Every call carries the cluster id (and context and command ids). A command started with ``commands/execute`` gets
its own span ``databricks.commands.command`` (parent = the execute call) once ``commands/status`` first shows it
Finished, Error or Cancelled; it is timed from the execute call to that response (``databricks.run.timing=observed``)
and estimated at the cluster's all-purpose rate when a clusters/get response for the cluster passed through,
else ``databricks.cost.estimate_method=unknown_cluster``. The command text is never recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import time_ns
from typing import Any

from ..attributes import (
    CLUSTER_ID,
    CLUSTER_SUMMARY,
    COMMAND_CONTEXT_ID,
    COMMAND_ID,
    COMMAND_LANGUAGE,
    COMMAND_STATUS,
    COMPUTE_TYPE,
    RUN_TIMING,
    SPAN_COMMAND,
)
from ..cost.compute import ALL_PURPOSE, Compute
from ..cost.model import estimate_attributes
from .call import Call, Handler
from .runs import StartedRun, end_run_span, start_run_span
from .tracker import Tracker

TERMINAL_STATUSES = frozenset(("Finished", "Error", "Cancelled"))


def _value(call: Call, name: str) -> str | None:
    value = call.query_value(name) or call.body_value(name)
    return str(value) if value else None


class CommandCall(Handler):
    """Cluster, context and command ids (``clusterId``, ``contextId``, ``commandId``) on the span."""

    __slots__ = ()

    def request(self, call: Call) -> None:
        span = call.span
        span.set_attribute(COMPUTE_TYPE, ALL_PURPOSE)
        for name, attribute in (
            ("clusterId", CLUSTER_ID),
            ("contextId", COMMAND_CONTEXT_ID),
            ("commandId", COMMAND_ID),
        ):
            value = _value(call, name)
            if value:
                span.set_attribute(attribute, value)
        language = call.body_value("language")
        if language:
            span.set_attribute(COMMAND_LANGUAGE, str(language))


class CreateContext(CommandCall):
    __slots__ = ()

    def response(self, call: Call, response: Any) -> None:
        if isinstance(response, Mapping) and response.get("id"):
            call.span.set_attribute(COMMAND_CONTEXT_ID, str(response["id"]))


class Execute(CommandCall):
    starts_work = True
    __slots__ = ()

    def response(self, call: Call, response: Any) -> None:
        command_id = response.get("id") if isinstance(response, Mapping) else None
        if not command_id:
            return
        call.span.set_attribute(COMMAND_ID, str(command_id))
        facts = {
            "cluster_id": _value(call, "clusterId"),
            "context_id": _value(call, "contextId"),
            "language": call.body_value("language"),
        }
        started = StartedRun(call.span.get_span_context(), call.context, call.start, facts)
        call.tracker.runs.start(("command", str(command_id)), started)


class Status(CommandCall):
    __slots__ = ()

    def response(self, call: Call, response: Any) -> None:
        if not isinstance(response, Mapping):
            return
        status = response.get("status")
        if status:
            call.span.set_attribute(COMMAND_STATUS, str(status))
        command_id = response.get("id") or _value(call, "commandId")
        if command_id and status in TERMINAL_STATUSES:
            observe_command(call.tracker, str(command_id), response)


def _error_of(response: Mapping[str, Any]) -> str | None:
    status = response.get("status")
    results = response.get("results")
    if status == "Error" or (isinstance(results, Mapping) and results.get("resultType") == "error"):
        return "CommandError"
    if status == "Cancelled":
        return "Cancelled"
    return None


def observe_command(tracker: Tracker, command_id: str, response: Mapping[str, Any]) -> None:
    """Emit the span of a command this process started, once; commands started elsewhere are not traced."""
    key = ("command", command_id)
    claimed, started = tracker.runs.claim(key)
    if not claimed or started is None:
        return
    end = time_ns()
    seconds = (end - started.start_ns) / 1e9
    cluster_id = started.facts.get("cluster_id")
    attributes: dict[str, Any] = {
        COMMAND_ID: command_id,
        COMMAND_STATUS: str(response.get("status")),
        COMPUTE_TYPE: ALL_PURPOSE,
        RUN_TIMING: "observed",
    }
    if cluster_id:
        attributes[CLUSTER_ID] = cluster_id
    if started.facts.get("context_id"):
        attributes[COMMAND_CONTEXT_ID] = started.facts["context_id"]
    if started.facts.get("language"):
        attributes[COMMAND_LANGUAGE] = str(started.facts["language"])
    compute = Compute(ALL_PURPOSE, ("existing", cluster_id or ""), tracker.cost.clusters.get(cluster_id), cluster_id)
    costed = tracker.cost.estimate(compute, seconds)
    if costed.summaries:
        attributes[CLUSTER_SUMMARY] = list(costed.summaries)
    attributes.update(costed.attributes)
    attributes.update(estimate_attributes(costed.estimate))
    attributes.update(started.context.attributes)
    span = start_run_span(tracker.tracer, SPAN_COMMAND, started.parent, started.start_ns, attributes)
    end_run_span(span, end, _error_of(response))
    tracker.record(seconds, costed.estimate, tracker.metric_attributes("command", ALL_PURPOSE, started.context))


CREATE_CONTEXT = CreateContext("command_execution", "create")
CONTEXT_STATUS = CommandCall("command_execution", "context_status")
DESTROY_CONTEXT = CommandCall("command_execution", "destroy")
EXECUTE = Execute("command_execution", "execute")
COMMAND_STATUS_CALL = Status("command_execution", "command_status")
CANCEL = CommandCall("command_execution", "cancel")
