"""Which compute a unit of work ran on: the facts of a job task, run or pipeline that decide how it is priced.

A job task runs on a new jobs cluster (``new_cluster`` or ``job_cluster_key``), an existing all-purpose cluster
(``existing_cluster_id``), a SQL warehouse (``sql_task``), serverless jobs compute (none of those), or bills its
compute elsewhere (``pipeline_task``: the pipeline update; ``run_job_task``: the child run; ``condition_task``:
none)::

    compute = task_compute({"task_key": "t", "new_cluster": {...}}, job_clusters={}, cluster_specs=specs)
    compute.compute_type, compute.group  # 'jobs_classic', ('new', 't')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

JOBS_CLASSIC = "jobs_classic"
JOBS_SERVERLESS = "jobs_serverless"
ALL_PURPOSE = "all_purpose"
SQL_WAREHOUSE = "sql_warehouse"
DLT = "dlt"

_BILLED_ELSEWHERE_TASKS = {"pipeline_task": DLT, "run_job_task": None, "condition_task": None}


class ClusterSpecs(Protocol):
    def get(self, key: str | None) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class Compute:
    """Where one piece of work ran; ``group`` identifies compute shared between tasks."""

    compute_type: str | None
    group: tuple[str, str]
    spec: Mapping[str, Any] | None = None
    cluster_id: str | None = None
    warehouse_id: str | None = None
    billed_elsewhere: bool = False


def task_type(task: Mapping[str, Any]) -> str | None:
    """``notebook_task``, ``spark_python_task``, ``python_wheel_task``, ``sql_task``... (the first ``*_task`` key)."""
    for key in task:
        if key.endswith("_task") and task[key] is not None:
            return key
    return None


def job_clusters(settings: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """``job_cluster_key`` -> ``new_cluster`` spec of a job or run definition."""
    clusters = settings.get("job_clusters")
    if not isinstance(clusters, list):
        return {}
    return {
        str(cluster["job_cluster_key"]): cluster["new_cluster"]
        for cluster in clusters
        if isinstance(cluster, Mapping)
        and cluster.get("job_cluster_key")
        and isinstance(cluster.get("new_cluster"), Mapping)
    }


ComputeFacts = tuple[str | None, tuple[str, str], "Mapping[str, Any] | None", str | None, str | None, bool]
"""The fields of a :class:`Compute`, in order, as a plain tuple (cheaper to build on the hot path)."""


def task_compute_facts(
    task: Mapping[str, Any], clusters: Mapping[str, Mapping[str, Any]], cluster_specs: ClusterSpecs
) -> ComputeFacts:
    """:func:`task_compute` as a tuple: ``(compute_type, group, spec, cluster_id, warehouse_id, billed_elsewhere)``."""
    key = str(task.get("task_key") or task.get("run_id") or "")
    instance = task.get("cluster_instance")
    instance_cluster = instance.get("cluster_id") if instance is not None and isinstance(instance, Mapping) else None
    existing = task.get("existing_cluster_id")
    if existing:
        return ALL_PURPOSE, ("existing", existing), cluster_specs.get(existing), existing, None, False
    new_cluster = task.get("new_cluster")
    if new_cluster is not None and (type(new_cluster) is dict or isinstance(new_cluster, Mapping)):
        return JOBS_CLASSIC, ("new", key), new_cluster, instance_cluster, None, False
    job_cluster_key = task.get("job_cluster_key")
    if job_cluster_key:
        return (
            JOBS_CLASSIC,
            ("job_cluster", job_cluster_key),
            clusters.get(job_cluster_key),
            instance_cluster,
            None,
            False,
        )
    kind = task_type(task)
    if kind == "sql_task":
        sql_task = task.get("sql_task")
        warehouse = sql_task.get("warehouse_id") if isinstance(sql_task, Mapping) else None
        return SQL_WAREHOUSE, ("warehouse", str(warehouse)), None, None, warehouse, False
    if kind in _BILLED_ELSEWHERE_TASKS:
        return _BILLED_ELSEWHERE_TASKS[kind], ("elsewhere", key), None, None, None, True
    return JOBS_SERVERLESS, ("serverless", key), None, None, None, False


def task_compute(
    task: Mapping[str, Any], clusters: Mapping[str, Mapping[str, Any]], cluster_specs: ClusterSpecs
) -> Compute:
    """The compute of one task; ``cluster_specs`` knows existing clusters seen through the Clusters API."""
    return Compute(*task_compute_facts(task, clusters, cluster_specs))
