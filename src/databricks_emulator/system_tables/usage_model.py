"""The emulated platform's "true" DBU usage: what ``system.billing.usage`` bills, hour by hour.

It follows the way Databricks bills, which a client-side estimate made when the work ends cannot fully know:

- classic clusters (job, pipeline and all-purpose) bill every node from the start request to termination,
  start-up and shutdown included, at the node types' DBU rates (driver + workers); an autoscaling cluster bills
  its minimum workers until it has scaled up (``Timing.autoscale_up_seconds`` after it is RUNNING), then its
  maximum; Photon multiplies the DBUs (by product, :data:`.rates.PHOTON_MULTIPLIER`) and bills under the
  ``_(PHOTON)`` SKU;
- SQL warehouses bill their size's DBU rate times their cluster count for the whole time they run, from the
  first statement to the auto-stop after ``auto_stop_mins`` idle minutes (see :mod:`.compute`);
- serverless job tasks bill a serverless DBU rate over each task's run, serverless pipeline updates over the
  update.

Where ids and tags land follows the billable usage reference
(https://docs.databricks.com/aws/en/admin/system-tables/billing): ``cluster_id`` and ``node_type`` on classic
compute; ``job_id``, ``job_run_id`` and ``job_name`` on job compute and serverless jobs, never on all-purpose
clusters (a job task on an existing cluster bills as that cluster); ``dlt_pipeline_id``/``dlt_update_id`` on
pipelines; ``warehouse_id`` on warehouses; ``notebook_id`` only on serverless notebooks, which the emulator does
not have. ``custom_tags`` carry the cluster's tags (job tags merged in for job clusters, pipeline tags for
pipeline clusters) and its default tags on classic compute, the warehouse's tags on warehouses (never query
tags), only the usage/budget policy's tags on serverless jobs, and nothing on serverless pipelines (their tags
live in ``system.lakeflow.pipelines``).

Usage is cut at hour boundaries: one :class:`HourlyUsage` per SKU, resource and clock hour, produced once the
hour is over (rows never change after they appear; corrections are separate records).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import rates
from .compute import RunningPeriod
from .snapshot import Snapshot, seconds

HOUR = 3600.0
QUANTUM = Decimal("0.000001")
_RECORD_NAMESPACE = uuid.UUID("6f1c1c0e-3f55-4d0b-9a9c-5b2f0e2a6d41")


@dataclass
class Rates:
    """The rates the model bills with; ``ws.billing.rates`` is this workspace's copy."""

    node_type_dbu_per_hour: dict[str, float]
    photon_multiplier: dict[str, float]
    warehouse_dbu_per_hour: dict[str, float]
    serverless_job_dbu_per_hour: float = rates.SERVERLESS_JOB_DBU_PER_HOUR
    serverless_pipeline_dbu_per_hour: float = rates.SERVERLESS_PIPELINE_DBU_PER_HOUR
    unknown_node_type_dbu_per_hour: float = rates.UNKNOWN_NODE_TYPE_DBU_PER_HOUR

    @classmethod
    def defaults(cls) -> Rates:
        return cls(
            dict(rates.NODE_TYPE_DBU_PER_HOUR), dict(rates.PHOTON_MULTIPLIER), dict(rates.WAREHOUSE_DBU_PER_HOUR)
        )

    def node(self, node_type: str | None) -> float:
        return self.node_type_dbu_per_hour.get(node_type or "", self.unknown_node_type_dbu_per_hour)

    def key(self) -> tuple:
        return (
            tuple(sorted(self.node_type_dbu_per_hour.items())),
            tuple(sorted(self.photon_multiplier.items())),
            tuple(sorted(self.warehouse_dbu_per_hour.items())),
            self.serverless_job_dbu_per_hour,
            self.serverless_pipeline_dbu_per_hour,
            self.unknown_node_type_dbu_per_hour,
        )


@dataclass(frozen=True)
class Meter:
    """One resource's DBU draw, ``segments`` of ``(start, end, dbu_per_hour)``, and what its usage rows say."""

    sku_name: str
    billing_origin_product: str
    serverless: bool
    usage_metadata: Mapping[str, str | None]
    custom_tags: Mapping[str, str]
    identity_metadata: Mapping[str, str | None]
    product_features: Mapping[str, Any]
    segments: tuple[tuple[float, float, float], ...]

    def identity(self) -> str:
        return json.dumps(
            [
                self.sku_name,
                self.billing_origin_product,
                self.usage_metadata,
                self.custom_tags,
                self.identity_metadata,
                self.product_features,
            ],
            sort_keys=True,
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class HourlyUsage:
    """The ORIGINAL usage of one meter in one clock hour ``[hour_start, hour_start + 1 h)``."""

    record_id: str
    meter: Meter
    hour_start: float
    quantity: Decimal

    @property
    def hour_end(self) -> float:
        return self.hour_start + HOUR


def _features(**features: Any) -> dict[str, Any]:
    return {key: value for key, value in features.items() if value is not None}


def _metadata(**fields: Any) -> dict[str, str | None]:
    return {key: None if value is None else str(value) for key, value in fields.items() if value is not None}


# classic clusters
def _cluster_meter(
    snapshot: Snapshot, model: Rates, record: Any, runs_by_id: dict, updates_by_id: dict
) -> Meter | None:
    photon = record.runtime_engine == "PHOTON"
    pool = (record.spec or {}).get("instance_pool_id")
    tags = {**dict(record.custom_tags), **dict(record.default_tags)}
    if record.cluster_source == "JOB":
        run = runs_by_id.get(record.job_run_id)
        product, sku = "JOBS", rates.jobs_sku(photon)
        metadata = _metadata(
            cluster_id=record.cluster_id,
            job_id=record.job_id,
            job_run_id=record.job_run_id,
            job_name=run.run_name if run is not None else None,
            node_type=record.node_type_id,
            instance_pool_id=pool,
        )
        identity = {"run_as": record.creator_user_name}
        features = _features(jobs_tier="CLASSIC", is_serverless=False, is_photon=photon)
    elif record.cluster_source == "PIPELINE":
        update = updates_by_id.get(record.pipeline_update_id)
        edition = update.edition if update is not None else "ADVANCED"
        product, sku = "DLT", rates.dlt_sku(edition, photon)
        metadata = _metadata(
            cluster_id=record.cluster_id,
            dlt_pipeline_id=record.pipeline_id,
            dlt_update_id=record.pipeline_update_id,
            node_type=record.node_type_id,
            instance_pool_id=pool,
        )
        identity = {"run_as": record.creator_user_name}
        features = _features(dlt_tier=edition, is_serverless=False, is_photon=photon)
    else:
        product, sku = "ALL_PURPOSE", rates.all_purpose_sku(photon)
        metadata = _metadata(cluster_id=record.cluster_id, node_type=record.node_type_id, instance_pool_id=pool)
        identity = {}
        features = _features(is_serverless=False, is_photon=photon)
    multiplier = model.photon_multiplier.get(product, 1.0) if photon else 1.0
    segments = _cluster_segments(snapshot, model, record, multiplier)
    if not segments:
        return None
    return Meter(sku, product, False, metadata, tags, identity, features, segments)


def _cluster_segments(snapshot: Snapshot, model: Rates, record: Any, multiplier: float) -> tuple:
    driver = model.node(record.driver_node_type_id or record.node_type_id)
    worker = model.node(record.node_type_id)
    autoscale = record.autoscale
    if autoscale:
        low, high = int(autoscale.get("min_workers", 0)), int(autoscale.get("max_workers", 0))
    else:
        low = high = int(record.num_workers or 0)
    segments: list[tuple[float, float, float]] = []
    for session in record.sessions:
        start = seconds(session.requested_time) or 0.0
        end = seconds(session.terminated_time)
        end = snapshot.now if end is None else end
        running = seconds(session.running_time)
        scale_at = end
        if high != low and running is not None and snapshot.autoscale_up_seconds is not None:
            scale_at = min(end, max(start, running + snapshot.autoscale_up_seconds))
        if scale_at > start:
            segments.append((start, scale_at, (driver + low * worker) * multiplier))
        if end > scale_at:
            segments.append((scale_at, end, (driver + high * worker) * multiplier))
    return tuple(segment for segment in segments if segment[1] > segment[0])


# serverless
def _serverless_job_meters(snapshot: Snapshot, model: Rates, policies: Mapping[str, Mapping[str, str]]) -> list[Meter]:
    meters = []
    for run in snapshot.job_runs:
        segments = []
        for task in run.tasks:
            start = seconds(task.start_time)
            if task.compute_type != "jobs_serverless" or start is None:
                continue
            end = seconds(task.end_time)
            segments.append((start, snapshot.now if end is None else end, model.serverless_job_dbu_per_hour))
        if not segments:
            continue
        policy = run.usage_policy_id or run.budget_policy_id
        metadata = _metadata(
            job_id=run.job_id,
            job_run_id=run.run_id,
            job_name=run.run_name,
            budget_policy_id=run.budget_policy_id,
            usage_policy_id=run.usage_policy_id,
        )
        meters.append(
            Meter(
                rates.jobs_serverless_sku(),
                "JOBS",
                True,
                metadata,
                dict(policies.get(policy or "", {})),
                {"run_as": run.creator_user_name},
                _features(is_serverless=True, performance_target="PERFORMANCE_OPTIMIZED"),
                tuple(segments),
            )
        )
    return meters


def _serverless_pipeline_meters(snapshot: Snapshot, model: Rates) -> list[Meter]:
    meters = []
    for update in snapshot.pipeline_updates:
        if not update.serverless:
            continue
        start, end = seconds(update.creation_time) or 0.0, seconds(update.end_time)
        end = snapshot.now if end is None else end
        if end <= start:
            continue
        meters.append(
            Meter(
                rates.jobs_serverless_sku(),
                "DLT",
                True,
                _metadata(dlt_pipeline_id=update.pipeline_id, dlt_update_id=update.update_id),
                {},
                {"run_as": snapshot.user_name},
                _features(dlt_tier=update.edition, is_serverless=True, performance_target="PERFORMANCE_OPTIMIZED"),
                ((start, end, model.serverless_pipeline_dbu_per_hour),),
            )
        )
    return meters


# SQL warehouses
def _warehouse_meters(model: Rates, periods: Iterable[RunningPeriod]) -> list[Meter]:
    meters = []
    for period in periods:
        warehouse = period.warehouse
        rate = model.warehouse_dbu_per_hour.get(warehouse.cluster_size, 12.0)
        meters.append(
            Meter(
                rates.sql_sku(warehouse.warehouse_type, warehouse.serverless),
                "SQL",
                warehouse.serverless,
                _metadata(warehouse_id=warehouse.id),
                dict(warehouse.tags),
                {"owned_by": warehouse.owner},
                _features(
                    sql_tier="CLASSIC" if warehouse.warehouse_type == "CLASSIC" else "PRO",
                    is_serverless=warehouse.serverless,
                ),
                tuple((start, end, rate * count) for start, end, count in period.segments if end > start),
            )
        )
    return meters


def meters(
    snapshot: Snapshot,
    model: Rates,
    periods: Iterable[RunningPeriod],
    policies: Mapping[str, Mapping[str, str]],
) -> list[Meter]:
    """Every DBU-drawing resource of the snapshot."""
    runs_by_id = {run.run_id: run for run in snapshot.job_runs}
    updates_by_id = {update.update_id: update for update in snapshot.pipeline_updates}
    found = [
        meter
        for record in snapshot.clusters
        if (meter := _cluster_meter(snapshot, model, record, runs_by_id, updates_by_id)) is not None
    ]
    found += _serverless_job_meters(snapshot, model, policies)
    found += _serverless_pipeline_meters(snapshot, model)
    found += _warehouse_meters(model, periods)
    return found


def hourly(meters_: Iterable[Meter], now: float, workspace_id: str) -> list[HourlyUsage]:
    """The usage of every hour that is over by ``now``, one item per meter identity and hour, oldest first."""
    totals: dict[tuple[str, float], float] = defaultdict(float)
    by_identity: dict[str, Meter] = {}
    for meter in meters_:
        identity = meter.identity()
        by_identity.setdefault(identity, meter)
        for start, end, dbu_per_hour in meter.segments:
            hour = start - start % HOUR
            while hour < end:
                if hour + HOUR > now:
                    break
                overlap = min(end, hour + HOUR) - max(start, hour)
                if overlap > 0:
                    totals[(identity, hour)] += overlap / HOUR * dbu_per_hour
                hour += HOUR
    usage = []
    for (identity, hour), dbu in totals.items():
        quantity = Decimal(repr(dbu)).quantize(QUANTUM)
        if quantity <= 0:
            continue
        record_id = str(uuid.uuid5(_RECORD_NAMESPACE, f"{workspace_id}|{identity}|{hour:.0f}"))
        usage.append(HourlyUsage(record_id, by_identity[identity], hour, quantity))
    usage.sort(key=lambda item: (item.hour_start, item.meter.sku_name, item.record_id))
    return usage
