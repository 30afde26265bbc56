"""``system.compute.warehouse_events``, and the SQL warehouse activity it records.

Docs: https://docs.databricks.com/aws/en/admin/system-tables/warehouse-events (table ``system.compute.
warehouse_events``: ``account_id``, ``workspace_id``, ``warehouse_id``, ``event_type``, ``cluster_count``,
``event_time``; event types ``SCALED_UP``, ``SCALED_DOWN``, ``STOPPING``, ``RUNNING``, ``STARTING``, ``STOPPED``).

The emulated warehouses have no power switch of their own: their activity is derived from query history. A
warehouse starts with the first statement that finds it stopped, keeps running while statements keep coming,
and auto-stops ``auto_stop_mins`` after the last statement ended (``auto_stop_mins = 0``: it never stops). It runs
``min_num_clusters`` clusters, changed by scripted scale events (``ws.billing.scale_warehouse``). The billing
model charges this running time, idle minutes included: that is what a per-statement estimate cannot see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from .snapshot import Snapshot, WarehouseInfo, utc
from .tables import INT, STRING, TIMESTAMP, TableSpec

DOC = "https://docs.databricks.com/aws/en/admin/system-tables/warehouse-events"
SERVERLESS_START_SECONDS = 5.0
CLASSIC_START_SECONDS = 150.0

WAREHOUSE_EVENTS = TableSpec(
    "compute",
    "warehouse_events",
    (
        ("account_id", STRING),
        ("workspace_id", STRING),
        ("warehouse_id", STRING),
        ("event_type", STRING),
        ("cluster_count", INT),
        ("event_time", TIMESTAMP),
    ),
    DOC,
)


@dataclass(frozen=True)
class ScaleRequest:
    """A scripted change of a warehouse's cluster count at ``at`` (epoch seconds)."""

    warehouse_id: str
    at: float
    cluster_count: int


@dataclass(frozen=True)
class WarehouseEvent:
    warehouse_id: str
    event_type: str
    cluster_count: int
    at: float


@dataclass(frozen=True)
class RunningPeriod:
    """One stretch from start to auto-stop; ``segments`` are ``(start, end, cluster_count)`` up to ``end``.

    ``end`` is the auto-stop time, or ``now`` while the warehouse is still running (``stopped`` says which).
    """

    warehouse: WarehouseInfo
    start: float
    end: float
    stopped: bool
    segments: tuple[tuple[float, float, int], ...]


def _busy_spans(snapshot: Snapshot) -> dict[str, list[tuple[float, float]]]:
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for record in snapshot.queries:
        start, end = record.start_time.timestamp(), record.end_time.timestamp()
        spans[record.warehouse_id].append((start, max(start, end)))
    for found in spans.values():
        found.sort()
    return spans


def _periods_of(
    warehouse: WarehouseInfo, spans: list[tuple[float, float]], now: float
) -> list[tuple[float, float, bool]]:
    idle = warehouse.auto_stop_mins * 60.0
    periods: list[tuple[float, float, bool]] = []
    start: float | None = None
    busy_until = 0.0
    for span_start, span_end in spans:
        if span_start > now:
            break
        if start is not None and (idle <= 0 or span_start <= busy_until + idle):
            busy_until = max(busy_until, span_end)
            continue
        if start is not None:
            periods.append((start, busy_until + idle, True))
        start, busy_until = span_start, span_end
    if start is not None:
        stop = busy_until + idle
        if idle > 0 and stop <= now:
            periods.append((start, stop, True))
        else:
            periods.append((start, now, False))
    return periods


def _segments(
    warehouse: WarehouseInfo, start: float, end: float, requests: list[ScaleRequest]
) -> tuple[tuple[float, float, int], ...]:
    low, high = max(1, warehouse.min_num_clusters), max(1, warehouse.max_num_clusters, warehouse.min_num_clusters)
    count, at = low, start
    segments: list[tuple[float, float, int]] = []
    for request in requests:
        if not start < request.at < end:
            continue
        wanted = min(high, max(low, request.cluster_count))
        if wanted != count:
            segments.append((at, request.at, count))
            count, at = wanted, request.at
    segments.append((at, end, count))
    return tuple(segments)


def running_periods(snapshot: Snapshot, scale_requests: Iterable[ScaleRequest]) -> list[RunningPeriod]:
    """Every running period of every warehouse, oldest first, up to ``snapshot.now``."""
    spans = _busy_spans(snapshot)
    requests: dict[str, list[ScaleRequest]] = defaultdict(list)
    for request in sorted(scale_requests, key=lambda r: r.at):
        requests[request.warehouse_id].append(request)
    periods = []
    for warehouse in snapshot.warehouses:
        for start, end, stopped in _periods_of(warehouse, spans.get(warehouse.id, []), snapshot.now):
            segments = _segments(warehouse, start, end, requests.get(warehouse.id, []))
            periods.append(RunningPeriod(warehouse, start, end, stopped, segments))
    return periods


def events(periods: Iterable[RunningPeriod]) -> list[WarehouseEvent]:
    """STARTING, RUNNING, SCALED_UP/SCALED_DOWN, STOPPING and STOPPED events of the running periods."""
    found: list[WarehouseEvent] = []
    for period in periods:
        warehouse_id, first = period.warehouse.id, period.segments[0][2]
        started = SERVERLESS_START_SECONDS if period.warehouse.serverless else CLASSIC_START_SECONDS
        found.append(WarehouseEvent(warehouse_id, "STARTING", first, period.start))
        found.append(WarehouseEvent(warehouse_id, "RUNNING", first, min(period.start + started, period.end)))
        previous = first
        for start, _, count in period.segments[1:]:
            found.append(WarehouseEvent(warehouse_id, "SCALED_UP" if count > previous else "SCALED_DOWN", count, start))
            previous = count
        if period.stopped:
            found.append(WarehouseEvent(warehouse_id, "STOPPING", previous, period.end))
            found.append(WarehouseEvent(warehouse_id, "STOPPED", 0, period.end))
    found.sort(key=lambda event: event.at)
    return found


def warehouse_event_rows(
    snapshot: Snapshot, account_id: str, periods: Iterable[RunningPeriod], visible_before: float
) -> list[tuple]:
    """Rows of ``system.compute.warehouse_events`` for events at or before ``visible_before``."""
    return [
        (account_id, snapshot.workspace_id, event.warehouse_id, event.event_type, event.cluster_count, utc(event.at))
        for event in events(periods)
        if event.at <= visible_before
    ]
