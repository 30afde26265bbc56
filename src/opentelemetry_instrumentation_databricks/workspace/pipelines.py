"""LakeFlow Declarative Pipelines (Delta Live Tables) handlers: create, edit, get, start_update, get_update,
list_updates, stop, delete.

Tags go into the pipeline ``tags`` (at most 25) and ``clusters[].custom_tags`` on create and edit (an edit
replaces the whole spec), only with ``inject_tags`` on and never over a user's key.

A span ``databricks.pipelines.update`` per update started through ``start_update``, emitted once when
``get_update``, ``list_updates`` or ``get`` (its ``latest_updates``) first shows it COMPLETED, FAILED or CANCELED.
It starts at the update's ``creation_time``; Databricks reports no end time, so the end is when a response first
showed the update finished (``databricks.run.timing=observed``). When Databricks' clock is ahead of ours (a
``creation_time`` in our future), the start is the ``start_update`` call's instead. The estimate prices the
``default`` clusters of the spec at the edition's DLT rate (``dlt_core``/``dlt_pro``/``dlt_advanced``; ADVANCED
when the spec names none), and a serverless pipeline at ``serverless_dbu_per_hour`` priced as ``jobs_serverless``.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import time_ns
from typing import Any

from ..attributes import (
    CLUSTER_SUMMARY,
    COMPUTE_TYPE,
    PIPELINE_EDITION,
    PIPELINE_FULL_REFRESH,
    PIPELINE_ID,
    PIPELINE_REFRESH_SELECTION,
    PIPELINE_SERVERLESS,
    PIPELINE_UPDATE_ID,
    PIPELINE_UPDATE_STATE,
    RUN_TIMING,
    RUN_TRACKED,
    TAGS_DROPPED,
)
from ..context import EMPTY
from ..cost.estimate import Estimate
from ..tags import CLUSTER_TAGS, PIPELINE_TAGS
from .bodies import map_list, with_tags
from .call import Call, Handler
from .compute import DLT, JOBS_SERVERLESS, Compute, combined_method, estimate
from .runs import StartedRun, end_run_span, start_run_span
from .tracker import Tracker, estimate_attributes

UPDATE_SPAN = "databricks.pipelines.update"
TERMINAL_UPDATE_STATES = frozenset(("COMPLETED", "FAILED", "CANCELED"))
EDITIONS = ("core", "pro", "advanced")
_MS = 1_000_000


def _pipeline_id(call: Call) -> str | None:
    return call.params.get("pipeline_id") or call.body_value("pipeline_id") or call.body_value("id")


def edition_of(spec: Mapping[str, Any] | None) -> str:
    edition = str((spec or {}).get("edition") or "advanced").lower()
    return edition if edition in EDITIONS else "advanced"


class PipelineCall(Handler):
    """A call about one pipeline: the id on the span."""

    __slots__ = ()

    def request(self, call: Call) -> None:
        pipeline_id = _pipeline_id(call)
        if pipeline_id:
            call.span.set_attribute(PIPELINE_ID, str(pipeline_id))


class WritePipeline(PipelineCall):
    """``create`` and ``edit``: tags into the spec, the spec remembered for later estimates."""

    __slots__ = ()

    def request(self, call: Call) -> None:
        super().request(call)
        body = call.body
        if not isinstance(body, Mapping):
            return
        if call.tracker.settings.inject_tags:
            dropped: list[str] = []
            ours = call.our_tags()
            new = with_tags(body, "tags", ours, PIPELINE_TAGS, dropped)
            if "clusters" in body:
                new["clusters"] = map_list(
                    body["clusters"], lambda cluster: with_tags(cluster, "custom_tags", ours, CLUSTER_TAGS, dropped)
                )
            if dropped:
                call.span.set_attribute(TAGS_DROPPED, dropped)
            call.body = new
        _describe_spec(call, call.body)

    def response(self, call: Call, response: Any) -> None:
        pipeline_id = _pipeline_id(call)
        if isinstance(response, Mapping) and response.get("pipeline_id"):
            pipeline_id = str(response["pipeline_id"])
            call.span.set_attribute(PIPELINE_ID, pipeline_id)
        if pipeline_id and isinstance(call.body, Mapping):
            call.tracker.pipelines.put(str(pipeline_id), call.body)


class GetPipeline(PipelineCall):
    """``get``: remembers the spec and observes ``latest_updates`` (what ``stop``'s waiter polls)."""

    __slots__ = ()

    def response(self, call: Call, response: Any) -> None:
        if not isinstance(response, Mapping):
            return
        pipeline_id = str(response.get("pipeline_id") or _pipeline_id(call) or "")
        if pipeline_id and isinstance(response.get("spec"), Mapping):
            call.tracker.pipelines.put(pipeline_id, response["spec"])
        for update in response.get("latest_updates") or ():
            if isinstance(update, Mapping):
                observe_update(call.tracker, {"pipeline_id": pipeline_id, **update})


class StartUpdate(PipelineCall):
    """``start_update``: full refresh, selective refresh (``refresh_selection``/``full_refresh_selection``)."""

    starts_work = True
    __slots__ = ()

    def request(self, call: Call) -> None:
        super().request(call)
        if call.body_value("full_refresh") is not None:
            call.span.set_attribute(PIPELINE_FULL_REFRESH, bool(call.body_value("full_refresh")))
        selection = [*(call.body_value("refresh_selection") or ()), *(call.body_value("full_refresh_selection") or ())]
        if selection:
            call.span.set_attribute(PIPELINE_REFRESH_SELECTION, [str(table) for table in selection])
        _describe_spec(call, call.tracker.pipelines.get(_pipeline_id(call)))

    def response(self, call: Call, response: Any) -> None:
        update_id = response.get("update_id") if isinstance(response, Mapping) else None
        if not update_id:
            return
        call.span.set_attribute(PIPELINE_UPDATE_ID, str(update_id))
        facts = {
            "pipeline_id": _pipeline_id(call),
            "full_refresh": call.body_value("full_refresh"),
            "refresh_selection": call.body_value("refresh_selection") or call.body_value("full_refresh_selection"),
        }
        started = StartedRun(call.span.get_span_context(), call.context, call.start, facts)
        call.tracker.runs.start(("pipeline_update", str(update_id)), started)


class GetUpdate(PipelineCall):
    __slots__ = ()

    def request(self, call: Call) -> None:
        super().request(call)
        if call.params.get("update_id"):
            call.span.set_attribute(PIPELINE_UPDATE_ID, call.params["update_id"])

    def response(self, call: Call, response: Any) -> None:
        update = response.get("update") if isinstance(response, Mapping) else None
        if isinstance(update, Mapping):
            if update.get("state"):
                call.span.set_attribute(PIPELINE_UPDATE_STATE, str(update["state"]))
            observe_update(call.tracker, {"pipeline_id": _pipeline_id(call), **update})


class ListUpdates(PipelineCall):
    __slots__ = ()

    def response(self, call: Call, response: Any) -> None:
        updates = response.get("updates") if isinstance(response, Mapping) else None
        for update in updates or ():
            if isinstance(update, Mapping):
                observe_update(call.tracker, {"pipeline_id": _pipeline_id(call), **update})


def _describe_spec(call: Call, spec: Mapping[str, Any] | None) -> None:
    if not isinstance(spec, Mapping):
        return
    serverless = bool(spec.get("serverless"))
    call.span.set_attribute(PIPELINE_SERVERLESS, serverless)
    call.span.set_attribute(PIPELINE_EDITION, edition_of(spec))
    call.span.set_attribute(COMPUTE_TYPE, DLT)


def _default_clusters(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    clusters = spec.get("clusters")
    if not isinstance(clusters, list):
        return []
    return [c for c in clusters if isinstance(c, Mapping) and str(c.get("label") or "default").lower() == "default"]


def observe_update(tracker: Tracker, update: Mapping[str, Any]) -> None:
    """Emit the update's span if it is terminal and nobody emitted it yet."""
    update_id = update.get("update_id")
    if not update_id or update.get("state") not in TERMINAL_UPDATE_STATES:
        return
    key = ("pipeline_update", str(update_id))
    claimed, started = tracker.runs.claim(key)
    if not claimed or (started is None and not tracker.settings.trace_untracked_runs):
        return
    _emit_update(tracker, update, started)


def _emit_update(tracker: Tracker, update: Mapping[str, Any], started: StartedRun | None) -> None:
    now = time_ns()
    facts = started.facts if started is not None else {}
    pipeline_id = update.get("pipeline_id") or facts.get("pipeline_id")
    spec = update.get("config") if isinstance(update.get("config"), Mapping) else tracker.pipelines.get(pipeline_id)
    creation = update.get("creation_time")
    start = int(creation) * _MS if isinstance(creation, (int, float)) and creation > 0 else None
    if start is None or start > now:
        start = started.start_ns if started is not None else min(start or now, now)
    end = max(now, start)
    seconds = (end - start) / 1e9
    attributes: dict[str, Any] = {
        PIPELINE_UPDATE_ID: str(update["update_id"]),
        PIPELINE_UPDATE_STATE: str(update["state"]),
        COMPUTE_TYPE: DLT,
        RUN_TIMING: "observed",
    }
    if pipeline_id:
        attributes[PIPELINE_ID] = str(pipeline_id)
    full_refresh = update.get("full_refresh", facts.get("full_refresh"))
    if full_refresh is not None:
        attributes[PIPELINE_FULL_REFRESH] = bool(full_refresh)
    selection = update.get("refresh_selection") or facts.get("refresh_selection")
    if selection:
        attributes[PIPELINE_REFRESH_SELECTION] = [str(table) for table in selection]
    if isinstance(spec, Mapping):
        serverless = bool(spec.get("serverless"))
        edition = edition_of(spec)
        attributes[PIPELINE_SERVERLESS] = serverless
        attributes[PIPELINE_EDITION] = edition
        if serverless:
            costed = [estimate(tracker, Compute(JOBS_SERVERLESS, ("serverless", "")), seconds)]
        else:
            photon = bool(spec.get("photon"))
            clusters = _default_clusters(spec) or [{}]
            costed = [
                estimate(
                    tracker, Compute(DLT, ("pipeline", ""), {**cluster, "photon": photon}), seconds, f"dlt_{edition}"
                )
                for cluster in clusters
            ]
        summaries = [c.summary for c in costed if c.summary]
        if summaries:
            attributes[CLUSTER_SUMMARY] = summaries
        if len(costed) == 1:
            attributes.update(costed[0].attributes)
        total = Estimate(
            sum(c.estimate.dbu for c in costed),
            sum(c.estimate.dollars for c in costed),
            combined_method([c.estimate.method for c in costed]) or "none",
        )
        attributes.update(estimate_attributes(total))
    else:
        total = None
    context = started.context if started is not None else EMPTY
    attributes.update(context.attributes)
    if started is None:
        attributes[RUN_TRACKED] = False
    parent = started.parent if started is not None else None
    span = start_run_span(tracker.tracer, UPDATE_SPAN, parent, start, attributes)
    state = str(update["state"])
    end_run_span(span, end, None if state == "COMPLETED" else state)
    tracker.record(seconds, total, tracker.metric_attributes("pipeline_update", DLT, context))


CREATE = WritePipeline("pipelines", "create")
EDIT = WritePipeline("pipelines", "update")
GET = GetPipeline("pipelines", "get")
DELETE = PipelineCall("pipelines", "delete")
LIST = Handler("pipelines", "list_pipelines")
START_UPDATE = StartUpdate("pipelines", "start_update")
GET_UPDATE = GetUpdate("pipelines", "get_update")
LIST_UPDATES = ListUpdates("pipelines", "list_updates")
STOP = PipelineCall("pipelines", "stop")
