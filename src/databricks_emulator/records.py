"""What ran in the workspace, as Databricks would later bill and show it, and the bounded tables that hold it.

Services keep their live objects in :class:`BoundedTable` s; the emulator's read-only views (``ws.job_runs``,
``ws.pipeline_updates``, ``ws.clusters``, ``ws.commands``) turn them into the frozen records below, computed
from the clock at the moment they are read. Times are epoch milliseconds, ``None`` while not reached yet.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

DEFAULT_LIMIT = 10_000


class BoundedTable(Generic[K, V]):
    """An insertion-ordered table of at most ``limit`` items.

    When full, it drops the oldest item that ``is_finished`` says is over, else the oldest item: the API then
    answers for it as for a deleted object. ``dropped`` counts what went.
    """

    def __init__(
        self,
        is_finished: Callable[[V], bool],
        *,
        limit: int = DEFAULT_LIMIT,
        on_drop: Callable[[K, V], None] | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit={limit!r}: a table holds at least one item")
        self.limit = limit
        self.dropped = 0
        self._items: OrderedDict[K, V] = OrderedDict()
        self._is_finished = is_finished
        self._on_drop = on_drop

    def add(self, key: K, value: V) -> None:
        self._items[key] = value
        while len(self._items) > self.limit:
            victim = next((k for k, v in self._items.items() if self._is_finished(v)), next(iter(self._items)))
            dropped = self._items.pop(victim)
            self.dropped += 1
            if self._on_drop is not None:
                self._on_drop(victim, dropped)

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def pop(self, key: K) -> V | None:
        return self._items.pop(key, None)

    def values(self) -> list[V]:
        return list(self._items.values())

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._items))


@dataclass(frozen=True)
class TaskRunRecord:
    """One attempt of one task of a job run.

    ``compute_type`` is ``jobs_classic`` (a new or job cluster), ``jobs_serverless``, ``all_purpose`` (an existing
    cluster), ``sql_warehouse``, ``dlt`` (a pipeline task) or ``None`` (condition and run-job tasks).
    ``custom_tags`` are the tags the task's cluster carries as Databricks keeps them: the cluster's own
    ``custom_tags`` with the job's tags merged in for job compute (the cluster's win on a clash).
    """

    run_id: int
    task_key: str
    task_type: str
    attempt_number: int
    life_cycle_state: str
    result_state: str | None
    state_message: str
    compute_type: str | None
    cluster_id: str | None
    new_cluster: Mapping[str, Any] | None
    existing_cluster_id: str | None
    job_cluster_key: str | None
    environment_key: str | None
    warehouse_id: str | None
    pipeline_id: str | None
    pipeline_update_id: str | None
    notebook_path: str | None
    python_file: str | None
    custom_tags: Mapping[str, str]
    start_time: int | None
    end_time: int | None
    setup_duration: int
    execution_duration: int
    cleanup_duration: int


@dataclass(frozen=True)
class JobRunRecord:
    """One job run (``run_type`` JOB_RUN for ``run-now``, SUBMIT_RUN for a one-time ``runs/submit`` run)."""

    job_id: int
    run_id: int
    run_name: str
    run_type: str
    trigger: str
    creator_user_name: str
    job_tags: Mapping[str, str]
    job_parameters: Mapping[str, str]
    budget_policy_id: str | None
    usage_policy_id: str | None
    idempotency_token: str | None
    life_cycle_state: str
    result_state: str | None
    state_message: str
    created_time: int
    start_time: int
    end_time: int | None
    queue_duration: int
    tasks: tuple[TaskRunRecord, ...]

    @property
    def task_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(task.task_key for task in self.tasks))


@dataclass(frozen=True)
class PipelineUpdateRecord:
    """One pipeline update; ``cluster_custom_tags`` are the ``custom_tags`` of the pipeline's default cluster."""

    pipeline_id: str
    pipeline_name: str
    update_id: str
    cause: str
    state: str
    full_refresh: bool
    refresh_selection: tuple[str, ...]
    full_refresh_selection: tuple[str, ...]
    serverless: bool
    edition: str
    photon: bool
    channel: str
    continuous: bool
    development: bool
    pipeline_tags: Mapping[str, str]
    cluster_custom_tags: Mapping[str, str]
    clusters: tuple[Mapping[str, Any], ...]
    cluster_id: str | None
    job_run_id: int | None
    creation_time: int
    start_time: int | None
    end_time: int | None


@dataclass(frozen=True)
class ClusterSessionRecord:
    """One stretch from a start request to termination: the unit Databricks bills a cluster by."""

    requested_time: int
    running_time: int | None
    terminated_time: int | None
    termination_code: str | None


@dataclass(frozen=True)
class ClusterRecord:
    """A cluster (all-purpose, job or pipeline) with its spec, tags and sessions."""

    cluster_id: str
    cluster_name: str
    cluster_source: str
    state: str
    spark_version: str | None
    node_type_id: str | None
    driver_node_type_id: str | None
    num_workers: int | None
    autoscale: Mapping[str, int] | None
    observed_workers: int
    runtime_engine: str
    custom_tags: Mapping[str, str]
    default_tags: Mapping[str, str]
    creator_user_name: str
    job_id: int | None
    job_run_id: int | None
    task_run_id: int | None
    pipeline_id: str | None
    pipeline_update_id: str | None
    spec: Mapping[str, Any] = field(default_factory=dict)
    sessions: tuple[ClusterSessionRecord, ...] = ()


@dataclass(frozen=True)
class CommandRecord:
    """One command run in an execution context on an all-purpose cluster."""

    command_id: str
    context_id: str
    cluster_id: str
    language: str
    status: str
    result_type: str | None
    submitted_time: int
    start_time: int | None
    end_time: int | None


def millis(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)
