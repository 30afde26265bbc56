"""LakeFlow Declarative Pipelines (Delta Live Tables) handlers: create, edit, get, start_update, get_update,
list_updates, stop, delete.

Tags go into the pipeline ``tags`` (at most 25) and ``clusters[].custom_tags`` on create and edit (an edit
replaces the whole spec), only with ``inject_tags`` on and never over a user's key.

A span ``databricks.pipelines.update`` per update started through ``start_update``, emitted once when
``get_update``, ``list_updates`` or ``get`` (its ``latest_updates``) first shows it COMPLETED, FAILED or CANCELED;
how it is timed and estimated is in :mod:`.pipeline_updates`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..attributes import (
    COMPUTE_TYPE,
    PIPELINE_EDITION,
    PIPELINE_FULL_REFRESH,
    PIPELINE_ID,
    PIPELINE_REFRESH_SELECTION,
    PIPELINE_SERVERLESS,
    PIPELINE_UPDATE_ID,
    PIPELINE_UPDATE_STATE,
    TAGS_DROPPED,
)
from ..cost.compute import DLT
from ..tags import CLUSTER_TAGS, PIPELINE_TAGS
from .bodies import map_list, with_tags
from .call import Call, Handler
from .pipeline_updates import edition_of, observe_update
from .runs import StartedRun


def _pipeline_id(call: Call) -> str | None:
    return call.params.get("pipeline_id") or call.body_value("pipeline_id") or call.body_value("id")


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
                observe_update(call.tracker, {"pipeline_id": pipeline_id, **update}, call.client)


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
    polled_run = "pipeline_update"
    __slots__ = ()

    def polled_run_id(self, params: Mapping[str, str], query: Mapping[str, Any] | None) -> str | None:
        return params.get("update_id")

    def request(self, call: Call) -> None:
        super().request(call)
        if call.params.get("update_id"):
            call.span.set_attribute(PIPELINE_UPDATE_ID, call.params["update_id"])

    def response(self, call: Call, response: Any) -> None:
        update = response.get("update") if isinstance(response, Mapping) else None
        if isinstance(update, Mapping):
            if update.get("state"):
                call.span.set_attribute(PIPELINE_UPDATE_STATE, str(update["state"]))
            observe_update(call.tracker, {"pipeline_id": _pipeline_id(call), **update}, call.client)


class ListUpdates(PipelineCall):
    __slots__ = ()

    def response(self, call: Call, response: Any) -> None:
        updates = response.get("updates") if isinstance(response, Mapping) else None
        for update in updates or ():
            if isinstance(update, Mapping):
                observe_update(call.tracker, {"pipeline_id": _pipeline_id(call), **update}, call.client)


def _describe_spec(call: Call, spec: Mapping[str, Any] | None) -> None:
    if not isinstance(spec, Mapping):
        return
    serverless = bool(spec.get("serverless"))
    call.span.set_attribute(PIPELINE_SERVERLESS, serverless)
    call.span.set_attribute(PIPELINE_EDITION, edition_of(spec))
    call.span.set_attribute(COMPUTE_TYPE, DLT)


CREATE = WritePipeline("pipelines", "create")
EDIT = WritePipeline("pipelines", "update")
GET = GetPipeline("pipelines", "get")
DELETE = PipelineCall("pipelines", "delete")
LIST = Handler("pipelines", "list_pipelines")
START_UPDATE = StartUpdate("pipelines", "start_update")
GET_UPDATE = GetUpdate("pipelines", "get_update")
LIST_UPDATES = ListUpdates("pipelines", "list_updates")
STOP = PipelineCall("pipelines", "stop")
