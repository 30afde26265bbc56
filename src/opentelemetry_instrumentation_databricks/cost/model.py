"""What a unit of work cost: the one place the instrumentation turns compute and time into DBUs and dollars.

:class:`CostModel` holds the rate tables the settings chose (warehouse sizes, node types, Photon, serverless,
$/DBU) and the cluster specs seen through the Clusters API; the workspace handlers and the SQL patch ask it::

    model = CostModel(settings, sizes)
    model.warehouse("abc123", seconds=2.5)                      # Estimate(dbu=..., dollars=..., method=...)
    model.estimate(Compute("jobs_classic", ("new", "t"), spec), seconds=600)  # Costed: estimate + cluster facts
    model.run([(compute, start_ns, end_ns), ...])               # tasks sharing a cluster charge it once

Tasks sharing a job cluster share its cost: the cluster is charged once, from the first of its tasks' start to the
last one's end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..attributes import (
    CLUSTER_AUTOSCALE_MAX,
    CLUSTER_AUTOSCALE_MIN,
    CLUSTER_DRIVER_NODE_TYPE,
    CLUSTER_NODE_TYPE,
    CLUSTER_PHOTON,
    CLUSTER_WORKERS,
    CLUSTER_WORKERS_SOURCE,
    COST_ESTIMATE_METHOD,
    COST_ESTIMATED_USD,
    COST_SUMMABLE,
    DBU_ESTIMATED,
    DBU_ESTIMATED_MAX,
    DBU_ESTIMATED_MIN,
    UNKNOWN_NODE_TYPES,
)
from ..caches import BoundedCache
from ..config import Settings
from .clusters import ClusterRate, ClusterShape, cluster_rate
from .compute import DLT, JOBS_CLASSIC, JOBS_SERVERLESS, SQL_WAREHOUSE, Compute
from .estimate import BILLED_ELSEWHERE, SERVERLESS_RATE, UNKNOWN_CLUSTER, UNKNOWN_NODE_TYPE, Estimate, compute_time
from .node_types import NodeTypeRates
from .warehouse_sizes import WarehouseSizes

MAX_CACHED_CLUSTERS = 1024
_METHOD_PRECEDENCE = (UNKNOWN_NODE_TYPE, UNKNOWN_CLUSTER)
_NO_ESTIMATE = Estimate(0.0, 0.0, "none")


@dataclass(frozen=True, slots=True)
class Costed:
    """An estimate with the cluster attributes and one-line cluster summaries that explain it."""

    estimate: Estimate
    attributes: Mapping[str, Any]
    summaries: tuple[str, ...] = ()


class CostModel:
    """Rates from the settings plus what passed through (cluster specs, observed worker counts)."""

    def __init__(self, settings: Settings, sizes: WarehouseSizes) -> None:
        self.settings = settings
        self.sizes = sizes
        self.node_rates = NodeTypeRates(settings.node_type_dbu_rates)
        self.clusters: BoundedCache[Mapping[str, Any]] = BoundedCache(MAX_CACHED_CLUSTERS)
        """cluster id -> the latest cluster spec or ClusterDetails seen (clusters/get, create, list)."""

    def dollars_per_dbu(self, family: str) -> float:
        return self.settings.dollars_per_dbu.get(family, 0.0)

    def observed_workers(self, cluster_id: str | None) -> int | None:
        """The worker count a clusters/get response reported for a running cluster, if one passed through."""
        details = self.clusters.get(cluster_id)
        if not details or details.get("state") not in ("RUNNING", "RESIZING"):
            return None
        executors = details.get("executors")
        if isinstance(executors, list):
            return len(executors)
        workers = details.get("num_workers")
        return workers if isinstance(workers, int) and not isinstance(workers, bool) else None

    def cluster_rate(self, spec: Mapping[str, Any], cluster_id: str | None = None) -> tuple[ClusterShape, ClusterRate]:
        shape = ClusterShape.from_spec(spec, self.observed_workers(cluster_id))
        return shape, cluster_rate(shape, self.node_rates, self.settings.photon_dbu_multiplier)

    def warehouse(self, warehouse_id: str | None, seconds: float) -> Estimate:
        """A SQL warehouse busy for ``seconds``, at its configured, looked-up or default size."""
        rate, method = self.sizes.rate(warehouse_id)
        return compute_time(seconds, rate, self.settings.sql_dollars_per_dbu, method)

    def estimate(self, compute: Compute, seconds: float, family: str | None = None) -> Costed:
        """``seconds`` of ``compute``; ``family`` overrides the price family (e.g. ``dlt_pro``)."""
        if compute.billed_elsewhere:
            return Costed(Estimate(0.0, 0.0, BILLED_ELSEWHERE), {})
        if compute.compute_type == SQL_WAREHOUSE:
            return Costed(self.warehouse(compute.warehouse_id, seconds), {})
        if compute.compute_type == JOBS_SERVERLESS and compute.spec is None:
            price = self.dollars_per_dbu(family or JOBS_SERVERLESS)
            return Costed(compute_time(seconds, self.settings.serverless_dbu_per_hour, price, SERVERLESS_RATE), {})
        if compute.spec is None:
            return Costed(Estimate(0.0, 0.0, UNKNOWN_CLUSTER), {})
        shape, rate = self.cluster_rate(compute.spec, compute.cluster_id)
        price = self.dollars_per_dbu(family or compute.compute_type or JOBS_CLASSIC)
        costed = compute_time(seconds, rate.dbu_per_hour, price, rate.method)
        return Costed(costed, cluster_attributes(shape, rate, seconds), (shape.summary(),))

    def run(self, tasks: Iterable[tuple[Compute, int, int]]) -> tuple[Costed, str]:
        """A job run from its tasks' ``(compute, start_ns, end_ns)``: the total and the compute type that used most.

        Tasks on one shared cluster (a job cluster, an existing cluster) charge it once, first start to last end.
        """
        groups: dict[tuple[str, str], tuple[Compute, int, int]] = {}
        for compute, start, end in tasks:
            first, last = groups.get(compute.group, (compute, start, end))[1:]
            groups[compute.group] = (compute, min(first, start), max(last, end))
        parts = [(compute, self.estimate(compute, (end - start) / 1e9)) for compute, start, end in groups.values()]
        by_type: dict[str, float] = {}
        for compute, costed in parts:
            if compute.compute_type:
                by_type[compute.compute_type] = by_type.get(compute.compute_type, 0.0) + costed.estimate.dbu
        compute_type = max(by_type, key=by_type.__getitem__) if by_type else JOBS_SERVERLESS
        return combined([costed for _, costed in parts]), compute_type

    def pipeline_update(self, spec: Mapping[str, Any], edition: str, seconds: float) -> Costed:
        """A pipeline update: its ``default`` clusters at the edition's DLT rate, or serverless compute."""
        if spec.get("serverless"):
            return self.estimate(Compute(JOBS_SERVERLESS, ("serverless", "")), seconds)
        photon = bool(spec.get("photon"))
        clusters = _default_clusters(spec) or [{}]
        family = f"dlt_{edition}"
        return combined(
            [self.estimate(Compute(DLT, ("pipeline", ""), {**c, "photon": photon}), seconds, family) for c in clusters]
        )


def combined(parts: Sequence[Costed]) -> Costed:
    """One estimate for a sum of parts; cluster facts only when there is one part (they describe one cluster)."""
    if len(parts) == 1:
        return parts[0]
    estimate = Estimate(
        sum(part.estimate.dbu for part in parts),
        sum(part.estimate.dollars for part in parts),
        combined_method([part.estimate.method for part in parts]) or _NO_ESTIMATE.method,
    )
    return Costed(estimate, {}, tuple(summary for part in parts for summary in part.summaries))


def combined_method(methods: list[str]) -> str | None:
    """One method for a sum of estimates: an unknown part names itself, else the first method seen."""
    for method in _METHOD_PRECEDENCE:
        if method in methods:
            return method
    return methods[0] if methods else None


def _default_clusters(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    clusters = spec.get("clusters")
    if not isinstance(clusters, list):
        return []
    return [c for c in clusters if isinstance(c, Mapping) and str(c.get("label") or "default").lower() == "default"]


def estimate_attributes(estimate: Estimate, summable: bool = True) -> dict[str, Any]:
    """The estimate on a span; ``summable=False`` marks a part already counted in an ancestor (a run's task)."""
    return {
        DBU_ESTIMATED: estimate.dbu,
        COST_ESTIMATED_USD: estimate.dollars,
        COST_ESTIMATE_METHOD: estimate.method,
        COST_SUMMABLE: summable,
    }


def cluster_attributes(shape: ClusterShape, rate: ClusterRate, seconds: float | None = None) -> dict[str, Any]:
    """Span attributes of one cluster: node types, workers and where the count came from, Photon, rate bounds."""
    attributes: dict[str, Any] = {CLUSTER_WORKERS_SOURCE: shape.workers_source, CLUSTER_PHOTON: shape.photon}
    if shape.node_type:
        attributes[CLUSTER_NODE_TYPE] = shape.node_type
    if shape.driver_node_type:
        attributes[CLUSTER_DRIVER_NODE_TYPE] = shape.driver_node_type
    if shape.workers is not None:
        attributes[CLUSTER_WORKERS] = shape.workers
    else:
        attributes[CLUSTER_AUTOSCALE_MIN] = shape.min_workers
        attributes[CLUSTER_AUTOSCALE_MAX] = shape.max_workers
    if rate.unknown_node_types:
        attributes[UNKNOWN_NODE_TYPES] = list(rate.unknown_node_types)
    if seconds is not None and rate.min_dbu_per_hour is not None and rate.max_dbu_per_hour is not None:
        attributes[DBU_ESTIMATED_MIN] = rate.min_dbu_per_hour * seconds / 3600.0
        attributes[DBU_ESTIMATED_MAX] = rate.max_dbu_per_hour * seconds / 3600.0
    return attributes
