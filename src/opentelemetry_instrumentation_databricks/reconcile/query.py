"""The billing SQL: one Databricks SQL statement per batch, with every join and aggregation pushed to the warehouse.

Two statements share the same building blocks:

* :func:`keyed_billing_sql` prices a batch of :class:`~.keys.ReconcileKey` s (the span processor);
* :func:`changed_billing_sql` finds every unit whose billing arrived since a watermark and prices it whole
  (the reconciler, one slice of usage days per statement; :func:`changed_days_sql` sizes the slices).

Both return rows of :data:`RESULT_COLUMNS`, one per unit::

    kind, unit_id, scope, dbu, usd, usage_start_ms, usage_end_ms, row_count, unpriced_rows, trace_tag, span_tag,
    last_ingestion, sku_name, job_id, cluster_id, tag_values

``tag_values`` is a JSON object ``{"v": [...]}`` (``to_json`` takes a struct) holding the values of
:func:`.attribution.tag_columns` (our ``dagster_*`` tags, then the user's tag keys) in the unit's ``custom_tags``
(``system.billing.usage``; for an idle warehouse-hour, the warehouse's) or, for statements, its ``query_tags``
(``system.query.history``), each tag a statement lacks taken from the ``custom_tags`` of the warehouse-hours it was
apportioned; ``null`` where a tag is absent.

Pricing: ``system.billing.usage`` summed over ALL record types (ORIGINAL, RETRACTION, RESTATEMENT), joined with
``system.billing.list_prices`` on SKU, cloud and unit and on the price's time window, at
``pricing.effective_list.default`` times ``discount`` (1.0 = list price).

SQL statements are apportioned (the Databricks Labs "dbsql cost per query" method): a warehouse-hour's billed DBUs
are split over the statements of ``system.query.history`` that ran in that hour, each weighted by its
``total_task_duration_ms + compilation_duration_ms + result_fetch_duration_ms`` times the share of its wall time
that falls in the hour (billing rows are hourly: statements meet their hours by an equality join on the hour
start, so the join stays linear), and only the hour's busy share goes to statements: the time in the hour when at
least one statement ran (the union of their intervals, not their sum) over the time the warehouse was up in that
hour (``system.compute.warehouse_events``: cluster count above 0; the whole hour when the hour has no events). The
idle share, ``1 - min(1, busy / up)``, is not given to any statement: it comes back as a ``warehouse_idle`` row
(``unit_id = <warehouse>@<hour start ms>``).
Only hours that end before ``complete_before_ms`` (billing, query history and warehouse events all complete) count.
Usage outside every kind of unit (serving, storage, ...) comes back from the reconciler's statement as ``other`` rows
(``unit_id = <sku>/<usage date>``), so that attributed + ``warehouse_idle`` + ``other`` = all of billing.usage.

Ids are checked against :data:`SAFE_ID` before they are written into the statement: a key whose id could break out
of a string literal is refused (:class:`UnsafeKeyError`), so no value ever needs escaping.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence

from .attribution import tag_columns
from .keys import CLUSTER, JOB_RUN, NOTEBOOK, PIPELINE_UPDATE, STATEMENT, ReconcileKey

WAREHOUSE_IDLE = "warehouse_idle"
OTHER = "other"
UNATTRIBUTED_KINDS = frozenset((WAREHOUSE_IDLE, OTHER))

RESULT_COLUMNS = (
    "kind",
    "unit_id",
    "scope",
    "dbu",
    "usd",
    "usage_start_ms",
    "usage_end_ms",
    "row_count",
    "unpriced_rows",
    "trace_tag",
    "span_tag",
    "last_ingestion",
    "sku_name",
    "job_id",
    "cluster_id",
    "tag_values",
)

_KEYS_COLUMNS = "keys(kind, unit_id, scope, window_start_ms, window_end_ms)"
SAFE_ID = re.compile(r"[A-Za-z0-9_.:/@-]{1,256}")
TRACE_ID_TAG = "otel_trace_id"
SPAN_ID_TAG = "otel_span_id"


class UnsafeKeyError(ValueError):
    """A key id holds characters that ids never have; it is not written into SQL."""


def _literal(value: str | None) -> str:
    if value is None:
        return "CAST(NULL AS STRING)"
    if not SAFE_ID.fullmatch(value):
        raise UnsafeKeyError(f"{value!r} is not a Databricks id")
    return f"'{value}'"


def _date(day: dt.date) -> str:
    return f"DATE'{day.isoformat()}'"


USAGE_KIND = f"""CASE
      WHEN u.usage_metadata.job_run_id IS NOT NULL THEN '{JOB_RUN}'
      WHEN u.usage_metadata.dlt_update_id IS NOT NULL THEN '{PIPELINE_UPDATE}'
      WHEN u.usage_metadata.warehouse_id IS NOT NULL THEN 'warehouse'
      WHEN u.usage_metadata.notebook_id IS NOT NULL THEN '{NOTEBOOK}'
      WHEN u.usage_metadata.cluster_id IS NOT NULL THEN '{CLUSTER}'
      ELSE '{OTHER}'
    END"""
"""The unit kind of a usage row ``u``: what its ``usage_metadata`` names first."""

PRICED_USAGE_FROM = """FROM system.billing.usage AS u
  LEFT JOIN system.billing.list_prices AS p
    ON p.sku_name = u.sku_name
    AND p.cloud = u.cloud
    AND p.usage_unit = u.usage_unit
    AND p.currency_code = 'USD'
    AND u.usage_end_time > p.price_start_time
    AND (p.price_end_time IS NULL OR u.usage_end_time <= p.price_end_time)"""
"""Usage rows ``u`` with the list price ``p`` in force when each row's usage ended (``p`` NULL when none matched)."""


def usd_sql(discount: float) -> str:
    """Dollars of usage row ``u`` at list price ``p`` times ``discount`` (NULL when unpriced)."""
    return f"CAST(u.usage_quantity AS DOUBLE) * CAST(p.pricing.effective_list.default AS DOUBLE) * {float(discount)!r}"


def _tag_values(columns: Sequence[str], value: str) -> str:
    """``tag_0, tag_1, ...`` picked from a map column (``value`` formats one key literal into an expression)."""
    return ",\n    ".join(f"{value.format(_literal(key))} AS tag_{index}" for index, key in enumerate(columns))


def _tag_array(count: int, prefix: str = "p.") -> str:
    values = ", ".join(f"MAX({prefix}tag_{index})" for index in range(count))
    return f"to_json(named_struct('v', array({values}))) AS tag_values"


def _hour_tag_array(count: int) -> str:
    """A warehouse-hour ``w``'s ``custom_tags`` as ``tag_values``."""
    values = ", ".join(f"w.wtag_{index}" for index in range(count))
    return f"to_json(named_struct('v', array({values}))) AS tag_values"


def _priced_usage(horizon: dt.date, discount: float, tag_keys: Sequence[str] = ()) -> str:
    """Every usage row since ``horizon``, with its unit kind and id, its price in dollars and its tags."""
    return f"""priced AS (
  SELECT
    {USAGE_KIND} AS kind,
    u.usage_metadata.job_run_id AS job_run_id,
    u.usage_metadata.dlt_update_id AS dlt_update_id,
    u.usage_metadata.warehouse_id AS warehouse_id,
    u.usage_metadata.notebook_id AS notebook_id,
    u.usage_metadata.cluster_id AS cluster_id,
    u.usage_metadata.job_id AS job_id,
    {_tag_values(tag_columns(tag_keys), "u.custom_tags[{}]")},
    u.sku_name,
    u.usage_date,
    u.ingestion_date,
    unix_millis(u.usage_start_time) AS start_ms,
    unix_millis(u.usage_end_time) AS end_ms,
    CAST(u.usage_quantity AS DOUBLE) AS dbu,
    {usd_sql(discount)} AS usd,
    u.custom_tags['{TRACE_ID_TAG}'] AS trace_tag,
    u.custom_tags['{SPAN_ID_TAG}'] AS span_tag
  {PRICED_USAGE_FROM}
  WHERE u.usage_date >= {_date(horizon)}
)"""


def _unit_totals(tag_keys: Sequence[str]) -> str:
    return f"""SUM(p.dbu) AS dbu,
    SUM(p.usd) AS usd,
    MIN(p.start_ms) AS usage_start_ms,
    MAX(p.end_ms) AS usage_end_ms,
    COUNT(*) AS row_count,
    COUNT_IF(p.usd IS NULL) AS unpriced_rows,
    MAX(p.trace_tag) AS trace_tag,
    MAX(p.span_tag) AS span_tag,
    MAX(p.ingestion_date) AS last_ingestion,
    {_UNIT_FACTS},
    {_tag_array(len(tag_columns(tag_keys)))}"""


_UNIT_FACTS = "MAX(p.sku_name) AS sku_name, MAX(p.job_id) AS job_id, MAX(p.cluster_id) AS cluster_id"

EVENTS_LOOKBACK_MS = 86_400_000
"""How far before the first statement the warehouse's events are read, to know whether it was up (its last event
before then must fall within this look-back, as in the Databricks Labs view)."""

_OVERLAP = "GREATEST(0, LEAST(k.window_end_ms, p.end_ms) - GREATEST(k.window_start_ms, p.start_ms))"
_WINDOW_FRACTION = f"{_OVERLAP} / GREATEST(1, p.end_ms - p.start_ms)"


def _statement_shares(
    history_horizon_ms: int,
    complete_before_ms: int,
    hour_filter: str,
    statement_filter: str,
    statement_value: str = "CAST(NULL AS STRING)",
    hour_tags: int = 0,
) -> str:
    """CTEs ``hours`` (complete warehouse-hours with their cost and, with ``hour_tags``, the warehouse's
    ``custom_tags`` as ``wtag_0 ...``: the first ``hour_tags`` tag columns of ``priced``), ``shares`` (statement x
    hour), ``loads`` and ``apportioned``; ``statement_value`` (an expression over query history ``h``) is carried as
    ``value``."""
    warehouse_tags = "".join(f", MAX(p.tag_{index}) AS wtag_{index}" for index in range(hour_tags))
    return f"""hours AS (
  SELECT p.warehouse_id, p.start_ms, p.end_ms,
    SUM(p.dbu) AS dbu, SUM(p.usd) AS usd, COUNT(*) AS row_count, COUNT_IF(p.usd IS NULL) AS unpriced_rows,
    MAX(p.ingestion_date) AS last_ingestion{warehouse_tags}
  FROM priced AS p
  WHERE p.kind = 'warehouse' AND p.end_ms <= {int(complete_before_ms)}{hour_filter}
  GROUP BY p.warehouse_id, p.start_ms, p.end_ms
),
statements AS (
  SELECT h.statement_id, h.compute.warehouse_id AS warehouse_id,
    unix_millis(h.start_time) AS start_ms,
    GREATEST(unix_millis(h.start_time), unix_millis(COALESCE(h.end_time, h.start_time))) AS end_ms,
    CAST(COALESCE(h.total_task_duration_ms, 0) + COALESCE(h.compilation_duration_ms, 0)
      + COALESCE(h.result_fetch_duration_ms, 0) AS DOUBLE) AS work_ms,
    h.query_tags['{TRACE_ID_TAG}'] AS trace_tag,
    h.query_tags['{SPAN_ID_TAG}'] AS span_tag,
    {statement_value} AS value
  FROM system.query.history AS h
  WHERE h.compute.warehouse_id IS NOT NULL
    AND unix_millis(h.start_time) >= {int(history_horizon_ms)}{statement_filter}
),
statement_hours AS (
  SELECT s.*, explode(sequence(s.start_ms - s.start_ms % 3600000, s.end_ms - s.end_ms % 3600000, 3600000)) AS hour_ms
  FROM statements AS s
),
shares AS (
  SELECT w.warehouse_id, w.start_ms AS hour_start_ms, w.end_ms AS hour_end_ms, w.dbu AS hour_dbu, w.usd AS hour_usd,
    s.statement_id, s.start_ms, s.end_ms, s.work_ms, s.trace_tag, s.span_tag, s.value, w.last_ingestion,
    CASE WHEN s.end_ms = s.start_ms THEN 1.0
      ELSE CAST(LEAST(s.end_ms, w.end_ms) - GREATEST(s.start_ms, w.start_ms) AS DOUBLE) / (s.end_ms - s.start_ms)
    END AS in_hour
  FROM hours AS w
  JOIN statement_hours AS s
    ON s.warehouse_id = w.warehouse_id
    AND s.hour_ms = w.start_ms
    AND s.start_ms < w.end_ms
    AND (s.end_ms > w.start_ms OR (s.end_ms = s.start_ms AND s.start_ms >= w.start_ms))
),
reaches AS (
  SELECT warehouse_id, hour_start_ms, hour_end_ms, GREATEST(start_ms, hour_start_ms) AS from_ms,
    LEAST(end_ms, hour_end_ms) AS to_ms,
    MAX(LEAST(end_ms, hour_end_ms)) OVER (
      PARTITION BY warehouse_id, hour_start_ms ORDER BY GREATEST(start_ms, hour_start_ms), LEAST(end_ms, hour_end_ms)
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
    ) AS reached_ms
  FROM shares
),
busy_time AS (
  SELECT warehouse_id, hour_start_ms, MAX(hour_end_ms - hour_start_ms) AS hour_ms,
    SUM(GREATEST(0, to_ms - GREATEST(from_ms, COALESCE(reached_ms, from_ms)))) AS busy_ms
  FROM reaches
  GROUP BY warehouse_id, hour_start_ms
),
events AS (
  SELECT e.warehouse_id, unix_millis(e.event_time) AS at_ms, e.cluster_count,
    LEAD(unix_millis(e.event_time)) OVER (PARTITION BY e.warehouse_id ORDER BY e.event_time) AS next_ms
  FROM system.compute.warehouse_events AS e
  WHERE unix_millis(e.event_time) >= {int(history_horizon_ms) - EVENTS_LOOKBACK_MS}
    AND unix_millis(e.event_time) < {int(complete_before_ms)}
    AND e.warehouse_id IN (SELECT DISTINCT warehouse_id FROM hours)
),
up_hours AS (
  SELECT warehouse_id, at_ms, until_ms,
    explode(sequence(at_ms - at_ms % 3600000, (until_ms - 1) - (until_ms - 1) % 3600000, 3600000)) AS hour_ms
  FROM (
    SELECT warehouse_id, at_ms, COALESCE(next_ms, {int(complete_before_ms)}) AS until_ms
    FROM events WHERE cluster_count > 0
  ) AS up
  WHERE until_ms > at_ms
),
uptime AS (
  SELECT warehouse_id, hour_ms, SUM(LEAST(until_ms, hour_ms + 3600000) - GREATEST(at_ms, hour_ms)) AS up_ms
  FROM up_hours
  GROUP BY warehouse_id, hour_ms
),
loads AS (
  SELECT sh.warehouse_id, sh.hour_start_ms, SUM(sh.work_ms * sh.in_hour) AS weight, COUNT(*) AS statements,
    LEAST(1.0, MAX(b.busy_ms) / GREATEST(1, MAX(COALESCE(u.up_ms, b.hour_ms)))) AS busy
  FROM shares AS sh
  JOIN busy_time AS b ON b.warehouse_id = sh.warehouse_id AND b.hour_start_ms = sh.hour_start_ms
  LEFT JOIN uptime AS u ON u.warehouse_id = sh.warehouse_id AND u.hour_ms = sh.hour_start_ms
  GROUP BY sh.warehouse_id, sh.hour_start_ms
),
apportioned AS (
  SELECT sh.statement_id, sh.warehouse_id, sh.start_ms, sh.end_ms, sh.trace_tag, sh.span_tag, sh.value,
    sh.last_ingestion,
    sh.hour_dbu * l.busy * COALESCE(try_divide(sh.work_ms * sh.in_hour, l.weight), 1.0 / l.statements) AS dbu,
    sh.hour_usd * l.busy * COALESCE(try_divide(sh.work_ms * sh.in_hour, l.weight), 1.0 / l.statements) AS usd,
    sh.hour_start_ms, sh.hour_end_ms
  FROM shares AS sh
  JOIN loads AS l ON l.warehouse_id = sh.warehouse_id AND l.hour_start_ms = sh.hour_start_ms
)"""


def _statement_rows(count: int) -> str:
    """The unit row of each apportioned statement; tag ``i`` is its query tag, else its warehouse's custom tag."""
    values = ", ".join(f"COALESCE(MAX(t.qtag_{index}), MAX(wt.wtag_{index}))" for index in range(count))
    return f"""SELECT '{STATEMENT}' AS kind, a.statement_id AS unit_id, a.warehouse_id AS scope,
    SUM(a.dbu) AS dbu, SUM(a.usd) AS usd, MIN(a.start_ms) AS usage_start_ms, MAX(a.end_ms) AS usage_end_ms,
    COUNT(*) AS row_count, 0 AS unpriced_rows, MAX(a.trace_tag) AS trace_tag, MAX(a.span_tag) AS span_tag,
    MAX(a.last_ingestion) AS last_ingestion,
    CAST(NULL AS STRING) AS sku_name, CAST(NULL AS STRING) AS job_id, CAST(NULL AS STRING) AS cluster_id,
    to_json(named_struct('v', array({values}))) AS tag_values"""


_STATEMENT_TAGS_JOIN = """LEFT JOIN statement_tags AS t ON t.statement_id = a.statement_id
  LEFT JOIN statement_hour_tags AS wt ON wt.statement_id = a.statement_id"""


def _statement_tags(tag_keys: Sequence[str], statement_filter: str) -> str:
    """CTEs ``statement_tags`` (each statement's ``query_tags`` in ``system.query.history``, ``qtag_0 ...``) and
    ``statement_hour_tags`` (the ``custom_tags`` of the warehouse-hours it was apportioned, ``wtag_0 ...``): the
    tag columns of :func:`.attribution.tag_columns`, strongest first."""
    columns = tag_columns(tag_keys)
    values = ", ".join(f"h.query_tags[{_literal(key)}] AS qtag_{index}" for index, key in enumerate(columns))
    hourly = ", ".join(f"MAX(w.wtag_{index}) AS wtag_{index}" for index in range(len(columns)))
    return f"""statement_tags AS (
  SELECT h.statement_id, {values}
  FROM system.query.history AS h
  WHERE {statement_filter}
),
statement_hour_tags AS (
  SELECT a.statement_id, {hourly}
  FROM apportioned AS a
  JOIN hours AS w ON w.warehouse_id = a.warehouse_id AND w.start_ms = a.hour_start_ms
  GROUP BY a.statement_id
)"""


def keyed_billing_sql(
    keys: Sequence[ReconcileKey],
    *,
    discount: float = 1.0,
    complete_before_ms: int,
    horizon_days: int = 1,
    tag_keys: Sequence[str] = (),
) -> str:
    """One statement pricing every key of ``keys`` (any mix of kinds); units without billing yet are absent.

    Windowed kinds (notebook, cluster) get each overlapping usage row prorated by the share of the row's time
    inside the span's window. Statements get their apportioned share of complete warehouse-hours.
    """
    if not keys:
        raise ValueError("keyed_billing_sql needs at least one key")
    values = ",\n    ".join(
        f"({_literal(k.kind)}, {_literal(k.unit_id)}, {_literal(k.scope)}, "
        f"{k.window_start_ns // 1_000_000}L, {max(k.window_end_ns, k.window_start_ns) // 1_000_000}L)"
        for k in keys
    )
    earliest_ms = min(k.window_start_ns for k in keys) // 1_000_000
    horizon = _day_of(earliest_ms) - dt.timedelta(days=horizon_days)
    kinds = {k.kind for k in keys}
    parts = [
        f"keys AS (\n  SELECT * FROM VALUES\n    {values}\n  AS {_KEYS_COLUMNS}\n)",
        _priced_usage(horizon, discount, tag_keys),
    ]
    selects = []
    for kind, column in ((JOB_RUN, "job_run_id"), (PIPELINE_UPDATE, "dlt_update_id")):
        if kind in kinds:
            selects.append(
                f"SELECT k.kind, k.unit_id, k.scope,\n    {_unit_totals(tag_keys)}\n  FROM keys AS k JOIN priced AS p\n"
                f"    ON k.kind = '{kind}' AND p.{column} = k.unit_id\n  GROUP BY k.kind, k.unit_id, k.scope"
            )
    for kind, column in ((NOTEBOOK, "notebook_id"), (CLUSTER, "cluster_id")):
        if kind in kinds:
            selects.append(_windowed_select(kind, column, tag_keys))
    if STATEMENT in kinds:
        parts.append(
            _statement_shares(
                earliest_ms - 3_600_000,
                complete_before_ms,
                " AND p.warehouse_id IN (SELECT scope FROM keys WHERE kind = 'statement')",
                " AND h.compute.warehouse_id IN (SELECT scope FROM keys WHERE kind = 'statement')",
                hour_tags=len(tag_columns(tag_keys)),
            )
        )
        parts.append(_statement_tags(tag_keys, "h.statement_id IN (SELECT unit_id FROM keys WHERE kind = 'statement')"))
        selects.append(
            f"{_statement_rows(len(tag_columns(tag_keys)))}\n  FROM apportioned AS a\n  {_STATEMENT_TAGS_JOIN}\n"
            f"  JOIN keys AS k ON k.kind = '{STATEMENT}' AND k.unit_id = a.statement_id\n"
            "  GROUP BY a.statement_id, a.warehouse_id"
        )
    return "WITH " + ",\n".join(parts) + "\n" + "\nUNION ALL\n".join(selects)


def _windowed_select(kind: str, column: str, tag_keys: Sequence[str]) -> str:
    scope_match = " AND (k.scope IS NULL OR p.cluster_id IS NULL OR p.cluster_id = k.scope)" if kind == NOTEBOOK else ""
    return f"""SELECT k.kind,
    concat(k.unit_id, '@', CAST(k.window_start_ms AS STRING), '-', CAST(k.window_end_ms AS STRING)) AS unit_id,
    k.scope,
    SUM(p.dbu * {_WINDOW_FRACTION}) AS dbu,
    SUM(p.usd * {_WINDOW_FRACTION}) AS usd,
    MIN(p.start_ms) AS usage_start_ms,
    MAX(p.end_ms) AS usage_end_ms,
    COUNT(*) AS row_count,
    COUNT_IF(p.usd IS NULL) AS unpriced_rows,
    MAX(p.trace_tag) AS trace_tag,
    MAX(p.span_tag) AS span_tag,
    MAX(p.ingestion_date) AS last_ingestion,
    {_UNIT_FACTS},
    {_tag_array(len(tag_columns(tag_keys)))}
  FROM keys AS k JOIN priced AS p
    ON k.kind = '{kind}' AND p.{column} = k.unit_id{scope_match}
    AND p.start_ms < k.window_end_ms AND p.end_ms > k.window_start_ms
  GROUP BY k.kind, k.unit_id, k.scope, k.window_start_ms, k.window_end_ms"""


MAX_STATEMENT_MS = 2 * 86_400_000
"""The longest a SQL statement runs (Databricks' statement timeout is at most 48 h): how far around a slice the
reconciler looks for the other warehouse-hours of the statements that ran in it."""


def changed_days_sql(
    *, watermark: dt.date, previous_complete_before_ms: int, complete_before_ms: int, horizon: dt.date
) -> str:
    """Rows per usage date that changed since the last run (ingested on or after ``watermark``, or warehouse-hours
    that became complete): ``usage_date, changed_rows``. The reconciler cuts its work into slices of these days."""
    return f"""SELECT u.usage_date, COUNT(*) AS changed_rows
FROM system.billing.usage AS u
WHERE u.usage_date >= {_date(horizon)}
  AND (u.ingestion_date >= {_date(watermark)}
    OR (u.usage_metadata.warehouse_id IS NOT NULL
      AND unix_millis(u.usage_end_time) > {int(previous_complete_before_ms)}
      AND unix_millis(u.usage_end_time) <= {int(complete_before_ms)}))
GROUP BY u.usage_date"""


def changed_billing_sql(
    *,
    watermark: dt.date,
    previous_complete_before_ms: int,
    complete_before_ms: int,
    horizon: dt.date,
    discount: float = 1.0,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    tag_keys: Sequence[str] = (),
) -> str:
    """Every unit with a usage row ingested on or after ``watermark`` and used between ``first_day`` and
    ``last_day`` (default: since ``horizon``, up to any date), priced over ALL its rows since ``horizon``.

    Direct units: job runs, pipeline updates, notebooks and all-purpose clusters (these two per usage date:
    ``unit_id = <notebook or cluster id>/<usage_date>``) and ``other`` usage. SQL statements: every statement of
    every warehouse-hour of the slice that changed (a row ingested since ``watermark``) or became complete since
    the last run (``previous_complete_before_ms < hour end <= complete_before_ms``), priced over all of its hours,
    with each such hour's idle share. Only warehouse-hours and statements within :data:`MAX_STATEMENT_MS` of the
    slice are read, so the statement's work is bounded by the slice, not by the history.
    """
    first_day = first_day or horizon
    slice_start = _epoch_ms(first_day)
    slice_end = _epoch_ms(last_day + dt.timedelta(days=1)) if last_day is not None else None
    days = f"p.usage_date >= {_date(first_day)}"
    if last_day is not None:
        days += f" AND p.usage_date <= {_date(last_day)}"
    hours_from = slice_start - MAX_STATEMENT_MS
    near = f" AND p.start_ms >= {hours_from}"
    statements_near = f" AND unix_millis(h.start_time) >= {hours_from - MAX_STATEMENT_MS}"
    if slice_end is not None:
        near += f" AND p.start_ms < {slice_end + MAX_STATEMENT_MS}"
        statements_near += f" AND unix_millis(h.start_time) < {slice_end + MAX_STATEMENT_MS}"
    changed_hour = (
        f"p.kind = 'warehouse' AND p.end_ms <= {int(complete_before_ms)} AND {days}"
        f" AND (p.ingestion_date >= {_date(watermark)} OR p.end_ms > {int(previous_complete_before_ms)})"
    )
    tags = ", ".join(f"p.tag_{index}" for index in range(len(tag_columns(tag_keys))))
    parts = [
        _priced_usage(horizon, discount, tag_keys),
        f"""units AS (
  SELECT p.kind, p.usage_date, p.ingestion_date, p.start_ms, p.end_ms, p.dbu, p.usd, p.trace_tag, p.span_tag,
    p.sku_name, p.job_id, p.cluster_id, {tags},
    CASE
      WHEN p.kind = '{JOB_RUN}' THEN p.job_run_id
      WHEN p.kind = '{PIPELINE_UPDATE}' THEN p.dlt_update_id
      WHEN p.kind = '{NOTEBOOK}' THEN concat(p.notebook_id, '/', CAST(p.usage_date AS STRING))
      WHEN p.kind = '{CLUSTER}' THEN concat(p.cluster_id, '/', CAST(p.usage_date AS STRING))
      WHEN p.kind = '{OTHER}' THEN concat(p.sku_name, '/', CAST(p.usage_date AS STRING))
    END AS unit_id,
    CASE WHEN p.kind = '{NOTEBOOK}' THEN p.cluster_id END AS scope
  FROM priced AS p
  WHERE p.kind <> 'warehouse'
),
changed AS (
  SELECT DISTINCT u.kind, u.unit_id FROM units AS u
  WHERE u.ingestion_date >= {_date(watermark)} AND {days.replace("p.", "u.")}
),
changed_hours AS (
  SELECT DISTINCT p.warehouse_id, p.start_ms FROM priced AS p WHERE {changed_hour}
),
changed_warehouses AS (
  SELECT DISTINCT warehouse_id FROM changed_hours
)""",
        _statement_shares(
            _epoch_ms(horizon) - 3_600_000,
            complete_before_ms,
            f"{near} AND p.warehouse_id IN (SELECT warehouse_id FROM changed_warehouses)",
            f"{statements_near} AND h.compute.warehouse_id IN (SELECT warehouse_id FROM changed_warehouses)",
            hour_tags=len(tag_columns(tag_keys)),
        ),
        """changed_statements AS (
  SELECT DISTINCT sh.statement_id FROM shares AS sh
  JOIN changed_hours AS ch ON ch.warehouse_id = sh.warehouse_id AND ch.start_ms = sh.hour_start_ms
)""",
        _statement_tags(
            tag_keys,
            f"h.statement_id IN (SELECT statement_id FROM changed_statements){statements_near}",
        ),
    ]
    direct = f"""SELECT u.kind, u.unit_id, MAX(u.scope) AS scope,
    {_unit_totals(tag_keys).replace("p.", "u.")}
  FROM units AS u JOIN changed AS c ON c.kind = u.kind AND c.unit_id = u.unit_id
  GROUP BY u.kind, u.unit_id"""
    statements = f"""{_statement_rows(len(tag_columns(tag_keys)))}
  FROM apportioned AS a
  JOIN changed_statements AS cs ON cs.statement_id = a.statement_id
  {_STATEMENT_TAGS_JOIN}
  GROUP BY a.statement_id, a.warehouse_id"""
    idle = f"""SELECT '{WAREHOUSE_IDLE}' AS kind, concat(w.warehouse_id, '@', CAST(w.start_ms AS STRING)) AS unit_id,
    w.warehouse_id AS scope,
    w.dbu * (1.0 - COALESCE(l.busy, 0.0)) AS dbu, w.usd * (1.0 - COALESCE(l.busy, 0.0)) AS usd,
    w.start_ms AS usage_start_ms, w.end_ms AS usage_end_ms, w.row_count, w.unpriced_rows,
    CAST(NULL AS STRING) AS trace_tag, CAST(NULL AS STRING) AS span_tag, w.last_ingestion,
    CAST(NULL AS STRING) AS sku_name, CAST(NULL AS STRING) AS job_id, CAST(NULL AS STRING) AS cluster_id,
    {_hour_tag_array(len(tag_columns(tag_keys)))}
  FROM hours AS w
  JOIN changed_hours AS ch ON ch.warehouse_id = w.warehouse_id AND ch.start_ms = w.start_ms
  LEFT JOIN loads AS l ON l.warehouse_id = w.warehouse_id AND l.hour_start_ms = w.start_ms"""
    return "WITH " + ",\n".join(parts) + "\n" + "\nUNION ALL\n".join((direct, statements, idle))


def _day_of(epoch_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.timezone.utc).date()


def _epoch_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp() * 1000)


def safe_keys(keys: Iterable[ReconcileKey]) -> tuple[list[ReconcileKey], list[ReconcileKey]]:
    """``(keys that can be written into SQL, refused keys)``."""
    good, bad = [], []
    for key in keys:
        ids = (key.kind, key.unit_id) if key.scope is None else (key.kind, key.unit_id, key.scope)
        (good if all(SAFE_ID.fullmatch(part) for part in ids) else bad).append(key)
    return good, bad
