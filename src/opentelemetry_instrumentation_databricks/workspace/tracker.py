"""What the workspace handlers share: settings, telemetry, rate tables, the run table and response caches."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from opentelemetry import trace
from opentelemetry.semconv.attributes.db_attributes import DB_OPERATION_NAME, DB_SYSTEM_NAME

from ..attributes import (
    CLUSTER_AUTOSCALE_MAX,
    CLUSTER_AUTOSCALE_MIN,
    CLUSTER_DRIVER_NODE_TYPE,
    CLUSTER_NODE_TYPE,
    CLUSTER_PHOTON,
    CLUSTER_WORKERS,
    CLUSTER_WORKERS_SOURCE,
    COMPUTE_TYPE,
    COST_ESTIMATE_METHOD,
    COST_ESTIMATED_USD,
    DBU_ESTIMATED,
    DBU_ESTIMATED_MAX,
    DBU_ESTIMATED_MIN,
    UNKNOWN_NODE_TYPES,
)
from ..config import Settings
from ..context import OrchestrationContext
from ..cost.clusters import ClusterRate, ClusterShape, cluster_rate
from ..cost.estimate import Estimate
from ..cost.metrics import CostMetrics
from ..cost.node_types import NodeTypeRates
from ..cost.warehouse_sizes import WarehouseSizes
from .runs import RunTable

_logger = logging.getLogger(__name__)

MAX_CACHED_CLUSTERS = 1024
MAX_CACHED_PIPELINES = 1024

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """A small least-recently-stored map: when full, the oldest entry is forgotten."""

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[str, V] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: str | None) -> V | None:
        return self._entries.get(key) if key is not None else None

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class Tracker:
    """Shared by every handler through ``call.tracker``."""

    def __init__(
        self,
        tracer: trace.Tracer,
        metrics: CostMetrics | None,
        settings: Settings,
        sizes: WarehouseSizes,
    ) -> None:
        self.tracer = tracer
        self.metrics = metrics
        self.settings = settings
        self.sizes = sizes
        self.node_rates = NodeTypeRates(settings.node_type_dbu_rates)
        self.runs = RunTable(settings.max_tracked_runs)
        self.clusters: BoundedCache[Mapping[str, Any]] = BoundedCache(MAX_CACHED_CLUSTERS)
        """cluster id -> the latest cluster spec or ClusterDetails seen (clusters/get, create, list)."""
        self.pipelines: BoundedCache[Mapping[str, Any]] = BoundedCache(MAX_CACHED_PIPELINES)
        """pipeline id -> the latest pipeline spec seen (create, edit, get)."""
        self._failures_logged: set[str] = set()

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

    def metric_attributes(self, operation: str, compute_type: str, context: OrchestrationContext) -> dict[str, str]:
        attributes = {DB_SYSTEM_NAME: "databricks", DB_OPERATION_NAME: operation, COMPUTE_TYPE: compute_type}
        if context.job_name is not None:
            attributes["dagster.job.name"] = context.job_name
        if context.asset_key is not None:
            attributes["dagster.asset.key"] = context.asset_key
        return attributes

    def record(self, seconds: float, estimate: Estimate | None, attributes: Mapping[str, str]) -> None:
        if self.metrics is not None:
            dbu, dollars = (estimate.dbu, estimate.dollars) if estimate is not None else (0.0, 0.0)
            self.metrics.record(seconds, dbu, dollars, attributes)

    def log_once(self, where: str) -> None:
        """Log the first failure of each kind; the user's call always goes on, untouched."""
        if where not in self._failures_logged:
            self._failures_logged.add(where)
            _logger.warning(
                "Databricks SDK instrumentation failed in %s; the call itself is unaffected.", where, exc_info=True
            )


def estimate_attributes(estimate: Estimate) -> dict[str, Any]:
    return {DBU_ESTIMATED: estimate.dbu, COST_ESTIMATED_USD: estimate.dollars, COST_ESTIMATE_METHOD: estimate.method}


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
