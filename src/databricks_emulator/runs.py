"""Job runs on the emulator clock: task attempts, the compute they run on, their schedule, and the ``Run`` JSON.

A run is planned when it starts: tasks are placed in the order they become ready (their upstream tasks done),
each gets a setup phase from its compute (a new cluster starts, a job cluster is shared, an all-purpose cluster
may already run, serverless starts fast), a RUNNING phase from its scripted or default outcome, and a cleanup
phase. Cancelling or timing out cuts the plan at that moment; a repair plans new attempts from the moment it is
asked. Every state is then read off the clock.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .clusters import Cluster, clusters
from .discovery import current_user_name
from .lifecycle import TaskOutcome, Timing, lifecycle
from .pipelines import Update, pipelines
from .records import BoundedTable, JobRunRecord, TaskRunRecord, millis
from .workspace import Workspace

ACTIVE_STATES = frozenset({"QUEUED", "PENDING", "BLOCKED", "RUNNING", "TERMINATING", "WAITING_FOR_RETRY"})
TASK_TYPES = (
    "notebook_task",
    "spark_python_task",
    "python_wheel_task",
    "spark_jar_task",
    "spark_submit_task",
    "sql_task",
    "pipeline_task",
    "dbt_task",
    "run_job_task",
    "condition_task",
    "for_each_task",
    "clean_rooms_notebook_task",
    "dashboard_task",
    "power_bi_task",
    "alert_task",
    "dbt_cloud_task",
    "dbt_platform_task",
    "gen_ai_compute_task",
    "python_operator_task",
    "ai_function_task",
    "ai_runtime_task",
)
COMPUTELESS_TASK_TYPES = frozenset({"condition_task", "run_job_task"})
_NOT_SUCCESS = frozenset({"FAILED", "TIMEDOUT", "CANCELED", "UPSTREAM_FAILED", "UPSTREAM_CANCELED", "INTERNAL_ERROR"})
_FAILED = frozenset({"FAILED", "TIMEDOUT", "INTERNAL_ERROR", "UPSTREAM_FAILED"})
TERMINATION_OF_RESULT = {
    "SUCCESS": ("SUCCESS", "SUCCESS"),
    "FAILED": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "TIMEDOUT": ("RUN_EXECUTION_ERROR", "CLIENT_ERROR"),
    "CANCELED": ("USER_CANCELED", "SUCCESS"),
    "INTERNAL_ERROR": ("INTERNAL_ERROR", "INTERNAL_ERROR"),
    "UPSTREAM_FAILED": ("SKIPPED", "SUCCESS"),
    "UPSTREAM_CANCELED": ("SKIPPED", "SUCCESS"),
    "MAXIMUM_CONCURRENT_RUNS_REACHED": ("MAX_CONCURRENT_RUNS_EXCEEDED", "CLIENT_ERROR"),
}
"""Result state -> (termination code, termination type), as runs/get and the lakeflow timelines report them."""
_MESSAGES = {
    "FAILED": "Workload failed, see run output for details",
    "TIMEDOUT": "Run timed out.",
    "CANCELED": "Run cancelled.",
    "INTERNAL_ERROR": "Run result unavailable: job failed with error message Unexpected failure while starting.",
    "UPSTREAM_FAILED": "Upstream task(s) failed.",
    "UPSTREAM_CANCELED": "Upstream task(s) were cancelled.",
}


def task_type(task: dict[str, Any]) -> str | None:
    """The task's type: the name of its ``*_task`` field."""
    return next((name for name in TASK_TYPES if task.get(name) is not None), None)


@dataclass(frozen=True)
class Compute:
    """Where a task runs, as its settings say."""

    type: str | None
    new_cluster: dict[str, Any] | None = None
    existing_cluster_id: str | None = None
    job_cluster_key: str | None = None
    environment_key: str | None = None
    warehouse_id: str | None = None
    pipeline_id: str | None = None


def compute_of(task: dict[str, Any]) -> Compute:
    kind = task_type(task)
    if kind == "pipeline_task":
        return Compute("dlt", pipeline_id=task["pipeline_task"].get("pipeline_id"))
    if kind == "sql_task" or (kind == "dbt_task" and task["dbt_task"].get("warehouse_id")):
        return Compute("sql_warehouse", warehouse_id=(task.get(kind) or {}).get("warehouse_id"))
    if kind in COMPUTELESS_TASK_TYPES:
        return Compute(None)
    if task.get("existing_cluster_id"):
        return Compute("all_purpose", existing_cluster_id=task["existing_cluster_id"])
    if task.get("job_cluster_key"):
        return Compute("jobs_classic", job_cluster_key=task["job_cluster_key"])
    if task.get("new_cluster"):
        return Compute("jobs_classic", new_cluster=task["new_cluster"])
    return Compute("jobs_serverless", environment_key=task.get("environment_key"))


@dataclass
class Cut:
    """The moment a run (segment) was cancelled or timed out, and the result that gives its unfinished tasks."""

    at: float
    result: str


class TaskAttempt:
    """One attempt of one task: its settings, compute, outcome and planned phase boundaries."""

    def __init__(self, run_id: int, spec: dict[str, Any], attempt_number: int, outcome: TaskOutcome) -> None:
        self.run_id = run_id
        self.spec = spec
        self.task_key: str = spec["task_key"]
        self.task_type = task_type(spec) or "unknown_task"
        self.attempt_number = attempt_number
        self.outcome = outcome
        self.compute = compute_of(spec)
        self.cluster: Cluster | None = None
        self.update: Update | None = None
        self.start = self.running = self.terminating = self.end = 0.0
        self.cluster_up = 0.0
        self.cleanup = 0.0
        self.skipped = False
        self.final = "TERMINATED"
        self.result = "SUCCESS"
        self.message = ""

    @property
    def depends_on(self) -> list[str]:
        return [d["task_key"] for d in self.spec.get("depends_on") or []]

    def place(self, start: float, running: float, seconds: float, cleanup: float) -> None:
        self.skipped = False
        self.start, self.running, self.cluster_up = start, running, running
        self.terminating = running + seconds
        self.cleanup = cleanup
        self.end = self.terminating + cleanup

    def skip(self, at: float, result: str) -> None:
        self.skipped = True
        self.start = self.running = self.terminating = self.end = at
        self.final = "SKIPPED" if result.startswith("UPSTREAM") else "TERMINATED"
        self.result = result
        self.message = _MESSAGES.get(result, "")

    def cut(self, cut: Cut) -> None:
        """Stop this attempt at ``cut.at`` if it is still running then."""
        if self.skipped or self.terminating <= cut.at:
            return
        self.running = min(self.running, cut.at)
        self.terminating = max(cut.at, self.start)
        self.end = self.terminating + self.cleanup
        self.final, self.result, self.message = "TERMINATED", cut.result, _MESSAGES[cut.result]

    def life_cycle(self, now: float) -> str:
        if now >= self.end:
            return self.final
        if self.skipped or now < self.start:
            return "BLOCKED"
        if now < self.running:
            return "PENDING"
        if now < self.terminating:
            return "RUNNING"
        return "TERMINATING"

    def result_for_upstream(self) -> str:
        return "FAILED" if self.final == "INTERNAL_ERROR" else self.result

    @property
    def cluster_id(self) -> str | None:
        if self.cluster is not None:
            return self.cluster.cluster_id
        if self.update is not None and self.update.cluster is not None:
            return self.update.cluster.cluster_id
        return None


@dataclass
class Segment:
    """The original run or one repair: attempts planned from ``start``."""

    start: float
    attempts: list[TaskAttempt]
    repair_id: int | None = None
    cut: Cut | None = None
    job_clusters: dict[str, Cluster] = field(default_factory=dict)
    job_cluster_times: dict[str, tuple[float, float]] = field(default_factory=dict)
    order: list[TaskAttempt] = field(default_factory=list)

    @property
    def end(self) -> float:
        return max(a.end for a in self.attempts)


class JobRun:
    """A job run (run-now) or one-time run (runs/submit)."""

    def __init__(self, run_id: int, job_id: int, created: float, **settings: Any) -> None:
        self.run_id = run_id
        self.job_id = job_id
        self.created = created
        self.run_name: str = settings["run_name"]
        self.run_type: str = settings["run_type"]
        self.trigger: str = settings.get("trigger", "ONE_TIME")
        self.creator: str = settings["creator"]
        self.tasks: list[dict[str, Any]] = settings["tasks"]
        self.job_clusters: list[dict[str, Any]] = settings.get("job_clusters") or []
        self.environments: list[dict[str, Any]] = settings.get("environments") or []
        self.job_tags: dict[str, str] = settings.get("job_tags") or {}
        self.job_parameters: list[dict[str, Any]] = settings.get("job_parameters") or []
        self.overriding_parameters: dict[str, Any] = settings.get("overriding_parameters") or {}
        self.idempotency_token: str | None = settings.get("idempotency_token")
        self.budget_policy_id: str | None = settings.get("budget_policy_id")
        self.usage_policy_id: str | None = settings.get("usage_policy_id")
        self.timeout_seconds: int = int(settings.get("timeout_seconds") or 0)
        self.queued_until: float = settings.get("queued_until") or created
        self.skipped_message: str | None = settings.get("skipped_message")
        self.segments: list[Segment] = []
        self.deleted = False

    @property
    def attempts(self) -> list[TaskAttempt]:
        return [a for s in self.segments for a in s.attempts]

    def latest(self) -> list[TaskAttempt]:
        """The newest attempt of each task, in task order."""
        found: dict[str, TaskAttempt] = {}
        for attempt in self.attempts:
            found[attempt.task_key] = attempt
        return list(found.values())

    @property
    def end(self) -> float:
        if self.skipped_message is not None or not self.segments:
            return self.created
        return max(a.end for a in self.latest())

    def finished(self, now: float) -> bool:
        return now >= self.end

    def settles_at(self, now: float) -> float | None:
        return self.end if self.end > now else None

    # state
    def life_cycle(self, now: float) -> tuple[str, str | None, str]:
        """``(life_cycle_state, result_state, state_message)`` at ``now``."""
        if self.skipped_message is not None:
            return "SKIPPED", "MAXIMUM_CONCURRENT_RUNS_REACHED", self.skipped_message
        if now < self.queued_until:
            return "QUEUED", None, "Queued due to reaching maximum concurrent runs of the job."
        latest = self.latest()
        if now >= self.end:
            life = "INTERNAL_ERROR" if any(a.final == "INTERNAL_ERROR" for a in latest) else "TERMINATED"
            results = [a.result_for_upstream() for a in latest]
            cut = self.segments[-1].cut
            if cut is not None and cut.result in results:
                result = cut.result
            elif "TIMEDOUT" in results:
                result = "TIMEDOUT"
            elif any(r in _FAILED for r in results):
                result = "FAILED"
            elif any(r in ("CANCELED", "UPSTREAM_CANCELED") for r in results):
                result = "CANCELED"
            else:
                result = "SUCCESS"
            failing = next((a for a in latest if a.result != "SUCCESS" and a.message), None)
            message = failing.message if failing is not None and result != "SUCCESS" else ""
            return life, result, message
        states = [a.life_cycle(now) for a in latest]
        unfinished = [s for s in states if s in ACTIVE_STATES]
        if all(s in ("PENDING", "BLOCKED") for s in states):
            return "PENDING", None, "Waiting for cluster"
        if unfinished and all(s == "TERMINATING" for s in unfinished):
            return "TERMINATING", None, ""
        return "RUNNING", None, "In run"

    def user_cancelled_or_timedout(self) -> bool:
        return any(s.cut is not None and any(a.result == s.cut.result for a in s.attempts) for s in self.segments)

    def record(self, now: float) -> JobRunRecord:
        life, result, message = self.life_cycle(now)
        ended = now >= self.end
        return JobRunRecord(
            job_id=self.job_id,
            run_id=self.run_id,
            run_name=self.run_name,
            run_type=self.run_type,
            trigger=self.trigger,
            creator_user_name=self.creator,
            job_tags=dict(self.job_tags),
            job_parameters={p["name"]: str(p.get("value", p.get("default", ""))) for p in self.job_parameters},
            budget_policy_id=self.budget_policy_id,
            usage_policy_id=self.usage_policy_id,
            idempotency_token=self.idempotency_token,
            life_cycle_state=life,
            result_state=result,
            state_message=message,
            created_time=millis(self.created) or 0,
            start_time=millis(self.created) or 0,
            end_time=millis(self.end) if ended else None,
            queue_duration=millis(self.queued_until - self.created) or 0,
            tasks=tuple(_task_record(a, now) for a in self.attempts if a.start <= now or a.end <= now),
        )


class Runs:
    """The workspace's job runs: planning, cancelling, repairing, and their JSON."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.table: BoundedTable[int, JobRun] = BoundedTable(
            lambda run: run.finished(self.workspace.clock.time()), on_drop=self._forget
        )
        self.by_task_run: dict[int, tuple[JobRun, TaskAttempt]] = {}
        self.idempotency: OrderedDict[tuple[Any, ...], int] = OrderedDict()

    # lookups
    def find(self, run_id: Any) -> tuple[JobRun, TaskAttempt | None] | None:
        """The run (and task attempt, for a task run id) with ``run_id``."""
        try:
            number = int(run_id)
        except (TypeError, ValueError):
            return None
        run = self.table.get(number)
        if run is not None and not run.deleted:
            return run, None
        found = self.by_task_run.get(number)
        if found is not None and not found[0].deleted:
            return found
        return None

    def remember_token(self, key: tuple[Any, ...], run_id: int) -> None:
        self.idempotency[key] = run_id
        while len(self.idempotency) > self.table.limit:
            self.idempotency.popitem(last=False)

    def active_runs(self, job_id: int, now: float) -> list[JobRun]:
        return [r for r in self.table.values() if r.job_id == job_id and not r.deleted and not r.finished(now)]

    # planning
    def launch(self, *, run_id: int, job_id: int, **settings: Any) -> JobRun:
        """Create a run now and plan its tasks."""
        now = self.workspace.clock.time()
        settings.setdefault("creator", current_user_name(self.workspace))
        run = JobRun(run_id, job_id, now, **settings)
        if run.skipped_message is None:
            attempts = [self._attempt(run, task, 0) for task in run.tasks]
            segment = Segment(run.queued_until, attempts)
            run.segments.append(segment)
            self._plan(run, segment, now)
            if run.timeout_seconds:
                self._cut(run, segment, Cut(run.queued_until + run.timeout_seconds, "TIMEDOUT"))
        self.table.add(run_id, run)
        for attempt in run.attempts:
            self.by_task_run[attempt.run_id] = (run, attempt)
        return run

    def cancel(self, run: JobRun, now: float) -> None:
        if run.skipped_message is not None or run.finished(now):
            return
        if now < run.queued_until:
            run.queued_until = now
        segment = run.segments[-1]
        if segment.cut is None or segment.cut.at > now:
            self._cut(run, segment, Cut(now, "CANCELED"))

    def repair(self, run: JobRun, task_keys: list[str], now: float, repair_id: int) -> None:
        """Re-run ``task_keys`` (new attempts planned from ``now``)."""
        previous = {a.task_key: a for a in run.latest()}
        specs = {t["task_key"]: t for t in run.tasks}
        attempts = [self._attempt(run, specs[key], previous[key].attempt_number + 1) for key in task_keys]
        segment = Segment(now, attempts, repair_id=repair_id)
        run.segments.append(segment)
        self._plan(run, segment, now)
        for attempt in attempts:
            self.by_task_run[attempt.run_id] = (run, attempt)

    def _attempt(self, run: JobRun, spec: dict[str, Any], attempt_number: int) -> TaskAttempt:
        kind = task_type(spec) or "unknown_task"
        facts = {
            "task_key": spec["task_key"],
            "task_type": kind,
            "notebook_path": (spec.get("notebook_task") or {}).get("notebook_path"),
            "python_file": (spec.get("spark_python_task") or {}).get("python_file"),
            "main_class_name": (spec.get("spark_jar_task") or {}).get("main_class_name"),
            "package_name": (spec.get("python_wheel_task") or {}).get("package_name"),
            "job_id": run.job_id,
            "run_name": run.run_name,
        }
        outcome = lifecycle(self.workspace).outcomes.for_task(facts)
        return TaskAttempt(self._new_run_id(), spec, attempt_number, outcome)

    def _new_run_id(self) -> int:
        return 800_000_000_000_000 + self.workspace.next_number()

    def _plan(self, run: JobRun, segment: Segment, now: float) -> None:
        timing = lifecycle(self.workspace).timing
        keys = {a.task_key for a in segment.attempts}
        outside = {a.task_key: a for a in run.latest() if a.task_key not in keys}
        placed: dict[str, TaskAttempt] = {}
        waiting = list(segment.attempts)
        while waiting:
            ready_at: dict[int, float] = {}
            for index, attempt in enumerate(waiting):
                if all(d in placed or d not in keys for d in attempt.depends_on):
                    ends = [placed[d].end for d in attempt.depends_on if d in placed]
                    ready_at[index] = max([segment.start, *ends])
            if not ready_at:
                raise ValueError(f"run {run.run_id}: the task dependencies form a cycle")
            index = min(ready_at, key=lambda i: (ready_at[i], i))
            attempt = waiting.pop(index)
            upstream = [placed.get(d) or outside.get(d) for d in attempt.depends_on]
            self._place(run, segment, attempt, ready_at[index], [u for u in upstream if u is not None], now, timing)
            placed[attempt.task_key] = attempt
            segment.order.append(attempt)
        self._place_job_clusters(run, segment)

    def _place(
        self,
        run: JobRun,
        segment: Segment,
        attempt: TaskAttempt,
        ready: float,
        upstream: list[TaskAttempt],
        now: float,
        timing: Timing,
    ) -> None:
        results = [u.result_for_upstream() for u in upstream]
        if not _run_if(attempt.spec.get("run_if") or "ALL_SUCCESS", results):
            canceled = any(r in ("CANCELED", "UPSTREAM_CANCELED") for r in results)
            attempt.skip(ready, "UPSTREAM_CANCELED" if canceled else "UPSTREAM_FAILED")
            return
        outcome = attempt.outcome
        seconds = outcome.seconds if outcome.seconds is not None else timing.task_duration(attempt.task_type)
        result = outcome.result
        timeout = int(attempt.spec.get("timeout_seconds") or 0)
        if timeout and seconds > timeout:
            seconds, result = float(timeout), "TIMEDOUT"
        compute = attempt.compute
        if compute.type == "dlt":
            self._place_pipeline_task(run, attempt, ready)
            return
        if compute.new_cluster is not None:
            attempt.cluster = attempt.cluster or self._job_cluster(run, compute.new_cluster, attempt.run_id)
            running, cleanup = ready + timing.cluster_start_seconds, timing.cluster_terminate_seconds
        elif compute.job_cluster_key is not None:
            _, up = segment.job_cluster_times.setdefault(
                compute.job_cluster_key, (ready, ready + timing.cluster_start_seconds)
            )
            if compute.job_cluster_key not in segment.job_clusters:
                spec = next(
                    c["new_cluster"] for c in run.job_clusters if c["job_cluster_key"] == compute.job_cluster_key
                )
                segment.job_clusters[compute.job_cluster_key] = self._job_cluster(run, spec, attempt.run_id)
            attempt.cluster = segment.job_clusters[compute.job_cluster_key]
            running, cleanup = max(ready + timing.task_setup_seconds, up), timing.task_cleanup_seconds
        elif compute.existing_cluster_id is not None:
            cluster = clusters(self.workspace).require(compute.existing_cluster_id)
            up = cluster.ready_at(now)
            if up is None:
                up = cluster.start(now).running
            attempt.cluster = cluster
            running, cleanup = max(ready + timing.task_setup_seconds, up), timing.task_cleanup_seconds
        elif compute.type == "jobs_serverless":
            running, cleanup = ready + timing.serverless_start_seconds, timing.task_cleanup_seconds
        elif compute.type == "sql_warehouse":
            running, cleanup = ready + timing.task_setup_seconds, timing.task_cleanup_seconds
        else:
            running, cleanup = ready, 0.0
        attempt.place(ready, running, seconds, cleanup)
        attempt.final = "INTERNAL_ERROR" if result == "INTERNAL_ERROR" else "TERMINATED"
        attempt.result = "FAILED" if result == "INTERNAL_ERROR" else result
        attempt.message = "" if result == "SUCCESS" else outcome.message or _MESSAGES[result]

    def _place_pipeline_task(self, run: JobRun, attempt: TaskAttempt, ready: float) -> None:
        service = pipelines(self.workspace)
        if attempt.update is None:
            pipeline = service.require(attempt.compute.pipeline_id)
            options = {"full_refresh": bool((attempt.spec.get("pipeline_task") or {}).get("full_refresh"))}
            attempt.update = service.start_update(
                pipeline, ready, cause="JOB_TASK", options=options, job_run_id=run.run_id
            )
        update = attempt.update
        end = update.end if update.end is not None else ready + 365 * 86400.0
        attempt.place(ready, ready, end - ready, 0.0)
        final = update.final_state or "COMPLETED"
        attempt.final = "TERMINATED"
        attempt.result = {"COMPLETED": "SUCCESS", "FAILED": "FAILED", "CANCELED": "CANCELED"}[final]
        attempt.message = "" if final == "COMPLETED" else update.outcome.message or _MESSAGES[attempt.result]

    def _job_cluster(self, run: JobRun, spec: dict[str, Any], task_run_id: int) -> Cluster:
        tags = {**run.job_tags, **(spec.get("custom_tags") or {})}
        cluster_spec = {**spec, "custom_tags": tags, "cluster_name": f"job-{run.job_id}-run-{task_run_id}"}
        cluster = clusters(self.workspace).new(
            cluster_spec,
            source="JOB",
            creator=run.creator,
            extra_default_tags={"JobId": str(run.job_id), "RunName": run.run_name},
        )
        cluster.job_id, cluster.job_run_id, cluster.task_run_id = run.job_id, run.run_id, task_run_id
        return cluster

    def _place_job_clusters(self, run: JobRun, segment: Segment) -> None:
        for key, cluster in segment.job_clusters.items():
            users = [a for a in segment.attempts if a.compute.job_cluster_key == key and not a.skipped]
            if not users:
                cluster.discard()
                continue
            requested, up = segment.job_cluster_times[key]
            cluster.place_session(requested, up, max(a.terminating for a in users))
        for attempt in segment.attempts:
            if attempt.compute.new_cluster is not None and attempt.cluster is not None:
                if attempt.skipped:
                    attempt.cluster.discard()
                else:
                    attempt.cluster.place_session(attempt.start, attempt.cluster_up, attempt.terminating)

    def _cut(self, run: JobRun, segment: Segment, cut: Cut) -> None:
        if segment.cut is not None and segment.cut.at <= cut.at:
            return
        if cut.at >= segment.end:
            return
        segment.cut = cut
        keys = {a.task_key for a in segment.attempts}
        placed: dict[str, TaskAttempt] = {}
        for attempt in segment.order:
            if attempt.start > cut.at or (attempt.skipped and attempt.start >= cut.at):
                ends = [placed[d].end for d in attempt.depends_on if d in placed and d in keys]
                at = max([cut.at, *ends])
                if attempt.update is not None:
                    attempt.update.discard()
                attempt.skip(at, "UPSTREAM_CANCELED" if attempt.depends_on else cut.result)
            elif attempt.update is not None:
                stopped = attempt.update.end is None or attempt.update.end > cut.at
                attempt.update.stop(cut.at)
                self._place_pipeline_task(run, attempt, attempt.start)
                if stopped:
                    attempt.result, attempt.message = cut.result, _MESSAGES[cut.result]
            else:
                attempt.cut(cut)
            placed[attempt.task_key] = attempt
        self._place_job_clusters(run, segment)

    def _forget(self, run_id: int, run: JobRun) -> None:
        for attempt in run.attempts:
            self.by_task_run.pop(attempt.run_id, None)

    # JSON
    def run_json(
        self, run: JobRun, now: float, *, include_tasks: bool = True, include_history: bool = False
    ) -> dict[str, Any]:
        """The ``Run`` JSON of ``runs/get`` (``BaseRun`` of ``runs/list`` without tasks)."""
        life, result, message = run.life_cycle(now)
        ended = life not in ACTIVE_STATES
        state: dict[str, Any] = {
            "life_cycle_state": life,
            "state_message": message,
            "user_cancelled_or_timedout": run.user_cancelled_or_timedout(),
        }
        if result is not None:
            state["result_state"] = result
        latest = run.latest()
        body: dict[str, Any] = {
            "job_id": run.job_id,
            "run_id": run.run_id,
            "number_in_job": run.run_id,
            "original_attempt_run_id": run.run_id,
            "creator_user_name": run.creator,
            "run_name": run.run_name,
            "state": state,
            "status": _status(life, result, message, queued=life == "QUEUED"),
            "start_time": millis(run.created),
            "end_time": millis(run.end) if ended else 0,
            "setup_duration": 0,
            "execution_duration": 0,
            "cleanup_duration": 0,
            "trigger": run.trigger,
            "run_type": run.run_type,
            "format": "MULTI_TASK",
            "attempt_number": 0,
            "run_page_url": self.page_url(run.job_id, run.run_id),
            "job_parameters": run.job_parameters,
            "has_more": False,
        }
        if ended:
            body["run_duration"] = (millis(run.end) or 0) - (millis(run.created) or 0)
        if run.queued_until > run.created:
            body["queue_duration"] = millis(min(now, run.queued_until) - run.created)
        if run.overriding_parameters:
            body["overriding_parameters"] = run.overriding_parameters
        if run.job_clusters:
            body["job_clusters"] = run.job_clusters
        if len(latest) == 1:
            only = latest[0]
            durations = _durations(only, now)
            body.update(durations)
            body["cluster_spec"] = {
                k: only.spec[k] for k in ("new_cluster", "existing_cluster_id", "job_cluster_key") if k in only.spec
            }
            if only.cluster_id and only.start <= now and not only.skipped:
                body["cluster_instance"] = self._cluster_instance(only, now)
        if include_tasks:
            body["tasks"] = [self.task_json(run, a, now) for a in latest]
        if include_history:
            body["repair_history"] = self._history(run, now)
        return body

    def task_json(self, run: JobRun, attempt: TaskAttempt, now: float) -> dict[str, Any]:
        life = attempt.life_cycle(now)
        done = life not in ACTIVE_STATES
        state: dict[str, Any] = {
            "life_cycle_state": life,
            "state_message": attempt.message if done else "",
            "user_cancelled_or_timedout": False,
        }
        if done:
            state["result_state"] = attempt.result
            state["user_cancelled_or_timedout"] = attempt.result in ("CANCELED", "TIMEDOUT")
        body = dict(attempt.spec)
        body.update(
            run_id=attempt.run_id,
            task_key=attempt.task_key,
            state=state,
            status=_status(life, attempt.result if done else None, state["state_message"]),
            start_time=millis(attempt.start) if attempt.start <= now and not attempt.skipped else 0,
            end_time=millis(attempt.end) if done else 0,
            attempt_number=attempt.attempt_number,
            run_page_url=self.page_url(run.job_id, attempt.run_id),
            run_if=attempt.spec.get("run_if", "ALL_SUCCESS"),
            **_durations(attempt, now),
        )
        if done and not attempt.skipped:
            body["run_duration"] = millis(attempt.end - attempt.start)
        if attempt.cluster_id and attempt.start <= now and not attempt.skipped:
            body["cluster_instance"] = self._cluster_instance(attempt, now)
        return body

    def task_run_json(self, run: JobRun, attempt: TaskAttempt, now: float) -> dict[str, Any]:
        """A task run shown as a run of its own (``runs/get`` and ``get-output`` with a task run id)."""
        body = self.run_json(run, now, include_tasks=False)
        task = self.task_json(run, attempt, now)
        body.update(
            run_id=attempt.run_id,
            state=task["state"],
            status=task["status"],
            start_time=task["start_time"],
            end_time=task["end_time"],
            run_page_url=task["run_page_url"],
            attempt_number=attempt.attempt_number,
            tasks=[task],
        )
        body.update(_durations(attempt, now))
        return body

    def output_json(self, run: JobRun, attempt: TaskAttempt, now: float) -> dict[str, Any]:
        body: dict[str, Any] = {"metadata": self.task_run_json(run, attempt, now)}
        if attempt.life_cycle(now) in ACTIVE_STATES:
            return body
        output = attempt.outcome.output
        if attempt.result != "SUCCESS":
            body["error"] = attempt.message
            body["error_trace"] = f"Traceback (most recent call last):\n  ...\n{attempt.message}"
        if attempt.task_type == "notebook_task":
            body["notebook_output"] = {"result": output, "truncated": False} if output is not None else {}
        elif output is not None:
            body["logs"] = output
            body["logs_truncated"] = False
        return body

    def _cluster_instance(self, attempt: TaskAttempt, now: float) -> dict[str, Any]:
        body: dict[str, Any] = {"cluster_id": attempt.cluster_id}
        cluster = attempt.cluster or (attempt.update.cluster if attempt.update is not None else None)
        if cluster is not None and cluster.sessions and attempt.running <= now:
            body["spark_context_id"] = str(cluster.sessions[-1].spark_context_id)
        return body

    def _history(self, run: JobRun, now: float) -> list[dict[str, Any]]:
        history = []
        for segment in run.segments:
            ended = now >= segment.end
            life = "TERMINATED" if ended else "RUNNING"
            results = [a.result_for_upstream() for a in segment.attempts]
            result = None
            if ended:
                result = "SUCCESS" if all(r == "SUCCESS" for r in results) else "FAILED"
            item: dict[str, Any] = {
                "type": "ORIGINAL" if segment.repair_id is None else "REPAIR",
                "start_time": millis(segment.start),
                "end_time": millis(segment.end) if ended else 0,
                "state": {"life_cycle_state": life, **({"result_state": result} if result else {})},
                "status": _status(life, result, ""),
                "task_run_ids": [a.run_id for a in segment.attempts],
            }
            if segment.repair_id is not None:
                item["id"] = segment.repair_id
            history.append(item)
        return history

    def page_url(self, job_id: int, run_id: int) -> str:
        return f"{self.workspace.host}/?o={self.workspace.workspace_id}#job/{job_id}/run/{run_id}"

    def records(self) -> tuple[JobRunRecord, ...]:
        now = self.workspace.clock.time()
        with self.workspace.lock:
            return tuple(run.record(now) for run in self.table.values() if not run.deleted)


def runs(workspace: Workspace) -> Runs:
    """The workspace's :class:`Runs`, created on first use."""
    with workspace.lock:
        found = workspace.extensions.get("runs")
        if found is None:
            found = workspace.extensions["runs"] = Runs(workspace)
        return found


def _run_if(condition: str, results: list[str]) -> bool:
    if not results:
        return True
    success = [r == "SUCCESS" for r in results]
    failed = [r in _FAILED for r in results]
    return {
        "ALL_SUCCESS": all(success),
        "AT_LEAST_ONE_SUCCESS": any(success),
        "NONE_FAILED": not any(failed),
        "ALL_DONE": True,
        "AT_LEAST_ONE_FAILED": any(failed),
        "ALL_FAILED": all(failed),
    }.get(condition, all(success))


def _durations(attempt: TaskAttempt, now: float) -> dict[str, int]:
    if attempt.skipped:
        return {"setup_duration": 0, "execution_duration": 0, "cleanup_duration": 0}
    return {
        "setup_duration": millis(attempt.running - attempt.start) if now >= attempt.running else 0,
        "execution_duration": millis(attempt.terminating - attempt.running) if now >= attempt.terminating else 0,
        "cleanup_duration": millis(attempt.end - attempt.terminating) if now >= attempt.end else 0,
    }


def _status(life: str, result: str | None, message: str, *, queued: bool = False) -> dict[str, Any]:
    state = "TERMINATED" if life in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED") else life
    body: dict[str, Any] = {"state": state}
    if queued:
        body["queue_details"] = {"code": "ACTIVE_RUNS_LIMIT_REACHED", "message": message}
    if state == "TERMINATED":
        key = "INTERNAL_ERROR" if life == "INTERNAL_ERROR" else (result or "SUCCESS")
        code, kind = TERMINATION_OF_RESULT.get(key, ("SUCCESS", "SUCCESS"))
        body["termination_details"] = {"code": code, "type": kind, "message": message}
    return body


def _task_record(attempt: TaskAttempt, now: float) -> TaskRunRecord:
    life = attempt.life_cycle(now)
    done = life not in ACTIVE_STATES
    compute = attempt.compute
    cluster = attempt.cluster or (attempt.update.cluster if attempt.update is not None else None)
    durations = _durations(attempt, now)
    return TaskRunRecord(
        run_id=attempt.run_id,
        task_key=attempt.task_key,
        task_type=attempt.task_type,
        attempt_number=attempt.attempt_number,
        life_cycle_state=life,
        result_state=attempt.result if done else None,
        state_message=attempt.message if done else "",
        compute_type=compute.type,
        cluster_id=attempt.cluster_id if not attempt.skipped else None,
        new_cluster=compute.new_cluster,
        existing_cluster_id=compute.existing_cluster_id,
        job_cluster_key=compute.job_cluster_key,
        environment_key=compute.environment_key,
        warehouse_id=compute.warehouse_id,
        pipeline_id=compute.pipeline_id,
        pipeline_update_id=attempt.update.update_id if attempt.update is not None else None,
        notebook_path=(attempt.spec.get("notebook_task") or {}).get("notebook_path"),
        python_file=(attempt.spec.get("spark_python_task") or {}).get("python_file"),
        custom_tags=dict((cluster.spec.get("custom_tags") or {}) if cluster is not None else {}),
        start_time=millis(attempt.start) if attempt.start <= now and not attempt.skipped else None,
        end_time=millis(attempt.end) if done else None,
        setup_duration=durations["setup_duration"],
        execution_duration=durations["execution_duration"],
        cleanup_duration=durations["cleanup_duration"],
    )
