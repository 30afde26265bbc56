"""Which compute a unit of work ran on, and what it is estimated to have cost.

A job task runs on a new jobs cluster (``new_cluster`` or ``job_cluster_key``), an existing all-purpose cluster
(``existing_cluster_id``), a SQL warehouse (``sql_task``), serverless jobs compute (none of those), or bills its
compute elsewhere (``pipeline_task``: the pipeline update; ``run_job_task``: the child run; ``condition_task``:
none). Tasks sharing a job cluster share its cost: the cluster is charged once, from the first of its tasks'
start to the last one's end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..cost.estimate import BILLED_ELSEWHERE, SERVERLESS_RATE, UNKNOWN_CLUSTER, Estimate, compute_time
from .tracker import Tracker, cluster_attributes

JOBS_CLASSIC = "jobs_classic"
JOBS_SERVERLESS = "jobs_serverless"
ALL_PURPOSE = "all_purpose"
SQL_WAREHOUSE = "sql_warehouse"
DLT = "dlt"

_BILLED_ELSEWHERE_TASKS = {"pipeline_task": DLT, "run_job_task": None, "condition_task": None}
_METHOD_PRECEDENCE = ("unknown_node_type", UNKNOWN_CLUSTER)


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


def task_compute(task: Mapping[str, Any], job_clusters: Mapping[str, Mapping[str, Any]], tracker: Tracker) -> Compute:
    key = str(task.get("task_key") or task.get("run_id") or "")
    instance = task.get("cluster_instance")
    instance_cluster = instance.get("cluster_id") if isinstance(instance, Mapping) else None
    existing = task.get("existing_cluster_id")
    if existing:
        return Compute(ALL_PURPOSE, ("existing", existing), tracker.clusters.get(existing), existing)
    new_cluster = task.get("new_cluster")
    if isinstance(new_cluster, Mapping):
        return Compute(JOBS_CLASSIC, ("new", key), new_cluster, instance_cluster)
    job_cluster_key = task.get("job_cluster_key")
    if job_cluster_key:
        spec = job_clusters.get(job_cluster_key)
        return Compute(JOBS_CLASSIC, ("job_cluster", job_cluster_key), spec, instance_cluster)
    kind = task_type(task)
    if kind == "sql_task":
        sql_task = task.get("sql_task")
        warehouse = sql_task.get("warehouse_id") if isinstance(sql_task, Mapping) else None
        return Compute(SQL_WAREHOUSE, ("warehouse", str(warehouse)), warehouse_id=warehouse)
    if kind in _BILLED_ELSEWHERE_TASKS:
        return Compute(_BILLED_ELSEWHERE_TASKS[kind], ("elsewhere", key), billed_elsewhere=True)
    return Compute(JOBS_SERVERLESS, ("serverless", key))


@dataclass(frozen=True, slots=True)
class Costed:
    """An estimate with the cluster attributes and one-line cluster summary that explain it."""

    estimate: Estimate
    attributes: Mapping[str, Any]
    summary: str | None = None


def estimate(tracker: Tracker, compute: Compute, seconds: float, family: str | None = None) -> Costed:
    """The estimate for ``seconds`` of ``compute``; ``family`` overrides the price family (e.g. ``dlt_pro``)."""
    if compute.billed_elsewhere:
        return Costed(Estimate(0.0, 0.0, BILLED_ELSEWHERE), {})
    if compute.compute_type == SQL_WAREHOUSE:
        rate, method = tracker.sizes.rate(compute.warehouse_id)
        return Costed(compute_time(seconds, rate, tracker.settings.sql_dollars_per_dbu, method), {})
    if compute.compute_type == JOBS_SERVERLESS and compute.spec is None:
        price = tracker.dollars_per_dbu(family or JOBS_SERVERLESS)
        return Costed(compute_time(seconds, tracker.settings.serverless_dbu_per_hour, price, SERVERLESS_RATE), {})
    if compute.spec is None:
        return Costed(Estimate(0.0, 0.0, UNKNOWN_CLUSTER), {})
    shape, rate = tracker.cluster_rate(compute.spec, compute.cluster_id)
    price = tracker.dollars_per_dbu(family or compute.compute_type or JOBS_CLASSIC)
    costed = compute_time(seconds, rate.dbu_per_hour, price, rate.method)
    return Costed(costed, cluster_attributes(shape, rate, seconds), shape.summary())


def combined_method(methods: list[str]) -> str | None:
    """One method for a sum of estimates: an unknown part names itself, else the first method seen."""
    for method in _METHOD_PRECEDENCE:
        if method in methods:
            return method
    return methods[0] if methods else None
