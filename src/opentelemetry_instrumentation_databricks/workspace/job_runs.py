"""Job run spans: ``databricks.jobs.run`` with a ``databricks.jobs.task_run`` child per task, emitted once.

Whichever response first shows a run terminal (``runs/get``, ``Wait.result()``'s polls, ``runs/list``) emits its
span (see :mod:`.runs`); parent = the submit/run-now call's span, or the span our ``otel_trace_id``/``otel_span_id``
cluster tags name for a run this process did not start (``trace_untracked_runs``). The run and its tasks are timed
by Databricks' ``start_time``/``end_time`` (``databricks.run.timing=databricks``), else from the starting call to
the response that showed the end (``observed``).

The run span carries the run's estimate (``databricks.cost.summable=true``); task spans carry their own share with
``databricks.cost.summable=false``, so summing summable estimates over a trace counts each run once.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import time_ns
from typing import Any

from ..attributes import (
    CLUSTER_CUSTOM_TAGS,
    CLUSTER_SUMMARY,
    COMPUTE_TYPE,
    DAGSTER_OPAQUE_ID,
    JOB_ID,
    JOB_RUN_ID,
    JOB_RUN_NAME,
    JOB_RUN_TYPE,
    JOB_TASK_KEY,
    JOB_TASK_KEYS,
    JOB_TASK_RUN_ID,
    JOB_TASK_TYPE,
    JOB_TASK_TYPES,
    RUN_LIFE_CYCLE_STATE,
    RUN_RESULT_STATE,
    RUN_TIMING,
    RUN_TRACKED,
    SPAN_JOB_RUN,
    SPAN_JOB_TASK_RUN,
)
from ..context import EMPTY
from ..cost.compute import Compute, job_clusters, task_compute, task_type
from ..cost.model import estimate_attributes
from .runs import StartedRun, end_run_span, parent_from_tags, start_run_span
from .tracker import Tracker

TERMINAL_LIFE_CYCLE_STATES = frozenset(("TERMINATED", "SKIPPED", "INTERNAL_ERROR"))
SUCCESSFUL_RESULTS = frozenset(("SUCCESS", "SUCCESS_WITH_FAILURES", "EXCLUDED"))
_MS = 1_000_000


def run_state(run: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(life_cycle_state, result_state)``, from ``state`` or (Jobs 2.2) ``status``."""
    state = run.get("state") if isinstance(run.get("state"), Mapping) else {}
    life_cycle, result = state.get("life_cycle_state"), state.get("result_state")
    status = run.get("status")
    if isinstance(status, Mapping):
        if life_cycle is None and status.get("state") is not None:
            life_cycle = status["state"]
        details = status.get("termination_details")
        if result is None and isinstance(details, Mapping):
            result = details.get("code")
    return life_cycle, result


def is_terminal(run: Mapping[str, Any]) -> bool:
    return run_state(run)[0] in TERMINAL_LIFE_CYCLE_STATES


def _error_of(run: Mapping[str, Any]) -> str | None:
    life_cycle, result = run_state(run)
    if life_cycle == "INTERNAL_ERROR":
        return str(result or life_cycle)
    if result is None or result in SUCCESSFUL_RESULTS:
        return None
    return str(result)


def _ns(milliseconds: Any) -> int | None:
    if isinstance(milliseconds, (int, float)) and not isinstance(milliseconds, bool) and milliseconds > 0:
        return int(milliseconds) * _MS
    return None


def observe_run(tracker: Tracker, run: Mapping[str, Any]) -> None:
    """Emit the run's span if ``run`` is terminal and nobody emitted it yet (any thread, any response)."""
    run_id = run.get("run_id")
    if run_id is None or not is_terminal(run):
        return
    claimed, started = tracker.runs.claim(("job_run", str(run_id)))
    if not claimed:
        return
    if started is None and not tracker.settings.trace_untracked_runs:
        return
    _emit_run(tracker, run, started)


def _custom_tags(specs: list[Mapping[str, Any]]) -> dict[str, Any]:
    tags: dict[str, Any] = {}
    for spec in specs:
        custom = spec.get("custom_tags")
        if isinstance(custom, Mapping):
            for key, value in custom.items():
                tags.setdefault(key, value)
    return tags


def _emit_run(tracker: Tracker, run: Mapping[str, Any], started: StartedRun | None) -> None:
    now = time_ns()
    facts = started.facts if started is not None else {}
    tasks = run.get("tasks")
    with_timing = isinstance(tasks, list) and bool(tasks)
    if not with_timing:
        tasks = facts.get("tasks") if isinstance(facts.get("tasks"), list) else ([run] if task_type(run) else [])
    tasks = [task for task in tasks if isinstance(task, Mapping)]
    clusters = job_clusters(run) or job_clusters(facts)
    run_start = _ns(run.get("start_time"))
    run_end = _ns(run.get("end_time"))
    timing = "databricks" if run_start and run_end else "observed"
    run_start = run_start or (started.start_ns if started is not None else None) or run_end or now
    run_end = max(run_end or now, run_start)

    computes = [task_compute(task, clusters, tracker.cost.clusters) for task in tasks]
    timed = [
        (
            compute,
            (_ns(task.get("start_time")) if with_timing else None) or run_start,
            (_ns(task.get("end_time")) if with_timing else None) or run_end,
        )
        for task, compute in zip(tasks, computes, strict=True)
    ]
    costed, compute_type = tracker.cost.run(timed)

    attributes: dict[str, Any] = {JOB_RUN_ID: str(run["run_id"]), COMPUTE_TYPE: compute_type, RUN_TIMING: timing}
    if run.get("job_id") is not None:
        attributes[JOB_ID] = str(run["job_id"])
    if run.get("run_name"):
        attributes[JOB_RUN_NAME] = str(run["run_name"])
    if run.get("run_type"):
        attributes[JOB_RUN_TYPE] = str(run["run_type"])
    life_cycle, result = run_state(run)
    attributes[RUN_LIFE_CYCLE_STATE] = str(life_cycle)
    if result is not None:
        attributes[RUN_RESULT_STATE] = str(result)
    keys = [str(task["task_key"]) for task in tasks if task.get("task_key")]
    if keys:
        attributes[JOB_TASK_KEYS] = keys
    if tasks:
        attributes[JOB_TASK_TYPES] = sorted({task_type(task) or "unknown" for task in tasks})
    if costed.summaries:
        attributes[CLUSTER_SUMMARY] = list(costed.summaries)
    tags = _custom_tags([c.spec for c in computes if c.spec is not None])
    if tags:
        attributes[CLUSTER_CUSTOM_TAGS] = [f"{key}={value}" for key, value in tags.items()]
    attributes.update(costed.attributes)
    attributes.update(estimate_attributes(costed.estimate))
    context = started.context if started is not None else None
    if context is not None:
        attributes.update(context.attributes)
    parent = started.parent if started is not None else parent_from_tags(tags)
    if started is None:
        attributes[RUN_TRACKED] = False
        if tags.get(tracker.settings.opaque_id_tag_key):
            attributes[DAGSTER_OPAQUE_ID] = str(tags[tracker.settings.opaque_id_tag_key])

    run_span = start_run_span(tracker.tracer, SPAN_JOB_RUN, parent, run_start, attributes)
    if with_timing:
        for task, compute in zip(tasks, computes, strict=True):
            _emit_task(tracker, run_span.get_span_context(), task, compute, run_start, run_end)
    end_run_span(run_span, run_end, _error_of(run))
    metric_attributes = tracker.metric_attributes("job_run", compute_type, context or EMPTY)
    tracker.record((run_end - run_start) / 1e9, costed.estimate, metric_attributes)


def _emit_task(
    tracker: Tracker, parent: Any, task: Mapping[str, Any], compute: Compute, run_start: int, run_end: int
) -> None:
    start = _ns(task.get("start_time")) or run_start
    end = max(_ns(task.get("end_time")) or run_end, start)
    attributes: dict[str, Any] = {}
    if task.get("task_key"):
        attributes[JOB_TASK_KEY] = str(task["task_key"])
    if task.get("run_id") is not None:
        attributes[JOB_TASK_RUN_ID] = str(task["run_id"])
    kind = task_type(task)
    if kind:
        attributes[JOB_TASK_TYPE] = kind
    if compute.compute_type:
        attributes[COMPUTE_TYPE] = compute.compute_type
    life_cycle, result = run_state(task)
    if life_cycle is not None:
        attributes[RUN_LIFE_CYCLE_STATE] = str(life_cycle)
    if result is not None:
        attributes[RUN_RESULT_STATE] = str(result)
    costed = tracker.cost.estimate(compute, (end - start) / 1e9)
    if costed.summaries:
        attributes[CLUSTER_SUMMARY] = list(costed.summaries)
    attributes.update(costed.attributes)
    attributes.update(estimate_attributes(costed.estimate, summable=False))
    span = start_run_span(tracker.tracer, SPAN_JOB_TASK_RUN, parent, start, attributes)
    end_run_span(span, end, _error_of(task) if life_cycle is not None else None)
