"""``system.billing.attributed_cost`` (Beta): each statement's share of its warehouse's billed usage.

Docs: https://docs.databricks.com/aws/en/admin/system-tables/attributed-cost. One record per statement that ran on
a SQL warehouse; ``record_id`` is ``cpq_`` followed by the statement id; each record is *active* usage, so time the
warehouse was up with nothing running is in no record and a warehouse's records sum to at most its billed usage.

What the docs describe ends at ``record_id``, ``usage_metadata`` and ``identity_metadata``. The other columns here
are an assumption, shaped after ``system.billing.usage`` (``usage_quantity`` in ``usage_unit`` DBU over
``usage_start_time`` .. ``usage_end_time``, the statement's run), and so is the estimate, which follows the
Databricks Labs "DBSQL cost per query" method: each warehouse-hour's billed DBUs times its busy share (the union of
its statements' run times over the time it was up) go to its statements in proportion to their
``total_task_duration_ms + compilation_duration_ms + result_fetch_duration_ms`` times the part of their run in the
hour; times are whole milliseconds, as in ``system.query.history``.

A record appears once its statement is in query history and the billing of every hour it ran in is visible,
``ws.billing.attributed_cost_delay`` later; ``ws.billing.attributed_cost_enabled = False`` removes the table, as in
an account without the Beta.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from . import rates
from .billing import USAGE
from .compute import RunningPeriod
from .snapshot import Snapshot
from .tables import STRING, TableSpec, string_struct
from .usage_model import HOUR

DOC = "https://docs.databricks.com/aws/en/admin/system-tables/attributed-cost"
RECORD_PREFIX = "cpq_"
_HOUR_MS = int(HOUR * 1000)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_QUANTUM = Decimal("1e-18")

_USAGE_COLUMNS = dict(USAGE.columns)
_LIKE_USAGE = (
    "account_id",
    "workspace_id",
    "sku_name",
    "cloud",
    "usage_start_time",
    "usage_end_time",
    "usage_date",
    "usage_unit",
    "usage_quantity",
)
ATTRIBUTED_COST = TableSpec(
    "billing",
    "attributed_cost",
    (
        ("record_id", STRING),
        ("usage_metadata", string_struct("warehouse_id", "statement_id")),
        ("identity_metadata", string_struct("run_as")),
        *((name, _USAGE_COLUMNS[name]) for name in _LIKE_USAGE),
    ),
    DOC,
)


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _busy_ms(intervals: list[tuple[int, int]]) -> int:
    """The length of the union of ``intervals``."""
    busy, reached = 0, None
    for start, end in sorted(intervals):
        if reached is not None:
            start = max(start, reached)
        if end > start:
            busy += end - start
        reached = end if reached is None else max(reached, end)
    return busy


def _up_ms(periods: Iterable[RunningPeriod]) -> dict[tuple[str, int], int]:
    """Milliseconds each warehouse had at least one cluster running, per hour start (ms)."""
    up: dict[tuple[str, int], int] = defaultdict(int)
    for period in periods:
        for start, end, count in period.segments:
            if count <= 0:
                continue
            at, until = int(start * 1000), int(end * 1000)
            hour = at - at % _HOUR_MS
            while hour < until:
                up[period.warehouse.id, hour] += max(0, min(until, hour + _HOUR_MS) - max(at, hour))
                hour += _HOUR_MS
    return up


def attributed_rows(
    snapshot: Snapshot,
    usage: Iterable,
    periods: Iterable[RunningPeriod],
    account_id: str,
    *,
    history_visible_before: float,
    billing_visible_before: float,
) -> list[tuple]:
    """Rows for the statements whose history is visible and whose hours' billing is (``usage``: every usage row,
    with its visibility time; only warehouse rows visible before ``billing_visible_before`` count)."""
    hour_dbu: dict[tuple[str, int], float] = defaultdict(float)
    sku: dict[str, str] = {}
    for row in usage:
        warehouse = row.usage_metadata.get("warehouse_id")
        if warehouse and row.visible_at <= billing_visible_before:
            hour_dbu[warehouse, int(row.usage_start * 1000)] += float(row.quantity)
            sku[warehouse] = row.sku_name
    statements = [q for q in snapshot.queries if q.warehouse_id and q.end_time.timestamp() <= history_visible_before]
    spans: dict[str, tuple[int, int, float]] = {}
    members: dict[tuple[str, int], list[str]] = defaultdict(list)
    complete: dict[str, bool] = {}
    for q in statements:
        start = _ms(q.start_time)
        end = max(start, _ms(q.end_time))
        work = float((q.total_task_duration_ms or 0) + (q.compilation_duration_ms or 0))
        work += float(q.result_fetch_duration_ms or 0)
        spans[q.statement_id] = (start, end, work)
        hours = range(start - start % _HOUR_MS, end - end % _HOUR_MS + 1, _HOUR_MS)
        touched = [h for h in hours if start < h + _HOUR_MS and (end > h or (end == start and start >= h))]
        complete[q.statement_id] = all((q.warehouse_id, h) in hour_dbu for h in touched)
        for hour in touched:
            members[q.warehouse_id, hour].append(q.statement_id)
    up = _up_ms(periods)
    dbu: dict[str, float] = defaultdict(float)
    for (warehouse, hour), ids in members.items():
        billed = hour_dbu.get((warehouse, hour))
        if billed is None:
            continue
        in_hour: dict[str, float] = {}
        intervals = []
        for statement_id in ids:
            start, end, _ = spans[statement_id]
            in_hour[statement_id] = (
                1.0 if end == start else (min(end, hour + _HOUR_MS) - max(start, hour)) / (end - start)
            )
            intervals.append((max(start, hour), min(end, hour + _HOUR_MS)))
        busy = min(1.0, _busy_ms(intervals) / max(1, up.get((warehouse, hour), _HOUR_MS)))
        weight = sum(spans[i][2] * in_hour[i] for i in ids)
        for statement_id in ids:
            share = spans[statement_id][2] * in_hour[statement_id] / weight if weight > 0 else 1.0 / len(ids)
            dbu[statement_id] += billed * busy * share
    rows = []
    for q in statements:
        if not complete[q.statement_id] or q.statement_id not in dbu:
            continue
        rows.append(
            (
                RECORD_PREFIX + q.statement_id,
                {"warehouse_id": q.warehouse_id, "statement_id": q.statement_id},
                {"run_as": snapshot.user_name},
                account_id,
                snapshot.workspace_id,
                sku.get(q.warehouse_id, rates.sql_sku("PRO", False)),
                rates.CLOUD,
                q.start_time,
                q.end_time,
                q.start_time.date(),
                "DBU",
                Decimal(dbu[q.statement_id]).quantize(_QUANTUM),
            )
        )
    return rows
