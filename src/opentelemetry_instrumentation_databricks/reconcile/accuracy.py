"""How good are the estimates? Estimate vs billed per execution method, over the units reconciled so far.

::

    databricks-otel-reconcile accuracy --since 2026-11-01 --state reconcile.sqlite --records /mnt/otel/span-records
    databricks-otel-reconcile accuracy --since 2026-11-01 ... --json

The estimates come from the span-time id record (what each span estimated when the work ended), the billed figures
from the reconciler's state (what billing said, all corrections included). The execution method is the span's
``databricks.compute.type`` (``sql_warehouse``, ``jobs_classic``, ``jobs_serverless``, ``dlt``, ``all_purpose``),
else the unit kind. Relative error = (estimated - billed) / billed, in dollars; units billed at $0 are counted but
have no relative error.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from .keys import CLUSTER, NOTEBOOK
from .records import SpanRecord, iter_records
from .state import Emitted


@dataclass(frozen=True)
class MethodAccuracy:
    method: str
    count: int
    estimated_usd: float
    billed_usd: float
    median_relative_error: float | None
    p90_absolute_relative_error: float | None


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _billed_unit(record: SpanRecord) -> tuple[str, str]:
    if record.kind in (NOTEBOOK, CLUSTER):
        day = dt.datetime.fromtimestamp(record.start_ns / 1e9, dt.timezone.utc).date().isoformat()
        return record.kind, f"{record.unit_id}/{day}"
    return record.unit


def accuracy_report(
    records: Iterable[SpanRecord],
    billed: dict[tuple[str, str], Emitted],
    *,
    since_ns: int = 0,
    progress: Callable[[int], None] | None = None,
) -> list[MethodAccuracy]:
    """One :class:`MethodAccuracy` per execution method, for records that ended at or after ``since_ns``."""
    estimates: dict[tuple[str, str], list[float]] = {}
    methods: dict[tuple[str, str], str] = {}
    for count, record in enumerate(records, 1):
        if progress is not None and count % 100_000 == 0:
            progress(count)
        if record.end_ns < since_ns or record.estimated_usd is None:
            continue
        unit = _billed_unit(record)
        estimates.setdefault(unit, []).append(record.estimated_usd)
        methods.setdefault(unit, record.compute_type or record.kind)
    rows: dict[str, list[tuple[float, float]]] = {}
    for unit, values in estimates.items():
        emitted = billed.get(unit)
        if emitted is not None:
            rows.setdefault(methods[unit], []).append((sum(values), emitted.usd))
    report = []
    for method, pairs in sorted(rows.items()):
        errors = [(estimated - paid) / paid for estimated, paid in pairs if paid > 0]
        report.append(
            MethodAccuracy(
                method=method,
                count=len(pairs),
                estimated_usd=sum(p[0] for p in pairs),
                billed_usd=sum(p[1] for p in pairs),
                median_relative_error=_percentile(errors, 0.5),
                p90_absolute_relative_error=_percentile([abs(e) for e in errors], 0.9),
            )
        )
    return report


def load_report(
    records_directory: str | os.PathLike[str],
    billed: dict[tuple[str, str], Emitted],
    since: dt.date,
    progress: Callable[[int], None] | None = None,
) -> list[MethodAccuracy]:
    since_ns = int(dt.datetime(since.year, since.month, since.day, tzinfo=dt.timezone.utc).timestamp() * 1e9)
    return accuracy_report(iter_records(records_directory), billed, since_ns=since_ns, progress=progress)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f}%"


def format_table(report: list[MethodAccuracy]) -> str:
    header = ("method", "units", "estimated $", "billed $", "median error", "p90 |error|")
    lines = [
        (
            row.method,
            str(row.count),
            f"{row.estimated_usd:.4f}",
            f"{row.billed_usd:.4f}",
            _percent(row.median_relative_error),
            _percent(row.p90_absolute_relative_error).lstrip("+"),
        )
        for row in report
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=False)]
    render = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in [header, *lines]
    ]
    if not lines:
        render.append("(no reconciled unit has a recorded estimate in this window)")
    return "\n".join(render)


def to_json(report: list[MethodAccuracy]) -> str:
    return json.dumps([asdict(row) for row in report], indent=2)
