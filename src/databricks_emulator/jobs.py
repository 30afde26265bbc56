"""Jobs API 2.2: job definitions, run-now, one-time runs (runs/submit), and the runs endpoints.

Requests are checked as Databricks checks them where a client bug would show: unknown jobs and runs, task keys,
dependencies, compute references, tag limits (25 job tags, 45 cluster tags with the job's forwarded in),
``idempotency_token`` length. Unknown fields are ignored, as the real API ignores them (``runs/submit`` has no
``tags``: tags sent there are dropped). Runs themselves live in :mod:`.runs`.
"""

from __future__ import annotations

import copy
from typing import Any

from .clusters import clusters, validate_custom_tags
from .discovery import current_user_name
from .http import HttpApp, Request, invalid
from .lifecycle import lifecycle
from .paging import page
from .pipelines import pipelines
from .records import BoundedTable, millis
from .runs import ACTIVE_STATES, TASK_TYPES, JobRun, Runs, compute_of, runs
from .workspace import Workspace

MAX_JOB_TAGS = 25
MAX_TASKS = 1000
MAX_TASK_KEY_LENGTH = 100
MAX_IDEMPOTENCY_TOKEN_LENGTH = 64
MAX_NAME_LENGTH = 4096
MAX_RUNS_PAGE = 25
MAX_JOBS_PAGE = 100
_LEGACY_PARAMETERS = (
    "notebook_params",
    "python_params",
    "jar_params",
    "spark_submit_params",
    "python_named_params",
    "sql_params",
    "pipeline_params",
    "dbt_commands",
)
_SETTINGS_DEFAULTS: dict[str, Any] = {
    "name": "Untitled",
    "max_concurrent_runs": 1,
    "timeout_seconds": 0,
    "format": "MULTI_TASK",
    "email_notifications": {},
    "webhook_notifications": {},
    "queue": {"enabled": True},
}


class Job:
    """A job definition."""

    def __init__(self, job_id: int, settings: dict[str, Any], creator: str, created: float) -> None:
        self.job_id = job_id
        self.settings = settings
        self.creator = creator
        self.created = created
        self.deleted = False

    def json(self, *, expand_tasks: bool = True) -> dict[str, Any]:
        settings = dict(self.settings)
        if not expand_tasks:
            settings.pop("tasks", None)
            settings.pop("job_clusters", None)
        return {
            "job_id": self.job_id,
            "creator_user_name": self.creator,
            "run_as_user_name": self.creator,
            "created_time": millis(self.created),
            "settings": settings,
            "has_more": False,
        }


class Jobs:
    """The workspace's job definitions, and the checks shared by job settings and one-time runs."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.table: BoundedTable[int, Job] = BoundedTable(lambda job: job.deleted)

    def require(self, job_id: Any) -> Job:
        if job_id is None or job_id == "":
            raise invalid("Missing required field: job_id")
        try:
            number = int(job_id)
        except (TypeError, ValueError):
            raise invalid(f"Invalid job_id: {job_id!r}") from None
        job = self.table.get(number)
        if job is None or job.deleted:
            raise invalid(f"Job {number} does not exist.")
        return job

    def new_job_id(self) -> int:
        return 100_000_000_000_000 + self.workspace.next_number()

    def create(self, settings: dict[str, Any]) -> Job:
        job = Job(self.new_job_id(), settings, current_user_name(self.workspace), self.workspace.clock.time())
        with self.workspace.lock:
            self.table.add(job.job_id, job)
        return job

    def validate_settings(self, settings: Any) -> dict[str, Any]:
        """Job settings (create, reset, the result of an update) checked and with the API 2.2 defaults."""
        if not isinstance(settings, dict):
            raise invalid("Job settings must be an object")
        result = {**copy.deepcopy(_SETTINGS_DEFAULTS), **copy.deepcopy(settings)}
        _check_length(result.get("name"), "name", MAX_NAME_LENGTH)
        if not 0 <= int(result.get("max_concurrent_runs") or 0) <= 1000:
            raise invalid("max_concurrent_runs must be between 0 and 1000")
        tags = result.get("tags") or {}
        if len(tags) > MAX_JOB_TAGS:
            raise invalid(f"tags has {len(tags)} tags; a job can have at most {MAX_JOB_TAGS} tags")
        validate_custom_tags(tags, "tags")
        self.validate_tasks(
            result.get("tasks") or [],
            result.get("job_clusters") or [],
            result.get("environments") or [],
            tags,
            required=False,
        )
        return result

    def validate_tasks(
        self,
        tasks: Any,
        job_clusters: Any,
        environments: Any,
        job_tags: dict[str, str],
        *,
        required: bool,
    ) -> None:
        """Check tasks, job clusters and environments the way Databricks rejects a bad job."""
        if not isinstance(tasks, list) or not isinstance(job_clusters, list) or not isinstance(environments, list):
            raise invalid("tasks, job_clusters and environments must be arrays")
        if required and not tasks:
            raise invalid("Missing required field: tasks")
        if len(tasks) > MAX_TASKS:
            raise invalid(f"A job can have at most {MAX_TASKS} tasks; got {len(tasks)}")
        compute = clusters(self.workspace)
        cluster_keys: set[str] = set()
        for index, job_cluster in enumerate(job_clusters):
            key = job_cluster.get("job_cluster_key") if isinstance(job_cluster, dict) else None
            if not key:
                raise invalid(f"Missing required field: job_clusters[{index}].job_cluster_key")
            if key in cluster_keys:
                raise invalid(f"Job cluster key {key} is not unique.")
            cluster_keys.add(key)
            spec = compute.validate(job_cluster.get("new_cluster"), f"job_clusters[{index}].new_cluster")
            _check_merged_tags(job_tags, spec, f"job_clusters[{index}].new_cluster.custom_tags")
        environment_keys = {e.get("environment_key") for e in environments if isinstance(e, dict)}
        task_keys: set[str] = set()
        for index, task in enumerate(tasks):
            if not isinstance(task, dict):
                raise invalid(f"tasks[{index}] must be an object")
            key = task.get("task_key")
            if not key:
                raise invalid(f"Missing required field: tasks[{index}].task_key")
            _check_length(key, "task_key", MAX_TASK_KEY_LENGTH)
            if key in task_keys:
                raise invalid(f"Task key {key} is not unique.")
            task_keys.add(key)
            self._validate_task(task, cluster_keys, environment_keys, job_tags)
        for task in tasks:
            for dependency in task.get("depends_on") or []:
                if dependency.get("task_key") not in task_keys:
                    raise invalid(
                        f"Task {task['task_key']} depends on {dependency.get('task_key')}, which is not in this job."
                    )
        _check_acyclic(tasks)

    def _validate_task(
        self, task: dict[str, Any], cluster_keys: set[str], environment_keys: set[Any], job_tags: dict[str, str]
    ) -> None:
        key = task["task_key"]
        kinds = [name for name in TASK_TYPES if task.get(name) is not None]
        if len(kinds) != 1:
            raise invalid(f"Task {key} must have exactly one task type (one of {', '.join(TASK_TYPES[:8])}, ...).")
        kind = kinds[0]
        holders = [name for name in ("existing_cluster_id", "new_cluster", "job_cluster_key") if task.get(name)]
        if len(holders) > 1:
            raise invalid(f"Task {key} can set only one of existing_cluster_id, new_cluster and job_cluster_key.")
        compute = compute_of(task)
        if compute.new_cluster is not None:
            spec = clusters(self.workspace).validate(compute.new_cluster, f"task {key} new_cluster")
            _check_merged_tags(job_tags, spec, f"task {key} new_cluster.custom_tags")
        if compute.job_cluster_key is not None and compute.job_cluster_key not in cluster_keys:
            raise invalid(f"Task {key} refers to job cluster {compute.job_cluster_key}, which is not in job_clusters.")
        if compute.existing_cluster_id is not None:
            clusters(self.workspace).require(compute.existing_cluster_id)
        if task.get("environment_key") and task["environment_key"] not in environment_keys:
            raise invalid(f"Task {key} refers to environment {task['environment_key']}, which is not in environments.")
        if kind == "spark_submit_task" and compute.new_cluster is None and compute.job_cluster_key is None:
            raise invalid(
                f"Task {key}: spark_submit_task can only run on a new cluster (new_cluster or job_cluster_key)."
            )
        if kind == "notebook_task" and not task[kind].get("notebook_path"):
            raise invalid(f"Missing required field: tasks.{key}.notebook_task.notebook_path")
        if kind == "spark_python_task" and not task[kind].get("python_file"):
            raise invalid(f"Missing required field: tasks.{key}.spark_python_task.python_file")
        if kind == "python_wheel_task" and not (task[kind].get("package_name") and task[kind].get("entry_point")):
            raise invalid(f"Task {key}: python_wheel_task needs package_name and entry_point.")
        if kind == "spark_jar_task" and not task[kind].get("main_class_name"):
            raise invalid(f"Missing required field: tasks.{key}.spark_jar_task.main_class_name")
        if kind == "sql_task":
            warehouse_id = task[kind].get("warehouse_id")
            if not warehouse_id:
                raise invalid(f"Missing required field: tasks.{key}.sql_task.warehouse_id")
            if warehouse_id not in self.workspace.warehouses:
                raise invalid(f"Task {key}: SQL warehouse {warehouse_id} does not exist.")
        if kind == "pipeline_task":
            pipeline = pipelines(self.workspace).require(task[kind].get("pipeline_id"))
            if pipeline.spec.get("continuous"):
                raise invalid(f"Task {key}: pipeline {pipeline.pipeline_id} is continuous and cannot run as a task.")


def jobs(workspace: Workspace) -> Jobs:
    """The workspace's :class:`Jobs`, created on first use."""
    with workspace.lock:
        found = workspace.extensions.get("jobs")
        if found is None:
            found = workspace.extensions["jobs"] = Jobs(workspace)
        return found


def register(app: HttpApp, workspace: Workspace) -> None:
    """Add the ``/api/2.2/jobs`` routes."""
    definitions = jobs(workspace)
    service = runs(workspace)
    router = app.router
    clock = workspace.clock

    @router.route("POST", "/api/2.2/jobs/create")
    def create(request: Request) -> dict[str, Any]:
        body = request.json()
        settings = definitions.validate_settings({k: v for k, v in body.items() if k != "access_control_list"})
        return {"job_id": definitions.create(settings).job_id}

    @router.route("GET", "/api/2.2/jobs/get")
    def get(request: Request) -> dict[str, Any]:
        return definitions.require(request.arg("job_id")).json()

    @router.route("GET", "/api/2.2/jobs/list")
    def list_jobs(request: Request) -> dict[str, Any]:
        limit = _limit(request, 20, MAX_JOBS_PAGE)
        expand = request.arg("expand_tasks") == "true"
        name = (request.arg("name") or "").lower()
        with workspace.lock:
            found = [j for j in definitions.table.values() if not j.deleted]
        found = [j.json(expand_tasks=expand) for j in found if not name or j.settings.get("name", "").lower() == name]
        return _listing(found, request, "jobs", limit)

    @router.route("POST", "/api/2.2/jobs/reset")
    def reset(request: Request) -> dict[str, Any]:
        body = request.json()
        job = definitions.require(body.get("job_id"))
        if not isinstance(body.get("new_settings"), dict):
            raise invalid("Missing required field: new_settings")
        settings = definitions.validate_settings(body["new_settings"])
        with workspace.lock:
            job.settings = settings
        return {}

    @router.route("POST", "/api/2.2/jobs/update")
    def update(request: Request) -> dict[str, Any]:
        body = request.json()
        job = definitions.require(body.get("job_id"))
        merged = _merge_settings(job.settings, body.get("new_settings") or {}, body.get("fields_to_remove") or [])
        settings = definitions.validate_settings(merged)
        with workspace.lock:
            job.settings = settings
        return {}

    @router.route("POST", "/api/2.2/jobs/delete")
    def delete(request: Request) -> dict[str, Any]:
        job = definitions.require(request.json().get("job_id"))
        with workspace.lock:
            job.deleted = True
        return {}

    @router.route("POST", "/api/2.2/jobs/run-now")
    def run_now(request: Request) -> dict[str, Any]:
        body = request.json()
        job = definitions.require(body.get("job_id"))
        token = _idempotency_token(body)
        with workspace.lock:
            if token is not None and ("run-now", job.job_id, token) in service.idempotency:
                run_id = service.idempotency[("run-now", job.job_id, token)]
                return {"run_id": run_id, "number_in_job": run_id}
            run = _run_now(definitions, service, job, body, token)
        return {"run_id": run.run_id, "number_in_job": run.run_id}

    @router.route("POST", "/api/2.2/jobs/runs/submit")
    def submit(request: Request) -> dict[str, Any]:
        body = request.json()
        token = _idempotency_token(body)
        run_name = body.get("run_name") or "Untitled"
        _check_length(run_name, "run_name", MAX_NAME_LENGTH)
        tasks = body.get("tasks") or []
        definitions.validate_tasks(
            tasks, body.get("job_clusters") or [], body.get("environments") or [], {}, required=True
        )
        with workspace.lock:
            if token is not None and ("submit", token) in service.idempotency:
                return {"run_id": service.idempotency[("submit", token)]}
            run = service.launch(
                run_id=_new_run_id(workspace),
                job_id=definitions.new_job_id(),
                run_name=run_name,
                run_type="SUBMIT_RUN",
                tasks=copy.deepcopy(tasks),
                job_clusters=copy.deepcopy(body.get("job_clusters") or []),
                environments=copy.deepcopy(body.get("environments") or []),
                idempotency_token=token,
                budget_policy_id=body.get("budget_policy_id"),
                usage_policy_id=body.get("usage_policy_id"),
                timeout_seconds=body.get("timeout_seconds"),
            )
            if token is not None:
                service.remember_token(("submit", token), run.run_id)
        return {"run_id": run.run_id}

    @router.route("GET", "/api/2.2/jobs/runs/get")
    def get_run(request: Request) -> dict[str, Any]:
        run, attempt = _require_run(service, request.arg("run_id"))
        lifecycle(workspace).on_poll(
            run.settles_at(clock.time()) if attempt is None else _attempt_settles(attempt, clock.time())
        )
        with workspace.lock:
            now = clock.time()
            if attempt is not None:
                return service.task_run_json(run, attempt, now)
            return service.run_json(run, now, include_history=request.arg("include_history") == "true")

    @router.route("GET", "/api/2.2/jobs/runs/list")
    def list_runs(request: Request) -> dict[str, Any]:
        limit = _limit(request, 20, MAX_RUNS_PAGE)
        active_only = request.arg("active_only") == "true"
        completed_only = request.arg("completed_only") == "true"
        if active_only and completed_only:
            raise invalid("active_only and completed_only cannot both be true.")
        job_id = request.arg("job_id")
        if job_id:
            job_id = definitions.require(job_id).job_id
        run_type = request.arg("run_type")
        start_from, start_to = request.arg("start_time_from"), request.arg("start_time_to")
        expand = request.arg("expand_tasks") == "true"
        with workspace.lock:
            now = clock.time()
            found = []
            for run in service.table.values():
                if run.deleted or (job_id and run.job_id != job_id) or (run_type and run.run_type != run_type):
                    continue
                started = millis(run.created) or 0
                if (start_from and started < int(start_from)) or (start_to and started > int(start_to)):
                    continue
                active = run.life_cycle(now)[0] in ACTIVE_STATES
                if (active_only and not active) or (completed_only and active):
                    continue
                found.append(run)
            found.sort(key=lambda r: (r.created, r.run_id), reverse=True)
            items = [service.run_json(r, now, include_tasks=expand) for r in found]
        return _listing(items, request, "runs", limit)

    @router.route("POST", "/api/2.2/jobs/runs/cancel")
    def cancel_run(request: Request) -> dict[str, Any]:
        run, _ = _require_run(service, request.json().get("run_id"))
        with workspace.lock:
            service.cancel(run, clock.time())
        return {}

    @router.route("POST", "/api/2.2/jobs/runs/cancel-all")
    def cancel_all(request: Request) -> dict[str, Any]:
        body = request.json()
        job_id = body.get("job_id")
        all_queued = bool(body.get("all_queued_runs"))
        if job_id is None and not all_queued:
            raise invalid("Either job_id or all_queued_runs must be set.")
        if job_id is not None:
            job_id = definitions.require(job_id).job_id
        with workspace.lock:
            now = clock.time()
            for run in service.table.values():
                if job_id is not None and run.job_id != job_id:
                    continue
                state = run.life_cycle(now)[0]
                if state in ACTIVE_STATES and (not all_queued or state == "QUEUED"):
                    service.cancel(run, now)
        return {}

    @router.route("POST", "/api/2.2/jobs/runs/delete")
    def delete_run(request: Request) -> dict[str, Any]:
        run, attempt = _require_run(service, request.json().get("run_id"))
        if attempt is not None:
            raise invalid(f"Run {attempt.run_id} is a task run; delete its job run {run.run_id}.")
        with workspace.lock:
            if run.life_cycle(clock.time())[0] in ACTIVE_STATES:
                raise invalid(f"Run {run.run_id} is active and cannot be deleted. Cancel it first.")
            run.deleted = True
        return {}

    @router.route("GET", "/api/2.2/jobs/runs/get-output")
    def get_output(request: Request) -> dict[str, Any]:
        run, attempt = _require_run(service, request.arg("run_id"))
        with workspace.lock:
            if attempt is None:
                latest = run.latest()
                if len(latest) != 1:
                    raise invalid(
                        "Retrieving the output of runs with multiple tasks is not supported. "
                        "Please retrieve the output of each individual task run instead."
                    )
                attempt = latest[0]
            return service.output_json(run, attempt, clock.time())

    @router.route("POST", "/api/2.2/jobs/runs/repair")
    def repair(request: Request) -> dict[str, Any]:
        body = request.json()
        run, attempt = _require_run(service, body.get("run_id"))
        if attempt is not None:
            raise invalid(f"Run {attempt.run_id} is a task run; repair its job run {run.run_id}.")
        with workspace.lock:
            now = clock.time()
            if run.skipped_message is not None or run.life_cycle(now)[0] in ACTIVE_STATES:
                raise invalid(f"Run {run.run_id} is not in a terminal state and cannot be repaired.")
            latest_repair = next((s.repair_id for s in reversed(run.segments) if s.repair_id is not None), None)
            expected = body.get("latest_repair_id")
            if expected is not None and int(expected) != latest_repair:
                raise invalid(f"latest_repair_id {expected} is not the latest repair of run {run.run_id}.")
            keys = _tasks_to_repair(run, body)
            repair_id = 700_000_000_000_000 + workspace.next_number()
            service.repair(run, keys, now, repair_id)
        return {"repair_id": repair_id}


def _run_now(definitions: Jobs, service: Runs, job: Job, body: dict[str, Any], token: str | None) -> JobRun:
    settings = job.settings
    tasks = copy.deepcopy(settings.get("tasks") or [])
    if not tasks:
        raise invalid(f"Job {job.job_id} has no tasks to run.")
    only = body.get("only")
    if only:
        unknown = [key for key in only if key not in {t["task_key"] for t in tasks}]
        if unknown:
            raise invalid(f"Task(s) {', '.join(unknown)} in `only` are not tasks of job {job.job_id}.")
        tasks = [t for t in tasks if t["task_key"] in only]
        for task in tasks:
            task["depends_on"] = [d for d in task.get("depends_on") or [] if d["task_key"] in only]
    values = body.get("job_parameters") or {}
    declared = {p["name"]: p for p in settings.get("parameters") or []}
    parameters = [
        {"name": name, "default": p.get("default", ""), "value": str(values.get(name, p.get("default", "")))}
        for name, p in declared.items()
    ]
    parameters += [{"name": name, "value": str(value)} for name, value in values.items() if name not in declared]
    overriding = {key: body[key] for key in _LEGACY_PARAMETERS if body.get(key) is not None}
    now = definitions.workspace.clock.time()
    queue = body.get("queue") or settings.get("queue") or {}
    limit = int(settings.get("max_concurrent_runs", 1))
    active = service.active_runs(job.job_id, now)
    queued_until, skipped = now, None
    if len(active) >= limit:
        if queue.get("enabled") and limit > 0:
            ends = sorted(r.end for r in active)
            queued_until = max(now, ends[len(active) - limit])
        else:
            skipped = f"Skipping this run because the limit of {limit} maximum concurrent runs has been reached."
    run = service.launch(
        run_id=_new_run_id(definitions.workspace),
        job_id=job.job_id,
        run_name=settings.get("name") or "Untitled",
        run_type="JOB_RUN",
        tasks=tasks,
        job_clusters=copy.deepcopy(settings.get("job_clusters") or []),
        environments=copy.deepcopy(settings.get("environments") or []),
        job_tags=dict(settings.get("tags") or {}),
        job_parameters=parameters,
        overriding_parameters=overriding,
        idempotency_token=token,
        budget_policy_id=settings.get("budget_policy_id"),
        usage_policy_id=settings.get("usage_policy_id"),
        timeout_seconds=settings.get("timeout_seconds"),
        queued_until=queued_until,
        skipped_message=skipped,
    )
    if token is not None:
        service.remember_token(("run-now", job.job_id, token), run.run_id)
    return run


def _new_run_id(workspace: Workspace) -> int:
    return 900_000_000_000_000 + workspace.next_number()


def _require_run(service: Runs, run_id: Any) -> tuple[JobRun, Any]:
    if run_id is None or run_id == "":
        raise invalid("Missing required field: run_id")
    found = service.find(run_id)
    if found is None:
        raise invalid(f"Run {run_id} does not exist.")
    return found


def _attempt_settles(attempt: Any, now: float) -> float | None:
    return attempt.end if attempt.end > now else None


def _tasks_to_repair(run: JobRun, body: dict[str, Any]) -> list[str]:
    latest = {a.task_key: a for a in run.latest()}
    keys: list[str] = list(body.get("rerun_tasks") or [])
    unknown = [key for key in keys if key not in latest]
    if unknown:
        raise invalid(f"Task(s) {', '.join(unknown)} are not tasks of run {run.run_id}.")
    if body.get("rerun_all_failed_tasks"):
        keys += [key for key, a in latest.items() if a.result != "SUCCESS" and key not in keys]
    if body.get("rerun_dependent_tasks"):
        changed = True
        while changed:
            changed = False
            for key, attempt in latest.items():
                if key not in keys and any(d in keys for d in attempt.depends_on):
                    keys.append(key)
                    changed = True
    if not keys:
        raise invalid("No tasks to repair: set rerun_tasks or rerun_all_failed_tasks.")
    order = [t["task_key"] for t in run.tasks]
    return sorted(keys, key=order.index)


def _merge_settings(current: dict[str, Any], new: dict[str, Any], remove: list[str]) -> dict[str, Any]:
    """``jobs/update``: top-level fields replace, ``tasks`` and ``job_clusters`` merge by key, ``fields_to_remove``
    drops top-level fields or ``tasks/<key>`` / ``job_clusters/<key>`` entries."""
    merged = copy.deepcopy(current)
    for name, value in new.items():
        if name in ("tasks", "job_clusters"):
            key = "task_key" if name == "tasks" else "job_cluster_key"
            existing = {item[key]: item for item in merged.get(name) or []}
            for item in value or []:
                existing[item.get(key)] = copy.deepcopy(item)
            merged[name] = list(existing.values())
        else:
            merged[name] = copy.deepcopy(value)
    for field_name in remove:
        head, _, key = str(field_name).partition("/")
        if key and head in ("tasks", "job_clusters"):
            id_key = "task_key" if head == "tasks" else "job_cluster_key"
            merged[head] = [item for item in merged.get(head) or [] if item.get(id_key) != key]
        else:
            merged.pop(head, None)
    return merged


def _idempotency_token(body: dict[str, Any]) -> str | None:
    token = body.get("idempotency_token")
    if token is None or token == "":
        return None
    token = str(token)
    if len(token) > MAX_IDEMPOTENCY_TOKEN_LENGTH:
        raise invalid(f"idempotency_token must be at most {MAX_IDEMPOTENCY_TOKEN_LENGTH} characters; got {len(token)}")
    return token


def _limit(request: Request, default: int, maximum: int) -> int:
    raw = request.arg("limit")
    if raw is None or raw == "":
        return default
    limit = int(raw)
    if limit == 0:
        return maximum
    if not 0 < limit <= maximum:
        raise invalid(f"limit must be between 1 and {maximum}; got {limit}")
    return limit


def _listing(items: list[dict[str, Any]], request: Request, key: str, limit: int) -> dict[str, Any]:
    offset = request.arg("offset")
    if offset and not request.arg("page_token"):
        start = int(offset)
        body: dict[str, Any] = {key: items[start : start + limit]}
        has_more = start + limit < len(items)
    else:
        body = page(items, key=key, size=limit, token=request.arg("page_token"))
        has_more = "next_page_token" in body
    if not body[key]:
        body.pop(key)
    body["has_more"] = has_more
    return body


def _check_length(value: Any, name: str, maximum: int) -> None:
    if value is not None and len(str(value)) > maximum:
        raise invalid(f"{name} must be at most {maximum} characters; got {len(str(value))}")


def _check_merged_tags(job_tags: dict[str, str], spec: dict[str, Any], where: str) -> None:
    if job_tags:
        validate_custom_tags({**job_tags, **(spec.get("custom_tags") or {})}, f"{where} with the job tags")


def _check_acyclic(tasks: list[dict[str, Any]]) -> None:
    waiting = {t["task_key"]: {d["task_key"] for d in t.get("depends_on") or []} for t in tasks}
    ready = [key for key, deps in waiting.items() if not deps]
    while ready:
        done = ready.pop()
        for key, deps in waiting.items():
            if done in deps:
                deps.discard(done)
                if not deps:
                    ready.append(key)
    cyclic = sorted(key for key, deps in waiting.items() if deps)
    if cyclic:
        raise invalid(f"The task dependencies form a cycle through tasks {', '.join(cyclic)}.")
