"""``system.lakeflow.job_run_timeline``, ``job_task_run_timeline`` and ``pipeline_update_timeline``.

Docs: https://docs.databricks.com/aws/en/admin/system-tables/jobs. As there, a run longer than an hour is sliced
into rows at clock-hour boundaries, only the row that ends the run carries ``result_state`` and
``termination_code``, and rows are immutable: a slice appears once it is over (the last one once the run has
ended). Result states use the system tables' vocabulary (``SUCCEEDED``, ``FAILED``, ``SKIPPED``, ``CANCELLED``,
``TIMED_OUT``, ``ERROR``), not the Jobs API's. Ids are strings, as in every system table.

Not modelled: the newer ``compute`` array column of the job timelines (its element type is not in the reference
this was built from), and ``request_id`` of pipeline updates (always NULL).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..records import JobRunRecord, PipelineUpdateRecord, TaskRunRecord
from ..runs import TERMINATION_OF_RESULT
from .snapshot import Snapshot, seconds, utc
from .tables import BIGINT, STRING, STRING_MAP, STRINGS, TIMESTAMP, TableSpec, string_struct, struct

DOC = "https://docs.databricks.com/aws/en/admin/system-tables/jobs"
HOUR = 3600.0

JOB_RUN_TIMELINE = TableSpec(
    "lakeflow",
    "job_run_timeline",
    (
        ("account_id", STRING),
        ("workspace_id", STRING),
        ("job_id", STRING),
        ("run_id", STRING),
        ("period_start_time", TIMESTAMP),
        ("period_end_time", TIMESTAMP),
        ("trigger_type", STRING),
        ("run_type", STRING),
        ("run_name", STRING),
        ("compute_ids", STRINGS),
        ("result_state", STRING),
        ("termination_code", STRING),
        ("job_parameters", STRING_MAP),
        ("source_task_run_id", STRING),
        ("root_task_run_id", STRING),
        ("termination_type", STRING),
        ("setup_duration_seconds", BIGINT),
        ("queue_duration_seconds", BIGINT),
        ("run_duration_seconds", BIGINT),
        ("cleanup_duration_seconds", BIGINT),
        ("execution_duration_seconds", BIGINT),
    ),
    DOC,
)

JOB_TASK_RUN_TIMELINE = TableSpec(
    "lakeflow",
    "job_task_run_timeline",
    (
        ("account_id", STRING),
        ("workspace_id", STRING),
        ("job_id", STRING),
        ("run_id", STRING),
        ("job_run_id", STRING),
        ("parent_run_id", STRING),
        ("period_start_time", TIMESTAMP),
        ("period_end_time", TIMESTAMP),
        ("task_key", STRING),
        ("compute_ids", STRINGS),
        ("result_state", STRING),
        ("termination_code", STRING),
    ),
    DOC,
)

PIPELINE_UPDATE_TIMELINE = TableSpec(
    "lakeflow",
    "pipeline_update_timeline",
    (
        ("account_id", STRING),
        ("workspace_id", STRING),
        ("pipeline_id", STRING),
        ("update_id", STRING),
        ("update_type", STRING),
        ("request_id", STRING),
        ("run_as_user_name", STRING),
        ("trigger_type", STRING),
        ("trigger_details", struct(job_task=string_struct("job_id", "job_run_id"))),
        ("result_state", STRING),
        ("compute", string_struct("type", "cluster_id")),
        ("period_start_time", TIMESTAMP),
        ("period_end_time", TIMESTAMP),
        ("refresh_selection", STRINGS),
        ("full_refresh_selection", STRINGS),
        ("reset_checkpoint_selection", STRINGS),
    ),
    DOC,
)

_RESULT_STATES = {
    "SUCCESS": "SUCCEEDED",
    "FAILED": "FAILED",
    "TIMEDOUT": "TIMED_OUT",
    "CANCELED": "CANCELLED",
    "INTERNAL_ERROR": "ERROR",
    "UPSTREAM_FAILED": "SKIPPED",
    "UPSTREAM_CANCELED": "SKIPPED",
    "MAXIMUM_CONCURRENT_RUNS_REACHED": "SKIPPED",
}
_TRIGGERS = {"ONE_TIME": "ONETIME", "RETRY": "ONETIME_RETRY", "PERIODIC": "CRON", "RUN_JOB_TASK": "ONETIME"}


def slices(start: float, end: float | None, visible_before: float) -> Iterator[tuple[float, float, bool]]:
    """``(start, end, last)`` of the hour slices of ``[start, end)`` that are over by ``visible_before``."""
    at = start
    while True:
        boundary = at - at % HOUR + HOUR
        if end is not None and end <= boundary:
            if end <= visible_before:
                yield at, end, True
            return
        if boundary > visible_before:
            return
        yield at, boundary, False
        at = boundary


def _result(record: JobRunRecord | TaskRunRecord) -> tuple[str | None, str | None, str | None]:
    if record.result_state is None:
        return None, None, None
    code, kind = TERMINATION_OF_RESULT.get(record.result_state, ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"))
    if record.life_cycle_state == "INTERNAL_ERROR":
        code, kind = "INTERNAL_ERROR", "INTERNAL_ERROR"
        return "ERROR", code, kind
    return _RESULT_STATES.get(record.result_state, record.result_state), code, kind


def _compute_ids(tasks: tuple[TaskRunRecord, ...], *, job_compute_only: bool) -> list[str]:
    found: dict[str, None] = {}
    for task in tasks:
        if task.cluster_id and (task.compute_type == "jobs_classic" or not job_compute_only):
            found[task.cluster_id] = None
        if task.warehouse_id and not job_compute_only:
            found[task.warehouse_id] = None
    return list(found)


def _duration(millis: int) -> int:
    return round(millis / 1000)


def job_run_rows(snapshot: Snapshot, account_id: str, visible_before: float) -> list[tuple]:
    rows = []
    for run in snapshot.job_runs:
        result, code, kind = _result(run)
        start, end = seconds(run.start_time) or 0.0, seconds(run.end_time)
        compute_ids = _compute_ids(run.tasks, job_compute_only=True)
        run_ms = (run.end_time - run.start_time) if run.end_time is not None else 0
        phases = [(t.setup_duration, t.execution_duration, t.cleanup_duration) for t in run.tasks]
        for slice_start, slice_end, last in slices(start, end, visible_before):
            rows.append(
                (
                    account_id,
                    snapshot.workspace_id,
                    str(run.job_id),
                    str(run.run_id),
                    utc(slice_start),
                    utc(slice_end),
                    _TRIGGERS.get(run.trigger, run.trigger),
                    run.run_type,
                    run.run_name,
                    compute_ids,
                    result if last else None,
                    code if last else None,
                    dict(run.job_parameters),
                    None,
                    None,
                    kind if last else None,
                    _duration(sum(p[0] for p in phases)) if last else None,
                    _duration(run.queue_duration) if last else None,
                    _duration(run_ms) if last else None,
                    _duration(sum(p[2] for p in phases)) if last else None,
                    _duration(sum(p[1] for p in phases)) if last else None,
                )
            )
    return rows


def job_task_rows(snapshot: Snapshot, account_id: str, visible_before: float) -> list[tuple]:
    rows = []
    for run in snapshot.job_runs:
        for task in run.tasks:
            result, code, _ = _result(task)
            end = seconds(task.end_time)
            start = seconds(task.start_time)
            if start is None:
                if end is None:
                    continue
                start = end
            spans = slices(start, end, visible_before)
            for slice_start, slice_end, last in spans:
                rows.append(
                    (
                        account_id,
                        snapshot.workspace_id,
                        str(run.job_id),
                        str(task.run_id),
                        str(run.run_id),
                        str(run.run_id),
                        utc(slice_start),
                        utc(slice_end),
                        task.task_key,
                        _compute_ids((task,), job_compute_only=False),
                        result if last else None,
                        code if last else None,
                    )
                )
    return rows


def _update_result(update: PipelineUpdateRecord) -> str | None:
    return update.state if update.state in ("COMPLETED", "FAILED", "CANCELED") else None


def pipeline_update_rows(snapshot: Snapshot, account_id: str, visible_before: float) -> list[tuple]:
    rows = []
    for update in snapshot.pipeline_updates:
        start, end = seconds(update.creation_time) or 0.0, seconds(update.end_time)
        trigger = None
        if update.job_run_id is not None:
            job_id = next((str(r.job_id) for r in snapshot.job_runs if r.run_id == update.job_run_id), None)
            trigger = {"job_task": {"job_id": job_id, "job_run_id": str(update.job_run_id)}}
        compute = {
            "type": "SERVERLESS" if update.serverless else "CLASSIC",
            "cluster_id": update.cluster_id,
        }
        for slice_start, slice_end, last in slices(start, end, visible_before):
            rows.append(
                (
                    account_id,
                    snapshot.workspace_id,
                    update.pipeline_id,
                    update.update_id,
                    "FULL_REFRESH" if update.full_refresh else "REFRESH",
                    None,
                    snapshot.user_name,
                    update.cause,
                    trigger,
                    _update_result(update) if last else None,
                    compute,
                    utc(slice_start),
                    utc(slice_end),
                    list(update.refresh_selection),
                    list(update.full_refresh_selection),
                    [],
                )
            )
    return rows
