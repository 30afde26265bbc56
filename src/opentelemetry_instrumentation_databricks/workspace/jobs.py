"""Jobs API handlers: submit, run-now, create/reset/update, runs get/list/cancel/repair, get-output.

Tags go into every carrier the Jobs API keeps, never over a user's key, and only with ``inject_tags`` on:

- job ``tags`` on ``create`` and ``reset`` (``new_settings``); on ``update`` only when ``new_settings`` already
  carries ``tags`` (an update replaces top-level fields: adding ``tags`` would erase the job's others);
- ``custom_tags`` of each ``tasks[].new_cluster`` and ``job_clusters[].new_cluster`` (submit, create, reset, update);
- ``run_name`` of a submitted run, when the user gave none. ``runs/submit`` has no ``tags`` field.

Trace context: ``spark_env_vars.TRACEPARENT`` on the new clusters of a submitted run; with
``trace_context_parameters`` also ``notebook_task.base_parameters.traceparent`` and
``python_wheel_task.named_parameters.traceparent`` (submit) and ``job_parameters.traceparent`` (run-now; the job
must define that parameter). Code on the cluster continues the trace with
:func:`opentelemetry_instrumentation_databricks.remote.adopt_trace_context`.

A run's span (``databricks.jobs.run``, with a ``databricks.jobs.task_run`` child per task) is emitted once, when a
response first shows the run terminal; see :mod:`.job_runs`. Its parent is the submit/run-now call's span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..attributes import (
    CLUSTER_SUMMARY,
    COMPUTE_TYPE,
    JOB_ID,
    JOB_RUN_ID,
    JOB_RUN_NAME,
    JOB_TASK_KEYS,
    JOB_TASK_TYPES,
    RUN_LIFE_CYCLE_STATE,
    TAGS_DROPPED,
)
from ..cost.clusters import cluster_summary
from ..cost.compute import job_clusters, task_compute_facts, task_type
from ..tags import JOB_TAGS
from .bodies import TRACEPARENT_PARAMETER, cluster_with_tags, map_list, run_name_of, with_default, with_tags
from .call import Call, Handler
from .job_runs import TERMINAL_LIFE_CYCLE_STATES, observe_run, run_state
from .runs import StartedRun


# request side
def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _tagged_clusters(items: Any, call: Call, dropped: list[str], traceparent: bool) -> Any:
    """A new list of ``items`` (tasks or job clusters) with each ``new_cluster`` tagged; a non-list as it was."""
    if not isinstance(items, list):
        return items
    tagged = []
    for item in items:
        if type(item) is dict or isinstance(item, Mapping):
            spec = item.get("new_cluster")
            if spec is not None and (type(spec) is dict or isinstance(spec, Mapping)):
                item = {**item, "new_cluster": cluster_with_tags(spec, call, dropped, traceparent)}
        tagged.append(item)
    return tagged


def _tagged_tasks(body: Mapping[str, Any], call: Call, dropped: list[str], traceparent: bool) -> dict[str, Any]:
    """``body`` with the clusters of its tasks and job clusters (and a legacy top-level cluster) tagged."""
    new = dict(body)
    if "tasks" in body:
        new["tasks"] = _tagged_clusters(body["tasks"], call, dropped, traceparent)
    if "job_clusters" in body:
        new["job_clusters"] = _tagged_clusters(body["job_clusters"], call, dropped, traceparent)
    spec = body.get("new_cluster")
    if spec is not None and (type(spec) is dict or isinstance(spec, Mapping)):
        new["new_cluster"] = cluster_with_tags(spec, call, dropped, traceparent)
    return new


def _with_task_parameters(task: Mapping[str, Any], traceparent: str) -> Mapping[str, Any]:
    notebook = task.get("notebook_task")
    if _is_mapping(notebook):
        task = {**task, "notebook_task": with_default(notebook, "base_parameters", TRACEPARENT_PARAMETER, traceparent)}
    wheel = task.get("python_wheel_task")
    if _is_mapping(wheel) and not wheel.get("parameters"):
        task = {
            **task,
            "python_wheel_task": with_default(wheel, "named_parameters", TRACEPARENT_PARAMETER, traceparent),
        }
    return task


def _tasks_of(settings: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The tasks of a job or run definition; a legacy single-task definition (a ``*_task`` at the top) is its own."""
    tasks = settings.get("tasks")
    tasks = (
        [task for task in tasks if type(task) is dict or isinstance(task, Mapping)] if isinstance(tasks, list) else []
    )
    if not tasks and task_type(settings):
        tasks = [settings]
    return tasks


def _describe_tasks(call: Call, settings: Mapping[str, Any], attributes: dict[str, Any]) -> None:
    """Task keys and types, compute types and cluster summaries of a job or run definition, into ``attributes``.

    Tags and trace context never change what this reads, so it runs on the user's body before the span starts."""
    tasks = _tasks_of(settings)
    if not tasks:
        return
    cost = call.tracker.cost
    clusters = job_clusters(settings) if "job_clusters" in settings else {}
    keys = []
    types = set()
    compute_types = set()
    specs: dict[tuple[str, str], tuple[Mapping[str, Any] | None, str | None]] = {}
    for task in tasks:
        key = task.get("task_key")
        if key:
            keys.append(str(key))
        types.add(task_type(task) or "unknown")
        compute_type, group, spec, cluster_id, _, _ = task_compute_facts(task, clusters, cost.clusters)
        if compute_type:
            compute_types.add(compute_type)
        specs[group] = (spec, cluster_id)
    if keys:
        attributes[JOB_TASK_KEYS] = keys
    attributes[JOB_TASK_TYPES] = sorted(types)
    if len(compute_types) == 1:
        attributes[COMPUTE_TYPE] = compute_types.pop()
    summaries = [
        cluster_summary(spec, cost.observed_workers(cluster_id) if cluster_id is not None else None)
        for spec, cluster_id in specs.values()
        if spec is not None
    ]
    if summaries:
        attributes[CLUSTER_SUMMARY] = summaries


def _single_compute_type(call: Call, settings: Mapping[str, Any]) -> str | None:
    """The compute type every task of a run definition shares, or ``None`` (mixed, or no tasks)."""
    clusters = job_clusters(settings) if "job_clusters" in settings else {}
    specs = call.tracker.cost.clusters
    found = None
    for task in _tasks_of(settings):
        compute_type = task_compute_facts(task, clusters, specs)[0]
        if compute_type is None:
            continue
        if found is not None and compute_type != found:
            return None
        found = compute_type
    return found


def _set_dropped(call: Call, dropped: list[str]) -> None:
    if dropped:
        call.span.set_attribute(TAGS_DROPPED, dropped)


def _remember_run(call: Call, run_id: Any, definition: Mapping[str, Any] | None) -> None:
    """Record the run this call started, with the tasks it defined (``list_runs`` pages carry no tasks)."""
    if run_id is None:
        return
    run_id = str(run_id)
    call.span.set_attribute(JOB_RUN_ID, run_id)
    facts = {}
    if definition is not None:
        facts = {"tasks": definition.get("tasks"), "job_clusters": definition.get("job_clusters")}
    started = StartedRun(call.span_context(), call.context, call.start, facts)
    call.tracker.runs.start(("job_run", run_id), started)


class SubmitRun(Handler):
    """``POST /api/2.2/jobs/runs/submit``: a one-time run.

    The call's span names the run (name, compute type, opaque id, run id); the run's tasks and clusters (keys,
    types, cluster summaries) are described once, on its run span, with the estimate they decide."""

    starts_work = True
    __slots__ = ()

    def describe(self, call: Call, attributes: dict[str, Any]) -> None:
        body = call.body
        if not _is_mapping(body):
            return
        if body.get("run_name"):
            attributes[JOB_RUN_NAME] = str(body["run_name"])
        compute_type = _single_compute_type(call, body)
        if compute_type is not None:
            attributes[COMPUTE_TYPE] = compute_type

    def request(self, call: Call) -> None:
        body = call.body
        if not _is_mapping(body):
            return
        settings = call.tracker.settings
        if settings.inject_tags:
            dropped: list[str] = []
            new = _tagged_tasks(body, call, dropped, traceparent=True)
            if settings.trace_context_parameters:
                traceparent = call.traceparent()
                new["tasks"] = map_list(new.get("tasks"), lambda task: _with_task_parameters(task, traceparent))
                if new["tasks"] is None:
                    del new["tasks"]
            if not body.get("run_name"):
                new["run_name"] = run_name_of(call.our_tags())
                call.span.set_attribute(JOB_RUN_NAME, new["run_name"])
            _set_dropped(call, dropped)
            call.body = new

    def response(self, call: Call, response: Any) -> None:
        if _is_mapping(response):
            _remember_run(call, response.get("run_id"), call.body if _is_mapping(call.body) else None)


class RunNow(Handler):
    """``POST /api/2.2/jobs/run-now``: a run of an existing job (asset-bundle jobs are ordinary jobs)."""

    starts_work = True
    __slots__ = ()

    def describe(self, call: Call, attributes: dict[str, Any]) -> None:
        job_id = call.body_value("job_id")
        if job_id is not None:
            attributes[JOB_ID] = str(job_id)

    def request(self, call: Call) -> None:
        settings = call.tracker.settings
        if settings.inject_tags and settings.trace_context_parameters and _is_mapping(call.body):
            call.body = with_default(call.body, "job_parameters", TRACEPARENT_PARAMETER, call.traceparent())

    def response(self, call: Call, response: Any) -> None:
        if _is_mapping(response):
            _remember_run(call, response.get("run_id"), None)


class WriteJob(Handler):
    """``create`` (settings at the top of the body), ``reset`` and ``update`` (settings under ``new_settings``)."""

    __slots__ = ("partial", "settings_field")

    def __init__(self, service: str, operation: str, settings_field: str | None, partial: bool = False) -> None:
        super().__init__(service, operation)
        self.settings_field = settings_field
        self.partial = partial

    def _settings(self, body: Any) -> Mapping[str, Any] | None:
        if not _is_mapping(body):
            return None
        settings = body.get(self.settings_field) if self.settings_field else body
        return settings if _is_mapping(settings) else None

    def describe(self, call: Call, attributes: dict[str, Any]) -> None:
        body = call.body
        if not _is_mapping(body):
            return
        if body.get("job_id") is not None:
            attributes[JOB_ID] = str(body["job_id"])
        settings = self._settings(body)
        if settings is not None:
            _describe_tasks(call, settings, attributes)

    def request(self, call: Call) -> None:
        settings = self._settings(call.body)
        if settings is None or not call.tracker.settings.inject_tags:
            return
        dropped: list[str] = []
        new = _tagged_tasks(settings, call, dropped, traceparent=False)
        if not self.partial or _is_mapping(settings.get("tags")):
            new = with_tags(new, "tags", call.our_tags(), JOB_TAGS, dropped)
        _set_dropped(call, dropped)
        call.body = {**call.body, self.settings_field: new} if self.settings_field else new

    def response(self, call: Call, response: Any) -> None:
        if _is_mapping(response) and response.get("job_id") is not None:
            call.span.set_attribute(JOB_ID, str(response["job_id"]))


class RunCall(Handler):
    """A call about one run: cancel, delete, export, get-output (the run id comes in the query or the body)."""

    __slots__ = ()

    def describe(self, call: Call, attributes: dict[str, Any]) -> None:
        run_id = call.query_value("run_id") or call.body_value("run_id")
        if run_id is not None:
            attributes[JOB_RUN_ID] = str(run_id)


class JobCall(Handler):
    """A call about one job: get, delete (the job id comes in the query or the body)."""

    __slots__ = ()

    def describe(self, call: Call, attributes: dict[str, Any]) -> None:
        job_id = call.query_value("job_id") or call.body_value("job_id")
        if job_id is not None:
            attributes[JOB_ID] = str(job_id)


class RepairRun(RunCall):
    """``runs/repair`` re-runs tasks of a finished run: the run is tracked again, parent = the repair call."""

    starts_work = True
    __slots__ = ()

    def response(self, call: Call, response: Any) -> None:
        run_id = call.body_value("run_id")
        if run_id is not None:
            _remember_run(call, run_id, None)


class GetRun(RunCall):
    """``runs/get``: also what ``Wait.result()`` polls."""

    polled_run = "job_run"
    __slots__ = ()

    def polled_run_id(self, params: Mapping[str, str], query: Mapping[str, Any] | None) -> str | None:
        run_id = query.get("run_id") if isinstance(query, Mapping) else None
        return str(run_id) if run_id is not None else None

    def response(self, call: Call, response: Any) -> None:
        if _is_mapping(response):
            life_cycle = run_state(response)[0]
            call.span.set_attribute(RUN_LIFE_CYCLE_STATE, str(life_cycle))
            if life_cycle in TERMINAL_LIFE_CYCLE_STATES:
                observe_run(call.tracker, response)


class ListRuns(Handler):
    """``runs/list``: every terminal run on the page is observed."""

    __slots__ = ()

    def describe(self, call: Call, attributes: dict[str, Any]) -> None:
        job_id = call.query_value("job_id")
        if job_id is not None:
            attributes[JOB_ID] = str(job_id)

    def response(self, call: Call, response: Any) -> None:
        runs = response.get("runs") if isinstance(response, Mapping) else None
        if isinstance(runs, list):
            for run in runs:
                if isinstance(run, Mapping):
                    observe_run(call.tracker, run)


SUBMIT = SubmitRun("jobs", "submit")
RUN_NOW = RunNow("jobs", "run_now")
CREATE = WriteJob("jobs", "create", None)
RESET = WriteJob("jobs", "reset", "new_settings")
UPDATE = WriteJob("jobs", "update", "new_settings", partial=True)
GET = JobCall("jobs", "get")
DELETE = JobCall("jobs", "delete")
LIST = Handler("jobs", "list")
GET_RUN = GetRun("jobs", "get_run")
LIST_RUNS = ListRuns("jobs", "list_runs")
CANCEL_RUN = RunCall("jobs", "cancel_run")
CANCEL_ALL_RUNS = JobCall("jobs", "cancel_all_runs")
DELETE_RUN = RunCall("jobs", "delete_run")
EXPORT_RUN = RunCall("jobs", "export_run")
REPAIR_RUN = RepairRun("jobs", "repair_run")
GET_RUN_OUTPUT = RunCall("jobs", "get_run_output")
