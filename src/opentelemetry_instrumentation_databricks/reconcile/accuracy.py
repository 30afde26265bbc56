"""How good are the estimates? Estimate vs billed in total, per execution method, warehouse, Dagster job and asset,
with a line of calibration advice where a configured rate is consistently off.

::

    databricks-otel-reconcile accuracy --since 2026-11-01 --state reconcile.sqlite --records /mnt/otel/span-records
    databricks-otel-reconcile accuracy --since 2026-11-01 ... --json

The estimates come from the span-time id record (what each span estimated when the work ended, and its context:
warehouse, Dagster job and asset), the billed figures from the reconciler's state (what billing said, all
corrections included). The execution method is the span's ``databricks.compute.type`` (``sql_warehouse``,
``jobs_classic``, ``jobs_serverless``, ``dlt``, ``all_purpose``), else the unit kind. Relative error =
(estimated - billed) / billed, in dollars; units billed at $0 are counted but have no relative error. Records
written before the context existed count in the totals and per method, under ``-`` in the other cuts.

Money in the table is rounded to cents (``<$0.01`` for a positive amount below a cent); ``--json`` keeps full
precision, and the errors are always computed before rounding.

Calibration advice (:func:`advice`): for a method (SQL: per warehouse) with at least :data:`MIN_ADVICE_UNITS` units
whose billed/estimated DBU ratio is off by more than :data:`ADVICE_THRESHOLD` in the same direction for at least
:data:`CONSISTENT_SHARE` of them, one line names the option to change and a value: the serverless DBU rate, the
warehouse's size, the node type rates; likewise for the price per DBU when DBUs agree but dollars do not::

    jobs_serverless: billed/estimated DBU median 1.50 over 6 units: set
    OTEL_INSTRUMENTATION_DATABRICKS_SERVERLESS_DBU_PER_HOUR to 6 (the estimates used 4)
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from .. import environment_variables as env
from ..attributes import DAGSTER_ASSET_KEY, DAGSTER_JOB_NAME, WAREHOUSE_ID
from ..cost.rates import WAREHOUSE_DBU_PER_HOUR
from .keys import CLUSTER, NOTEBOOK, STATEMENT
from .records import SpanRecord, iter_records
from .state import Emitted

MIN_ADVICE_UNITS = 5
ADVICE_THRESHOLD = 0.2
"""Advice when the median ratio is above 1.2 or below 1 / 1.2."""
CONSISTENT_SHARE = 0.8
UNKNOWN = "-"
CUTS = (("warehouse", WAREHOUSE_ID), ("dagster_job", DAGSTER_JOB_NAME), ("dagster_asset", DAGSTER_ASSET_KEY))
_PRICE_FAMILY = {"jobs_classic": "jobs_classic", "jobs_serverless": "jobs_serverless", "all_purpose": "all_purpose"}


@dataclass(frozen=True)
class MethodAccuracy:
    """One row of the report: ``method`` is the execution method, or the warehouse / job / asset of a cut."""

    method: str
    count: int
    estimated_usd: float
    billed_usd: float
    median_relative_error: float | None
    p90_absolute_relative_error: float | None


@dataclass
class AccuracyReport:
    total: MethodAccuracy
    methods: list[MethodAccuracy]
    cuts: dict[str, list[MethodAccuracy]] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)


@dataclass
class _Unit:
    method: str
    estimated_usd: float = 0.0
    estimated_dbu: float = 0.0
    hours: float = 0.0
    warehouse: str = UNKNOWN
    context: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Pair:
    unit: _Unit
    billed: Emitted


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


def _row(name: str, pairs: list[_Pair]) -> MethodAccuracy:
    estimated = [pair.unit.estimated_usd for pair in pairs]
    billed = [pair.billed.usd for pair in pairs]
    errors = [(e - b) / b for e, b in zip(estimated, billed, strict=True) if b > 0]
    return MethodAccuracy(
        method=name,
        count=len(pairs),
        estimated_usd=sum(estimated),
        billed_usd=sum(billed),
        median_relative_error=_percentile(errors, 0.5),
        p90_absolute_relative_error=_percentile([abs(e) for e in errors], 0.9),
    )


def _grouped(pairs: list[_Pair], key: Callable[[_Pair], str]) -> list[MethodAccuracy]:
    groups: dict[str, list[_Pair]] = {}
    for pair in pairs:
        groups.setdefault(key(pair), []).append(pair)
    return [_row(name, members) for name, members in sorted(groups.items())]


def accuracy_report(
    records: Iterable[SpanRecord],
    billed: dict[tuple[str, str], Emitted],
    *,
    since_ns: int = 0,
    progress: Callable[[int], None] | None = None,
) -> AccuracyReport:
    """The report over the records that ended at or after ``since_ns`` whose unit has been reconciled."""
    units: dict[tuple[str, str], _Unit] = {}
    for count, record in enumerate(records, 1):
        if progress is not None and count % 100_000 == 0:
            progress(count)
        if record.end_ns < since_ns or record.estimated_usd is None:
            continue
        unit_key = _billed_unit(record)
        unit = units.get(unit_key)
        if unit is None:
            unit = units[unit_key] = _Unit(record.compute_type or record.kind)
        unit.estimated_usd += record.estimated_usd
        unit.estimated_dbu += record.estimated_dbu or 0.0
        unit.hours += max(0, record.end_ns - record.start_ns) / 3.6e12
        for name, value in (record.context or {}).items():
            unit.context.setdefault(name, value)
        if record.kind == STATEMENT and record.scope:
            unit.context.setdefault(WAREHOUSE_ID, record.scope)
    pairs = [_Pair(unit, billed[key]) for key, unit in units.items() if key in billed]
    return AccuracyReport(
        total=_row("all", pairs),
        methods=_grouped(pairs, lambda pair: pair.unit.method),
        cuts={cut: _grouped(pairs, lambda pair, name=name: pair.unit.context.get(name, UNKNOWN)) for cut, name in CUTS},
        advice=advice(pairs),
    )


def _consistently_off(ratios: list[float]) -> float | None:
    """The median ratio when enough of them lie on the same side of 1, beyond the threshold; else ``None``."""
    if len(ratios) < MIN_ADVICE_UNITS:
        return None
    median = statistics.median(ratios)
    if 1 / (1 + ADVICE_THRESHOLD) <= median <= 1 + ADVICE_THRESHOLD:
        return None
    same_side = sum(1 for ratio in ratios if (ratio > 1) == (median > 1))
    return median if same_side >= CONSISTENT_SHARE * len(ratios) else None


def _number(value: float) -> str:
    return f"{value:.3g}"


def _dbu_advice(method: str, scope: str | None, pairs: list[_Pair], ratio: float) -> str:
    what = f"warehouse {scope}" if scope else method
    head = f"{what}: billed/estimated DBU median {ratio:.2f} over {len(pairs)} units: "
    rates = [p.unit.estimated_dbu / p.unit.hours for p in pairs if p.unit.hours > 0 and p.unit.estimated_dbu > 0]
    used = statistics.median(rates) if rates else None
    if method == "sql_warehouse" and scope and used:
        wanted = used * ratio
        size = min(WAREHOUSE_DBU_PER_HOUR, key=lambda name: abs(math.log(WAREHOUSE_DBU_PER_HOUR[name] / wanted)))
        return (
            head + f"set {env.OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_SIZES}={scope}={size} (the estimates used "
            f"{_number(used)} DBU/h; billing implies {_number(wanted)}; statements that overlap share the "
            "warehouse, so check the size before you change it)"
        )
    if method in ("jobs_serverless", "dlt") and used:
        return head + (
            f"set {env.OTEL_INSTRUMENTATION_DATABRICKS_SERVERLESS_DBU_PER_HOUR} to {_number(used * ratio)} "
            f"(the estimates used {_number(used)})" + (" if these are serverless pipelines" if method == "dlt" else "")
        )
    if method in ("jobs_classic", "all_purpose", "dlt"):
        return head + (
            f"scale the node types' DBU/h in {env.OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES} by about "
            f"{ratio:.2f} (classic clusters also bill start-up and shutdown, which the estimate leaves out)"
        )
    return head + "no configured rate covers this method"


def _price_advice(method: str, pairs: list[_Pair]) -> str | None:
    prices = [
        (p.billed.usd / p.billed.dbu, p.unit.estimated_usd / p.unit.estimated_dbu)
        for p in pairs
        if p.billed.dbu > 0 and p.unit.estimated_dbu > 0 and p.unit.estimated_usd > 0
    ]
    ratio = _consistently_off([billed / estimated for billed, estimated in prices])
    if ratio is None:
        return None
    price = statistics.median(billed for billed, _ in prices)
    head = f"{method}: billed/estimated $ per DBU median {ratio:.2f} over {len(prices)} units: "
    if method == "sql_warehouse":
        return head + f"set {env.OTEL_INSTRUMENTATION_DATABRICKS_SQL_DOLLARS_PER_DBU} to {price:.3f}"
    family = _PRICE_FAMILY.get(method, "dlt_<edition>" if method == "dlt" else None)
    if family is None:
        return None
    return head + f"set {env.OTEL_INSTRUMENTATION_DATABRICKS_DOLLARS_PER_DBU}={family}={price:.3f}"


def advice(pairs: list[_Pair]) -> list[str]:
    """Calibration lines: DBUs per method (SQL: per warehouse) that are consistently off, else the price per DBU
    of the method when that is."""
    groups: dict[tuple[str, str], list[_Pair]] = {}
    for pair in pairs:
        scope = pair.unit.context.get(WAREHOUSE_ID, "") if pair.unit.method == "sql_warehouse" else ""
        groups.setdefault((pair.unit.method, scope), []).append(pair)
    lines = []
    dbu_off = set()
    for (method, scope), members in sorted(groups.items()):
        measured = [p for p in members if p.billed.dbu > 0 and p.unit.estimated_dbu > 0]
        ratio = _consistently_off([p.billed.dbu / p.unit.estimated_dbu for p in measured])
        if ratio is not None:
            lines.append(_dbu_advice(method, scope or None, measured, ratio))
            dbu_off.add(method)
    for method in sorted({method for method, _ in groups} - dbu_off):
        price = _price_advice(method, [pair for pair in pairs if pair.unit.method == method])
        if price is not None:
            lines.append(price)
    return lines


def load_report(
    records_directory: str | os.PathLike[str],
    billed: dict[tuple[str, str], Emitted],
    since: dt.date | dt.datetime,
    progress: Callable[[int], None] | None = None,
) -> AccuracyReport:
    """The report over the records that ended at or after ``since`` (a date: its midnight UTC)."""
    if not isinstance(since, dt.datetime):
        since = dt.datetime(since.year, since.month, since.day, tzinfo=dt.timezone.utc)
    since_ns = int(since.timestamp() * 1e9)
    return accuracy_report(iter_records(records_directory), billed, since_ns=since_ns, progress=progress)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f}%"


def cents(value: float) -> str:
    """Dollars rounded to cents: ``$1.23``; ``<$0.01`` for a positive amount below half a cent."""
    if 0 < value < 0.005:
        return "<$0.01"
    if -0.005 < value < 0:
        return "-<$0.01"
    return f"${value:,.2f}" if value >= 0 else f"-${-value:,.2f}"


def _table(title: str, rows: list[MethodAccuracy]) -> list[str]:
    header = (title, "units", "estimated", "billed", "median error", "p90 |error|")
    lines = [
        (
            row.method,
            str(row.count),
            cents(row.estimated_usd),
            cents(row.billed_usd),
            _percent(row.median_relative_error),
            _percent(row.p90_absolute_relative_error).lstrip("+"),
        )
        for row in rows
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=False)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in [header, *lines]]


def format_table(report: AccuracyReport) -> str:
    if not report.methods:
        return "(no reconciled unit has a recorded estimate in this window)"
    render = _table("method", [*report.methods, report.total])
    for cut, rows in report.cuts.items():
        render += ["", *_table(cut, rows)]
    if report.advice:
        render += ["", "calibration:", *(f"  {line}" for line in report.advice)]
    return "\n".join(render)


def to_json(report: AccuracyReport) -> str:
    return json.dumps(
        {
            "total": asdict(report.total),
            "methods": [asdict(row) for row in report.methods],
            **{f"by_{cut}": [asdict(row) for row in rows] for cut, rows in report.cuts.items()},
            "advice": report.advice,
        },
        indent=2,
    )
