"""Billed cost by who spent it, straight from the system tables: no trace backend, no state store.

::

    databricks-otel-reconcile report --by dagster_job_name --since 7d
    databricks-otel-reconcile report --by dagster_asset_key --since 2026-11-01 --csv > cost.csv
    databricks-otel-reconcile report --by team --since 24h --json          # any tag key
    databricks-otel-reconcile report --by dagster_job_name --since 7d --records /Volumes/main/ops/otel_span_records

or from Python::

    from opentelemetry_instrumentation_databricks.reconcile.report import billed_report, parse_since

    report = billed_report(source, "dagster_job_name", parse_since("7d", time.time()), records_directory=None)
    print(format_table(report))

Where each dollar goes (``system.billing.usage`` priced with ``list_prices`` at ``effective_list`` times the
discount, summed over every record type):

* ``--by dagster_job_name``, ``dagster_asset_key`` or any other tag key: usage rows by their ``custom_tags`` (the
  tags this package writes onto job, pipeline and cluster specs; a serverless job carries only its usage policy's
  tags). SQL warehouse hours are apportioned to the statements of ``system.query.history`` that ran in them
  (:mod:`.query`'s per-query method: busy share of the hour, split by task + compilation + fetch time), each
  statement counted under its query tag; a statement without the tag, and the warehouse's idle share, fall back to
  the warehouse's own ``custom_tags``;
* with ``--records`` (the directory of the span-time id record, :mod:`.records`), job runs and pipeline updates are
  attributed as the reconciler attributes them: the recorded context of the run first, its ``custom_tags`` only
  for what the record lacks. That covers the runs whose billing carries no tag (serverless jobs without a usage
  policy, serverless pipelines) or a stale one (a deployed job or pipeline keeps the tags of whoever created it,
  not of the Dagster job that ran it), so the report agrees with the ``databricks.billing`` spans and the billed
  metrics to the cent. The read then returns one row per such run (bounded by the slice), not one per value;
  statements keep their query tags (written by the same context as the record), and a statement without the tag
  (``inject_tags=False``, or a full tag list) is a row of its own that takes its record's value;
* ``--by warehouse``: warehouse usage by ``usage_metadata.warehouse_id``; every other usage is unattributed;
* ``--by compute_type``: every row by the kind of compute that billed it (``sql_warehouse``, ``jobs_classic``,
  ``jobs_serverless``, ``dlt``, ``all_purpose``, else the lower-cased ``billing_origin_product``).

What has no value is one row of its own, ``value = None`` (``(unattributed)`` in the table), so the rows always add
up to the billed total of the window. The read is one SQL statement per slice of usage days, with a progress line
per slice; a missing grant is one :class:`~.source.SystemTablesUnavailable` naming it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..tags import ASSET_KEY_TAG, JOB_NAME_TAG
from .attribution import CONTEXT_TAGS, SPAN_RECORD, tag_attribute
from .keys import JOB_RUN, PIPELINE_UPDATE, STATEMENT
from .query import MAX_STATEMENT_MS, PRICED_USAGE_FROM, USAGE_KIND, _statement_shares, usd_sql
from .records import SpanIdRecords

WAREHOUSE = "warehouse"
COMPUTE_TYPE = "compute_type"
DIMENSIONS = (JOB_NAME_TAG, ASSET_KEY_TAG, WAREHOUSE, COMPUTE_TYPE)
"""The named dimensions of ``--by``; any other value is taken as a tag key."""
TAG_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/@ -]{0,127}")
MAX_SLICE_ROWS = 500_000
"""Usage rows read per statement at most (a day with more is a slice of its own)."""
_SINCE = re.compile(r"(\d{1,4})([dh])")

COMPUTE_TYPE_SQL = """CASE
      WHEN u.usage_metadata.warehouse_id IS NOT NULL THEN 'sql_warehouse'
      WHEN u.billing_origin_product = 'JOBS' AND u.product_features.is_serverless THEN 'jobs_serverless'
      WHEN u.billing_origin_product = 'JOBS' THEN 'jobs_classic'
      WHEN u.billing_origin_product = 'DLT' THEN 'dlt'
      WHEN u.billing_origin_product IN ('ALL_PURPOSE', 'INTERACTIVE') THEN 'all_purpose'
      ELSE lower(COALESCE(u.billing_origin_product, 'other'))
    END"""

SOURCES = ("usage_tags", "query_tags", "warehouse_idle", "span_record")
"""Where a row's dollars came from: usage rows themselves, statements' query tags (apportioned warehouse time), the
warehouses' idle share, runs' span-time records (``--records``; last, so older CSV columns keep their places)."""


@dataclass(frozen=True)
class ReportRow:
    """One value of the dimension (``None``: unattributed) and what billing charged for it."""

    value: str | None
    dbu: float
    usd: float
    share: float
    """Of the window's billed dollars (0 when nothing was billed)."""
    sources: dict[str, float] = field(default_factory=dict)
    """Dollars by :data:`SOURCES`."""


@dataclass(frozen=True)
class BilledReport:
    by: str
    since: str
    rows: list[ReportRow]
    total_dbu: float
    total_usd: float
    usage_rows: int
    unpriced_rows: int
    statements: int
    seconds: float


def dimension(text: str) -> str:
    """``--by``: a named dimension or a tag key; ``ValueError`` naming the option and the fix otherwise."""
    if text in DIMENSIONS or TAG_KEY.fullmatch(text):
        return text
    raise ValueError(
        f"--by {text!r}: give {', '.join(DIMENSIONS)} or a tag key (letters, digits, _ . : / @ - and spaces, "
        "at most 128 characters)"
    )


def parse_since(text: str, now: float) -> dt.datetime:
    """``--since``: ``7d`` or ``24h`` before ``now`` (epoch seconds), or an ISO date or date-time (UTC unless it
    says otherwise); ``ValueError`` naming the forms otherwise, or when it is in the future."""
    match = _SINCE.fullmatch(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        back = dt.timedelta(days=amount) if unit == "d" else dt.timedelta(hours=amount)
        since = dt.datetime.fromtimestamp(now, dt.timezone.utc) - back
    else:
        try:
            since = dt.datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(
                f"--since {text!r}: give a duration back from now (7d, 24h) or an ISO date (2026-11-01) "
                "or date-time (2026-11-01T06:00)"
            ) from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.timezone.utc)
    if since.timestamp() > now:
        raise ValueError(f"--since {text!r} is in the future: give a time before now")
    return since


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _date(day: dt.date) -> str:
    return f"DATE'{day.isoformat()}'"


def days_sql(since_ms: int) -> str:
    """Usage rows per usage date from ``since_ms`` on: ``usage_date, usage_rows, last_end_ms``, to cut the read into
    slices."""
    since_day = dt.datetime.fromtimestamp(since_ms / 1000, dt.timezone.utc).date()
    return f"""SELECT u.usage_date, COUNT(*) AS usage_rows, MAX(unix_millis(u.usage_end_time)) AS last_end_ms
FROM system.billing.usage AS u
WHERE u.usage_date >= {_date(since_day)} AND unix_millis(u.usage_start_time) >= {int(since_ms)}
GROUP BY u.usage_date"""


def report_sql(
    by: str,
    since_ms: int,
    first_day: dt.date,
    last_day: dt.date | None,
    last_end_ms: int,
    discount: float = 1.0,
    per_run: bool = False,
) -> str:
    """One statement of the report for usage rows that start at or after ``since_ms`` on ``first_day`` to
    ``last_day`` (``None``: every later day) and end by ``last_end_ms``. Rows: ``source, value, dbu, usd,
    usage_rows, unpriced_rows, statements, run_unit``; with ``per_run`` the usage of each job run and pipeline update
    is a row of its own whose ``run_unit`` names it (``job_run:<run id>``, ``pipeline_update:<update id>``), else
    ``run_unit`` is NULL."""
    start_ms = max(since_ms, _epoch_ms(first_day))
    end_ms = _epoch_ms(last_day + dt.timedelta(days=1)) if last_day is not None else None
    window = f"unix_millis(u.usage_start_time) >= {start_ms}"
    days = f"u.usage_date >= {_date(first_day)}"
    if end_ms is not None:
        window += f" AND unix_millis(u.usage_start_time) < {end_ms}"
        days += f" AND u.usage_date <= {_date(last_day)}"
    if by == WAREHOUSE:
        value = "u.usage_metadata.warehouse_id"
    elif by == COMPUTE_TYPE:
        value = COMPUTE_TYPE_SQL
    else:
        value = f"u.custom_tags[{_literal(by)}]"
    run_unit = "CAST(NULL AS STRING)"
    if per_run:
        run_unit = (
            f"CASE WHEN u.usage_metadata.job_run_id IS NOT NULL THEN concat('{JOB_RUN}:', u.usage_metadata.job_run_id)"
            f" WHEN u.usage_metadata.dlt_update_id IS NOT NULL"
            f" THEN concat('{PIPELINE_UPDATE}:', u.usage_metadata.dlt_update_id) END"
        )
    priced = f"""priced AS (
  SELECT {USAGE_KIND} AS kind,
    u.usage_metadata.warehouse_id AS warehouse_id,
    u.ingestion_date,
    unix_millis(u.usage_start_time) AS start_ms,
    unix_millis(u.usage_end_time) AS end_ms,
    CAST(u.usage_quantity AS DOUBLE) AS dbu,
    {usd_sql(discount)} AS usd,
    {value} AS value,
    {run_unit} AS run_unit
  {PRICED_USAGE_FROM}
  WHERE {days} AND {window}
)"""
    direct_rows = """SELECT 'usage_tags' AS source, p.value, SUM(p.dbu) AS dbu, SUM(p.usd) AS usd,
    COUNT(*) AS usage_rows, COUNT_IF(p.usd IS NULL) AS unpriced_rows, 0 AS statements, p.run_unit
  FROM priced AS p"""
    if by in (WAREHOUSE, COMPUTE_TYPE):
        return f"WITH {priced}\n{direct_rows}\n  GROUP BY p.value, p.run_unit"
    statement_unit = "CAST(NULL AS STRING)"
    if per_run:
        statement_unit = f"CASE WHEN a.value IS NULL THEN concat('{STATEMENT}:', a.statement_id) END"
    statements_until = f" AND unix_millis(h.start_time) < {end_ms}" if end_ms is not None else ""
    shares = _statement_shares(
        start_ms - MAX_STATEMENT_MS, last_end_ms, "", statements_until, f"h.query_tags[{_literal(by)}]"
    )
    return f"""WITH {priced},
{shares},
warehouse_values AS (
  SELECT p.warehouse_id, p.start_ms, MAX(p.value) AS value FROM priced AS p WHERE p.kind = 'warehouse'
  GROUP BY p.warehouse_id, p.start_ms
)
{direct_rows}
  WHERE p.kind <> 'warehouse'
  GROUP BY p.value, p.run_unit
UNION ALL
SELECT 'query_tags' AS source, COALESCE(a.value, v.value) AS value, SUM(a.dbu) AS dbu, SUM(a.usd) AS usd,
    0 AS usage_rows, 0 AS unpriced_rows, COUNT(DISTINCT a.statement_id) AS statements, {statement_unit} AS run_unit
  FROM apportioned AS a
  LEFT JOIN warehouse_values AS v ON v.warehouse_id = a.warehouse_id AND v.start_ms = a.hour_start_ms
  GROUP BY COALESCE(a.value, v.value), {statement_unit}
UNION ALL
SELECT 'warehouse_idle' AS source, v.value, SUM(w.dbu * (1.0 - COALESCE(l.busy, 0.0))) AS dbu,
    SUM(w.usd * (1.0 - COALESCE(l.busy, 0.0))) AS usd, SUM(w.row_count) AS usage_rows,
    SUM(w.unpriced_rows) AS unpriced_rows, 0 AS statements, CAST(NULL AS STRING) AS run_unit
  FROM hours AS w
  LEFT JOIN loads AS l ON l.warehouse_id = w.warehouse_id AND l.hour_start_ms = w.start_ms
  LEFT JOIN warehouse_values AS v ON v.warehouse_id = w.warehouse_id AND v.start_ms = w.start_ms
  GROUP BY v.value"""


def _epoch_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp() * 1000)


def day_slices(days: Sequence[tuple[dt.date, int]], max_rows: int = MAX_SLICE_ROWS) -> list[tuple[dt.date, int, int]]:
    """``(first day, number of days, rows)`` slices of consecutive usage days with at most ``max_rows`` rows each."""
    slices: list[tuple[dt.date, int, int]] = []
    for day, count in sorted(days):
        if slices and slices[-1][2] + count <= max_rows:
            first, _, rows = slices[-1]
            slices[-1] = (first, (day - first).days + 1, rows + count)
        else:
            slices.append((day, 1, count))
    return slices


def billed_report(
    source: Any,
    by: str,
    since: dt.datetime,
    *,
    progress: Callable[[str], None] | None = None,
    max_slice_rows: int = MAX_SLICE_ROWS,
    records_directory: str | os.PathLike[str] | None = None,
) -> BilledReport:
    """The report of billed cost by ``by`` from ``since`` on, read through ``source`` (a
    :class:`~.source.SqlBillingSource`; its discount applies). With ``records_directory`` (the span-time id record)
    job runs and pipeline updates take the value their record gives, as on the reconciler's billing spans."""
    by = dimension(by)
    per_run = records_directory is not None and by not in (WAREHOUSE, COMPUTE_TYPE)
    started = time.monotonic()
    since_ms = int(since.timestamp() * 1000)
    say = progress or (lambda _line: None)
    say(f"... counting system.billing.usage rows since {since.isoformat()}")
    found = [(_day(day), int(count), int(end or 0)) for day, count, end in source.rows(days_sql(since_ms)) if day]
    days = [(day, count) for day, count, _ in found]
    last_end_ms = max((end for _, _, end in found), default=since_ms)
    slices = day_slices(days, max_slice_rows)
    say(f"... {sum(c for _, c in days):,} usage rows on {len(days)} days: {len(slices)} statement(s)")
    totals: dict[str | None, dict[str, float]] = {}
    usage_rows = unpriced_rows = statements = 0
    for number, (first, count, rows) in enumerate(slices, 1):
        last = None if number == len(slices) else first + dt.timedelta(days=count - 1)
        read = source.rows(report_sql(by, since_ms, first, last, last_end_ms, source.discount, per_run))
        if per_run:
            read = _with_recorded_values(read, by, records_directory)
        for row in read:
            part, value, dbu, usd, used, unpriced, ran, _ = row
            found = totals.setdefault(None if value is None else str(value), {"dbu": 0.0})
            found["dbu"] += float(dbu or 0.0)
            found[str(part)] = found.get(str(part), 0.0) + float(usd or 0.0)
            usage_rows += int(used or 0)
            unpriced_rows += int(unpriced or 0)
            statements += int(ran or 0)
        say(f"... {first.isoformat()} +{count} day(s): {rows:,} usage rows read ({number}/{len(slices)})")
    total_usd = sum(sum(v for k, v in parts.items() if k != "dbu") for parts in totals.values())
    report_rows = []
    for value, parts in totals.items():
        usd = sum(v for k, v in parts.items() if k != "dbu")
        sources = {name: parts[name] for name in SOURCES if name in parts}
        report_rows.append(ReportRow(value, parts["dbu"], usd, usd / total_usd if total_usd else 0.0, sources))
    report_rows.sort(key=lambda row: (row.value is None, -row.usd, row.value or ""))
    return BilledReport(
        by=by,
        since=since.isoformat(),
        rows=report_rows,
        total_dbu=sum(row.dbu for row in report_rows),
        total_usd=total_usd,
        usage_rows=usage_rows,
        unpriced_rows=unpriced_rows,
        statements=statements,
        seconds=round(time.monotonic() - started, 3),
    )


def recorded_attribute(by: str) -> str:
    """The span-record context field of tag key ``by``: ``dagster_job_name`` -> ``dagster.job.name``; a user tag
    key -> ``databricks.tag.<key>`` (recorded when the :class:`~.records.SpanIdRecorder` was given the key)."""
    return dict(CONTEXT_TAGS).get(by) or tag_attribute(by)


def _with_recorded_values(
    rows: Sequence[Sequence[Any]], by: str, directory: str | os.PathLike[str]
) -> list[Sequence[Any]]:
    """``rows`` with each run's value replaced by its span record's, where the record has one (the latest record of
    the run, as the reconciler picks it); a run's dollars then count as ``span_record``."""
    units: dict[str, tuple[str, str]] = {}
    for row in rows:
        if row[7]:
            kind, _, unit_id = str(row[7]).partition(":")
            units[str(row[7])] = (kind, unit_id)
    records = SpanIdRecords.load(directory, units=set(units.values())) if units else SpanIdRecords()
    attribute = recorded_attribute(by)
    found = []
    for row in rows:
        recorded = records.get(units[str(row[7])])[-1:] if row[7] else []
        value = (recorded[0].context or {}).get(attribute) if recorded else None
        found.append((SPAN_RECORD, value, *row[2:]) if value else row)
    return found


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


UNATTRIBUTED = "(unattributed)"


def format_table(report: BilledReport) -> str:
    """The report for people: one line per value, unattributed last, then the total."""
    header = (report.by, "DBU", "USD", "share")
    lines = [
        (row.value if row.value is not None else UNATTRIBUTED, f"{row.dbu:.4f}", f"{row.usd:.4f}", f"{row.share:.1%}")
        for row in report.rows
    ]
    lines.append(("total", f"{report.total_dbu:.4f}", f"{report.total_usd:.4f}", "100.0%" if report.rows else "-"))
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=False)]

    def render(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if index == 0 else cell.rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    text = [render(header), *(render(line) for line in lines)]
    text.append(
        f"since {report.since}: {report.usage_rows:,} usage rows ({report.unpriced_rows} without a list price), "
        f"{report.statements:,} statements apportioned"
    )
    return "\n".join(text)


def to_json(report: BilledReport) -> str:
    return json.dumps(asdict(report), indent=2)


def to_csv(report: BilledReport) -> str:
    """``value,dbu,usd,share`` per row (an empty value is the unattributed share), no total line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.by, "dbu", "usd", "share", *SOURCES])
    for row in report.rows:
        writer.writerow(
            [
                "" if row.value is None else row.value,
                f"{row.dbu:.6f}",
                f"{row.usd:.6f}",
                f"{row.share:.6f}",
                *(f"{row.sources.get(name, 0.0):.6f}" for name in SOURCES),
            ]
        )
    return out.getvalue()
