"""Pipeline update spans: ``databricks.pipelines.update``, timed from the update's own events, emitted once.

``get_update``, ``list_updates`` and ``get`` (its ``latest_updates``) report an update's ``state`` and
``creation_time`` but no end. Databricks reports the end in the pipeline's event log: an ``update_progress`` event
whose ``details.update_progress.state`` is COMPLETED, FAILED or CANCELED, with its ``timestamp``. So the one
response that first shows a tracked update terminal claims it (on the caller's thread, no I/O) and hands it to the
tracker's :class:`~.pipeline_end_reads.PipelineEndReads`: a background thread reads the newest page of the
pipeline's events (``GET /api/2.0/pipelines/{id}/events``, the workspace's host and credentials,
``READ_TIMEOUT_SECONDS`` = 10 s, no retries: once per update, never per poll) and emits the span, from
``creation_time`` to that event (``databricks.run.timing=databricks``). The user's poll never waits for the event
log: when the events endpoint hangs or fails, the poll returns as fast as without us.

When the event log has no terminal event for the update, cannot be read in time, is still being read when the
process shuts down (uninstrument, exit, the provider's ``force_flush``/``shutdown``: pending reads are drained within
``DRAIN_TIMEOUT_SECONDS`` = 5 s), or too many reads are pending (``MAX_PENDING_READS`` = 256: the span is emitted at
once), the span starts at ``creation_time`` and ends when the response first showed the update finished
(``databricks.run.timing=observed``: the duration is only as good as the polling interval); when Databricks' clock
is ahead of ours (a ``creation_time`` in our future), it starts at the ``start_update`` call instead.

The estimate prices the ``default`` clusters of the spec at the edition's DLT rate (``dlt_core``/``dlt_pro``/
``dlt_advanced``; ADVANCED when the spec names none), and a serverless pipeline at ``serverless_dbu_per_hour``
priced as ``jobs_serverless``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from time import time_ns
from typing import TYPE_CHECKING, Any

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
    SPAN_PIPELINE_UPDATE,
)
from ..context import EMPTY
from ..cost.compute import DLT
from ..cost.model import estimate_attributes
from ..rest import get_json
from .runs import StartedRun, end_run_span, start_run_span

if TYPE_CHECKING:
    from .tracker import Tracker

_logger = logging.getLogger(__name__)

TERMINAL_UPDATE_STATES = frozenset(("COMPLETED", "FAILED", "CANCELED"))
EDITIONS = ("core", "pro", "advanced")
EVENTS_PAGE_SIZE = 100
_MS = 1_000_000
_STATE_IN_MESSAGE = re.compile(r"\bis ([A-Z_]+)\.?\s*$")


def edition_of(spec: Mapping[str, Any] | None) -> str:
    edition = str((spec or {}).get("edition") or "advanced").lower()
    return edition if edition in EDITIONS else "advanced"


def observe_update(tracker: Tracker, update: Mapping[str, Any], client: Any = None) -> None:
    """Claim the update if it is terminal and nobody emitted it yet; its span follows once ``client`` has read the
    end event in the background (at once, observed, without a client)."""
    update_id = update.get("update_id")
    if not update_id or update.get("state") not in TERMINAL_UPDATE_STATES:
        return
    claimed, started = tracker.runs.claim(("pipeline_update", str(update_id)))
    if not claimed or (started is None and not tracker.settings.trace_untracked_runs):
        return
    if client is None:
        emit_update(tracker, update, started, None, time_ns())
    else:
        tracker.pipeline_end_reads.submit(update, started, client, time_ns())


def end_from_events(events: Any, update_id: str) -> int | None:
    """The timestamp (ns) of the update's terminal ``update_progress`` event, if the page has it."""
    for event in events if isinstance(events, list) else ():
        if not isinstance(event, Mapping) or event.get("event_type") != "update_progress":
            continue
        origin = event.get("origin")
        if not isinstance(origin, Mapping) or origin.get("update_id") != update_id:
            continue
        if _progress_state(event) in TERMINAL_UPDATE_STATES:
            return _timestamp_ns(event.get("timestamp"))
    return None


def _progress_state(event: Mapping[str, Any]) -> str | None:
    """The state an ``update_progress`` event reports: ``details.update_progress.state`` where the JSON has it
    (the event log table does; databricks-sdk's ``PipelineEvent`` has no ``details``), else its message,
    ``Update 6a2c1b is COMPLETED.``"""
    details = event.get("details")
    progress = details.get("update_progress") if isinstance(details, Mapping) else None
    if isinstance(progress, Mapping) and progress.get("state"):
        return str(progress["state"])
    found = _STATE_IN_MESSAGE.search(str(event.get("message") or ""))
    return found.group(1) if found else None


def _timestamp_ns(text: Any) -> int | None:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1_000_000) * 1_000 if moment.tzinfo is not None else None


def read_end(client: Any, pipeline_id: Any, update_id: str, timeout: float) -> int | None:
    """The end of the update as its event log reports it: one GET of the newest events page, ``timeout`` seconds
    at most, no retries; ``None`` when it cannot be read or holds no terminal event for the update. Blocks: run it
    off the caller's thread (:mod:`.pipeline_end_reads` does)."""
    config = getattr(client, "_cfg", None)
    host = getattr(config, "host", None)
    if not pipeline_id or not host:
        return None
    url = f"{str(host).rstrip('/')}/api/2.0/pipelines/{pipeline_id}/events?max_results={EVENTS_PAGE_SIZE}"
    try:
        page = get_json(url, config.authenticate(), timeout)
    except Exception as exc:  # the event log is a better clock, not a requirement
        _logger.debug("could not read the events of pipeline update %s: %r", update_id, exc)
        return None
    return end_from_events(page.get("events") if isinstance(page, Mapping) else None, update_id)


def emit_update(
    tracker: Tracker, update: Mapping[str, Any], started: StartedRun | None, end_ns: int | None, observed_ns: int
) -> None:
    """The update's span: Databricks' times when the end event was read, else this process's observation."""
    facts = started.facts if started is not None else {}
    pipeline_id = update.get("pipeline_id") or facts.get("pipeline_id")
    spec = update.get("config") if isinstance(update.get("config"), Mapping) else tracker.pipelines.get(pipeline_id)
    creation = update.get("creation_time")
    created = int(creation) * _MS if isinstance(creation, (int, float)) and creation > 0 else None
    if end_ns is not None and created is not None and created <= end_ns:
        start, end, timing = created, end_ns, "databricks"
    elif created is not None and created <= observed_ns:
        start, end, timing = created, observed_ns, "observed"
    else:
        start = started.start_ns if started is not None else observed_ns
        end, timing = max(observed_ns, start), "observed"
    seconds = (end - start) / 1e9
    attributes: dict[str, Any] = {
        PIPELINE_UPDATE_ID: str(update["update_id"]),
        PIPELINE_UPDATE_STATE: str(update["state"]),
        COMPUTE_TYPE: DLT,
        RUN_TIMING: timing,
    }
    if pipeline_id:
        attributes[PIPELINE_ID] = str(pipeline_id)
    full_refresh = update.get("full_refresh", facts.get("full_refresh"))
    if full_refresh is not None:
        attributes[PIPELINE_FULL_REFRESH] = bool(full_refresh)
    selection = update.get("refresh_selection") or facts.get("refresh_selection")
    if selection:
        attributes[PIPELINE_REFRESH_SELECTION] = [str(table) for table in selection]
    total = None
    if isinstance(spec, Mapping):
        edition = edition_of(spec)
        attributes[PIPELINE_SERVERLESS] = bool(spec.get("serverless"))
        attributes[PIPELINE_EDITION] = edition
        costed = tracker.cost.pipeline_update(spec, edition, seconds)
        if costed.summaries:
            attributes[CLUSTER_SUMMARY] = list(costed.summaries)
        attributes.update(costed.attributes)
        attributes.update(estimate_attributes(costed.estimate))
        total = costed.estimate
    context = started.context if started is not None else EMPTY
    attributes.update(context.attributes)
    if started is None:
        attributes[RUN_TRACKED] = False
    parent = started.parent if started is not None else None
    span = start_run_span(tracker.tracer, SPAN_PIPELINE_UPDATE, parent, start, attributes)
    state = str(update["state"])
    end_run_span(span, end, None if state == "COMPLETED" else state)
    tracker.record(seconds, total, tracker.metric_attributes("pipeline_update", DLT, context))
