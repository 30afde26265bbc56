"""What a cluster spec costs per hour: driver + workers from the node type table, autoscale ranges, Photon.

A spec is the dict the Clusters, Jobs and Pipelines APIs use (``node_type_id``, ``driver_node_type_id``,
``num_workers`` or ``autoscale: {min_workers, max_workers}``, ``runtime_engine``, ``spark_version``)::

    shape = ClusterShape.from_spec({"node_type_id": "i3.xlarge", "autoscale": {"min_workers": 2, "max_workers": 8}})
    rate = cluster_rate(shape, NodeTypeRates(), photon_multiplier=2.0)
    rate.dbu_per_hour, rate.min_dbu_per_hour, rate.max_dbu_per_hour  # 6.0, 3.0, 9.0
    cluster_summary({"node_type_id": "i3.xlarge", "num_workers": 2})  # 'i3.xlarge + 2 x i3.xlarge', cached
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .estimate import NODE_TYPE_RATES, UNKNOWN_NODE_TYPE
from .node_types import NodeTypeRates

FIXED = "fixed"
OBSERVED = "observed"
AUTOSCALE_RANGE = "autoscale_range"
MAX_CACHED_SUMMARIES = 256
"""Distinct cluster shapes whose summary line is kept; past that the cache is emptied and refilled."""

_summaries: dict[tuple[Any, ...], str] = {}


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass(frozen=True, slots=True)
class ClusterShape:
    """The facts of a cluster spec that decide its DBU rate."""

    node_type: str | None
    driver_node_type: str | None
    workers: int | None
    min_workers: int | None
    max_workers: int | None
    workers_source: str
    photon: bool
    instance_pool_id: str | None = None

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], observed_workers: int | None = None) -> ClusterShape:
        """``observed_workers`` (from a clusters/get response) wins over the spec's autoscale range."""
        node_type = spec.get("node_type_id") or None
        driver = spec.get("driver_node_type_id") or node_type
        autoscale = spec.get("autoscale")
        low = high = None
        if autoscale is not None and isinstance(autoscale, Mapping):
            low, high = _count(autoscale.get("min_workers")), _count(autoscale.get("max_workers"))
        if observed_workers is not None:
            workers, source = observed_workers, OBSERVED
        elif low is not None or high is not None:
            low = low if low is not None else high
            high = high if high is not None else low
            workers, source = None, AUTOSCALE_RANGE
        else:
            workers, source = _count(spec.get("num_workers")) or 0, FIXED
        engine = str(spec.get("runtime_engine") or "").upper()
        photon = engine == "PHOTON" or (engine != "STANDARD" and "photon" in str(spec.get("spark_version") or ""))
        if spec.get("photon") is True:
            photon = True
        pool = spec.get("instance_pool_id") or spec.get("driver_instance_pool_id") or None
        return cls(node_type, driver, workers, low, high, source, photon, pool)

    @property
    def workers_text(self) -> str:
        return f"{self.min_workers}..{self.max_workers}" if self.workers is None else str(self.workers)

    def summary(self) -> str:
        """``i3.xlarge + 2..8 x i3.xlarge photon``."""
        node = self.node_type or (f"pool {self.instance_pool_id}" if self.instance_pool_id else "?")
        driver = self.driver_node_type or node
        text = f"{driver} + {self.workers_text} x {node}"
        return f"{text} photon" if self.photon else text


def _summary_key(spec: Mapping[str, Any], observed_workers: int | None) -> tuple[Any, ...]:
    """Every field :meth:`ClusterShape.from_spec` reads, with the types of those whose type changes the shape."""
    get = spec.get
    workers = get("num_workers")
    autoscale = get("autoscale")
    if autoscale is not None and isinstance(autoscale, Mapping):
        low, high = autoscale.get("min_workers"), autoscale.get("max_workers")
        autoscale = (low, type(low), high, type(high))
    return (
        get("node_type_id"),
        get("driver_node_type_id"),
        workers,
        type(workers),
        autoscale,
        observed_workers,
        get("runtime_engine"),
        get("spark_version"),
        get("photon") is True,
        get("instance_pool_id"),
        get("driver_instance_pool_id"),
    )


def cluster_summary(spec: Mapping[str, Any], observed_workers: int | None = None) -> str:
    """``ClusterShape.from_spec(spec, observed_workers).summary()``, remembered per distinct shape (bounded)."""
    try:
        key = _summary_key(spec, observed_workers)
        summary = _summaries.get(key)
    except TypeError:  # an unhashable field value: not cached
        return ClusterShape.from_spec(spec, observed_workers).summary()
    if summary is None:
        summary = ClusterShape.from_spec(spec, observed_workers).summary()
        if len(_summaries) >= MAX_CACHED_SUMMARIES:
            _summaries.clear()
        _summaries[key] = summary
    return summary


@dataclass(frozen=True, slots=True)
class ClusterRate:
    """DBU per hour of a cluster; for an unobserved autoscale range, the midpoint with both bounds."""

    dbu_per_hour: float
    min_dbu_per_hour: float | None
    max_dbu_per_hour: float | None
    method: str
    unknown_node_types: tuple[str, ...] = ()


def cluster_rate(shape: ClusterShape, rates: NodeTypeRates, photon_multiplier: float) -> ClusterRate:
    """Driver rate + workers x worker rate, times ``photon_multiplier`` for Photon; no DBUs for unknown types."""
    worker_type = shape.node_type or (f"instance_pool:{shape.instance_pool_id}" if shape.instance_pool_id else None)
    driver_type = shape.driver_node_type or worker_type
    if worker_type is None or driver_type is None:
        return ClusterRate(0.0, None, None, UNKNOWN_NODE_TYPE, ("(none)",))
    worker = rates.rate(worker_type)
    driver = worker if driver_type == worker_type else rates.rate(driver_type)
    unknown = tuple(
        dict.fromkeys(name for name, rate in ((driver_type, driver), (worker_type, worker)) if rate is None)
    )
    if unknown:
        return ClusterRate(0.0, None, None, UNKNOWN_NODE_TYPE, unknown)
    multiplier = photon_multiplier if shape.photon else 1.0
    if shape.workers is not None:
        return ClusterRate((driver + shape.workers * worker) * multiplier, None, None, NODE_TYPE_RATES)
    low = (driver + (shape.min_workers or 0) * worker) * multiplier
    high = (driver + (shape.max_workers or 0) * worker) * multiplier
    return ClusterRate((low + high) / 2.0, low, high, NODE_TYPE_RATES)
