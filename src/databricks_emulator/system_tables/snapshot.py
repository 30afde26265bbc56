"""Everything the system tables are derived from, read once from the workspace at one instant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from ..clusters import clusters
from ..discovery import current_user_name
from ..lifecycle import lifecycle
from ..pipelines import pipelines
from ..records import ClusterRecord, JobRunRecord, PipelineUpdateRecord
from ..runs import runs
from ..sql.history import QueryRecord
from ..sql.service import SqlService
from ..workspace import Workspace


@dataclass(frozen=True)
class WarehouseInfo:
    """A SQL warehouse's settings as they are now (the model applies them to its whole history)."""

    id: str
    name: str
    cluster_size: str
    warehouse_type: str
    serverless: bool
    min_num_clusters: int
    max_num_clusters: int
    auto_stop_mins: int
    tags: dict[str, str]
    owner: str


@dataclass(frozen=True)
class Snapshot:
    """What ran, as of ``now`` (epoch seconds)."""

    now: float
    workspace_id: str
    user_name: str
    warehouses: tuple[WarehouseInfo, ...]
    queries: tuple[QueryRecord, ...]
    job_runs: tuple[JobRunRecord, ...]
    clusters: tuple[ClusterRecord, ...]
    pipeline_updates: tuple[PipelineUpdateRecord, ...]
    autoscale_up_seconds: float | None


def take(workspace: Workspace) -> Snapshot:
    """Read the workspace's records now."""
    now = workspace.clock.time()
    with workspace.lock:
        warehouses = tuple(
            WarehouseInfo(
                id=w.id,
                name=w.name,
                cluster_size=w.cluster_size,
                warehouse_type=w.warehouse_type,
                serverless=bool(w.enable_serverless_compute) and w.warehouse_type != "CLASSIC",
                min_num_clusters=w.min_num_clusters,
                max_num_clusters=w.max_num_clusters,
                auto_stop_mins=w.auto_stop_mins,
                tags=dict(w.tags),
                owner=getattr(w, "creator_name", "") or current_user_name(workspace),
            )
            for w in workspace.warehouses.values()
        )
        found = clusters(workspace).table.values()
        cluster_records = tuple(c.record(now) for c in found if c.sessions and c.sessions[0].requested <= now)
    return Snapshot(
        now=now,
        workspace_id=str(workspace.workspace_id),
        user_name=current_user_name(workspace),
        warehouses=warehouses,
        queries=tuple(SqlService.of(workspace).history.records()),
        job_runs=runs(workspace).records(),
        clusters=cluster_records,
        pipeline_updates=pipelines(workspace).records(),
        autoscale_up_seconds=lifecycle(workspace).timing.autoscale_up_seconds,
    )


def utc(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)


def seconds(millis: int | None) -> float | None:
    return None if millis is None else millis / 1000.0
