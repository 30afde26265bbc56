"""The billing source: billed DBUs and dollars per unit, read from Databricks system tables with one SQL per batch.

Usage, with the SQL connector (any DB-API connection to a SQL warehouse; the principal needs the grants below)::

    from databricks import sql
    from opentelemetry_instrumentation_databricks.reconcile.source import SqlBillingSource

    source = SqlBillingSource(lambda: sql.connect(server_hostname=..., http_path=..., access_token=...),
                              discount=0.8)          # 20% off list price
    found = source.lookup(keys)                      # {(kind, unit_id): BilledCost} for units already billed

or through the Statement Execution API of the SDK::

    source = SqlBillingSource(StatementExecutionConnection(WorkspaceClient(), warehouse_id="abc123"))

Grants (a metastore admin runs them; an account admin first enables the ``billing`` and ``query`` schemas)::

    GRANT USE CATALOG ON CATALOG system TO `reconciler`;
    GRANT USE SCHEMA ON SCHEMA system.billing TO `reconciler`;
    GRANT USE SCHEMA ON SCHEMA system.query TO `reconciler`;
    GRANT SELECT ON TABLE system.billing.usage TO `reconciler`;
    GRANT SELECT ON TABLE system.billing.list_prices TO `reconciler`;
    GRANT SELECT ON TABLE system.query.history TO `reconciler`;
    GRANT USE SCHEMA ON SCHEMA system.compute TO `reconciler`;
    GRANT SELECT ON TABLE system.compute.warehouse_events TO `reconciler`;
    -- optional: Databricks' own per-statement figure beside ours (Beta; see .attributed_cost)
    GRANT SELECT ON TABLE system.billing.attributed_cost TO `reconciler`;

A schema that is not enabled or not granted raises ONE :class:`SystemTablesUnavailable` naming the schema and the
missing grant. Malformed rows (missing ids, non-numeric amounts, unknown kinds) are counted in
:attr:`SqlBillingSource.report` and skipped, never fatal. The queries run with OpenTelemetry instrumentation
suppressed, so reconciling never makes spans of its own.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry.instrumentation.utils import suppress_instrumentation

from .attribution import parse_tag_keys, tag_columns, tags_from_values
from .keys import KINDS, ReconcileKey
from .query import (
    RESULT_COLUMNS,
    UNATTRIBUTED_KINDS,
    changed_billing_sql,
    changed_days_sql,
    keyed_billing_sql,
    safe_keys,
)
from .wiring import parse_discount

_logger = logging.getLogger(__name__)

Unit = tuple[str, str]
_KNOWN_KINDS = frozenset(KINDS) | UNATTRIBUTED_KINDS
_SYSTEM_TABLE = re.compile(r"system\.(billing|query|lakeflow|compute)(?:\.([a-z_]+))?", re.IGNORECASE)
_PERMISSION_MARKERS = (
    "INSUFFICIENT_PERMISSIONS",
    "PERMISSION_DENIED",
    "TABLE_OR_VIEW_NOT_FOUND",
    "SCHEMA_NOT_FOUND",
    "CATALOG_NOT_FOUND",
    "does not have",
    "not enabled",
)
_TABLES_READ = (
    "system.billing.usage",
    "system.billing.list_prices",
    "system.query.history",
    "system.compute.warehouse_events",
)


@dataclass(frozen=True, slots=True)
class BilledCost:
    """What billing says one unit cost: DBUs, dollars (``None`` when no list price matched), the usage window."""

    kind: str
    unit_id: str
    scope: str | None
    dbu: float
    usd: float | None
    usage_start_ms: int
    usage_end_ms: int
    row_count: int
    unpriced_rows: int
    trace_tag: str | None
    span_tag: str | None
    last_ingestion: dt.date | None
    sku_name: str | None = None
    job_id: str | None = None
    cluster_id: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    """``(Databricks tag key, value)`` of our ``dagster_*`` tags and the user's tag keys: the unit's ``custom_tags``,
    or a statement's ``query_tags``."""

    @property
    def unit(self) -> Unit:
        return self.kind, self.unit_id

    @property
    def attributed(self) -> bool:
        return self.kind not in UNATTRIBUTED_KINDS


@dataclass
class SourceReport:
    """Counters of what the source met: queries run, rows read, rows and keys it had to skip."""

    queries: int = 0
    rows: int = 0
    malformed_rows: int = 0
    refused_keys: int = 0
    unpriced_rows: int = 0
    examples: list[str] = field(default_factory=list)

    def malformed(self, row: Any, reason: str) -> None:
        self.malformed_rows += 1
        if len(self.examples) < 5:
            self.examples.append(f"{reason}: {row!r}"[:300])


class SystemTablesUnavailable(RuntimeError):
    """The principal cannot read a system table the reconciliation needs (schema not enabled or not granted)."""


class BillingSource(Protocol):
    def lookup(self, keys: Sequence[ReconcileKey]) -> dict[Unit, BilledCost]: ...


def permission_error(error: BaseException) -> SystemTablesUnavailable | None:
    """A :class:`SystemTablesUnavailable` explaining ``error`` when it is a missing schema or grant, else ``None``."""
    text = str(error)
    if not any(marker.lower() in text.lower() for marker in _PERMISSION_MARKERS):
        return None
    match = _SYSTEM_TABLE.search(text)
    if match and match.group(2):
        tables = [f"system.{match.group(1).lower()}.{match.group(2).lower()}"]
    elif match:
        tables = [t for t in _TABLES_READ if t.startswith(f"system.{match.group(1).lower()}.")]
    else:
        tables = list(_TABLES_READ)
    schemas = sorted({table.rsplit(".", 1)[0] for table in tables})
    grants = ["GRANT USE CATALOG ON CATALOG system TO `<principal>`;"]
    grants += [f"GRANT USE SCHEMA ON SCHEMA {schema} TO `<principal>`;" for schema in schemas]
    grants += [f"GRANT SELECT ON TABLE {table} TO `<principal>`;" for table in tables]
    return SystemTablesUnavailable(
        f"Cannot read {', '.join(tables)}: the system schema {' / '.join(schemas)} is not enabled for this metastore "
        f"or not granted to this principal. An account admin enables it (Databricks CLI: `databricks system-schemas "
        f"enable <metastore-id> {schemas[0].split('.')[1]}`); a metastore admin grants it: {' '.join(grants)} "
        f"(Databricks said: {text[:300]})"
    )


def _as_float(value: Any) -> float:
    if value is None or isinstance(value, bool):
        raise ValueError("not a number")
    return float(value)


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _as_tag(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_row(row: Sequence[Any], tag_keys: Sequence[str] = ()) -> BilledCost:
    """One result row of the billing SQL (asked for the user tag keys ``tag_keys``) as a :class:`BilledCost`;
    raises ``ValueError`` when malformed."""
    if len(row) != len(RESULT_COLUMNS):
        raise ValueError(f"{len(row)} columns, expected {len(RESULT_COLUMNS)}")
    kind, unit_id, scope, dbu, usd, start, end, count, unpriced, trace_tag, span_tag, ingested = row[:12]
    sku_name, job_id, cluster_id, tag_values = row[12:]
    if kind not in _KNOWN_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    if not unit_id:
        raise ValueError("no unit id")
    return BilledCost(
        kind=str(kind),
        unit_id=str(unit_id),
        scope=None if scope is None else str(scope),
        dbu=_as_float(dbu),
        usd=None if usd is None else _as_float(usd),
        usage_start_ms=int(_as_float(start)),
        usage_end_ms=int(_as_float(end)),
        row_count=int(_as_float(count)),
        unpriced_rows=int(_as_float(unpriced or 0)),
        trace_tag=_as_tag(trace_tag),
        span_tag=_as_tag(span_tag),
        last_ingestion=_as_date(ingested),
        sku_name=_as_tag(sku_name),
        job_id=_as_tag(job_id),
        cluster_id=_as_tag(cluster_id),
        tags=tags_from_values(tag_columns(tag_keys), tag_values),
    )


class SqlBillingSource:
    """Billed cost from ``system.billing`` and ``system.query`` through a DB-API connection to a SQL warehouse.

    ``connection`` is a DB-API connection or a zero-argument factory of one (opened on first use, reopened after a
    failure). ``discount`` multiplies list prices (0.8 = 20% off). ``history_latency_seconds`` is how long after an
    hour ends its query history and billing are taken as complete. ``coverage_slack_seconds``: a job run or pipeline
    update counts as billed when its billing rows reach to within this much of the span's end. ``clock`` returns
    epoch seconds (tests pass the emulator's clock). ``tag_keys``: the user tag keys (e.g. ``("team",)``) read from
    ``custom_tags`` / ``query_tags`` besides our ``dagster_*`` ones (see :mod:`.attribution`).
    """

    def __init__(
        self,
        connection: Any,
        *,
        discount: float = 1.0,
        history_latency_seconds: float = 3600.0,
        coverage_slack_seconds: float = 900.0,
        clock: Callable[[], float] = time.time,
        fetch_size: int = 10_000,
        tag_keys: Sequence[str] | str = (),
    ) -> None:
        try:
            self.discount = parse_discount(discount)
        except ValueError as error:
            raise ValueError(f"discount={discount!r}: {error}") from None
        try:
            self.tag_keys = parse_tag_keys(tag_keys)
        except ValueError as error:
            raise ValueError(f"tag_keys={tag_keys!r}: {error}") from None
        self.history_latency_seconds = history_latency_seconds
        self.coverage_slack_seconds = coverage_slack_seconds
        self.clock = clock
        self.fetch_size = fetch_size
        self.report = SourceReport()
        self._factory = connection if callable(connection) and not hasattr(connection, "cursor") else None
        self._connection = None if self._factory is not None else connection
        self._lock = threading.Lock()

    def complete_before_ms(self) -> int:
        return int((self.clock() - self.history_latency_seconds) * 1000)

    def lookup(self, keys: Sequence[ReconcileKey]) -> dict[Unit, BilledCost]:
        """Billed cost of every key whose billing is complete, by :attr:`~.keys.ReconcileKey.lookup_unit` (notebook
        and cluster keys: the unit within the span's window); keys still waiting for billing are left out."""
        good, refused = safe_keys(keys)
        self.report.refused_keys += len(refused)
        if not good:
            return {}
        sql = keyed_billing_sql(
            good, discount=self.discount, complete_before_ms=self.complete_before_ms(), tag_keys=self.tag_keys
        )
        windows = {key.lookup_unit: key for key in good}
        slack_ms = self.coverage_slack_seconds * 1000
        found: dict[Unit, BilledCost] = {}
        for cost in self._run(sql):
            key = windows.get(cost.unit)
            if key is None:
                continue
            if not key.windowed and cost.kind != "statement" and cost.usage_end_ms < key.window_end_ns / 1e6 - slack_ms:
                continue
            found[cost.unit] = cost
        return found

    def changed_slices(
        self,
        *,
        watermark: dt.date,
        previous_complete_before_ms: int,
        complete_before_ms: int,
        horizon: dt.date,
        max_rows: int,
    ) -> list[tuple[dt.date, dt.date]]:
        """The usage dates with billing that changed since the last run, cut into ``(first day, last day)`` slices
        of at most ``max_rows`` changed rows each (a single day with more rows is a slice of its own)."""
        sql = changed_days_sql(
            watermark=watermark,
            previous_complete_before_ms=previous_complete_before_ms,
            complete_before_ms=complete_before_ms,
            horizon=horizon,
        )
        with self._lock, suppress_instrumentation():
            rows = self._fetch(sql)
        self.report.queries += 1
        days = sorted((_as_date(day), int(_as_float(count))) for day, count in rows if day is not None)
        slices: list[tuple[dt.date, dt.date]] = []
        first: dt.date | None = None
        last: dt.date | None = None
        total = 0
        for day, count in days:
            if first is not None and last is not None and total + count > max_rows:
                slices.append((first, last))
                first, total = None, 0
            first = first or day
            last = day
            total += count
        if first is not None and last is not None:
            slices.append((first, last))
        return slices

    def changed(
        self,
        *,
        watermark: dt.date,
        previous_complete_before_ms: int,
        complete_before_ms: int,
        horizon: dt.date,
        first_day: dt.date | None = None,
        last_day: dt.date | None = None,
    ) -> Iterator[BilledCost]:
        """Every unit with billing ingested on or after ``watermark`` and used from ``first_day`` to ``last_day``
        (see :func:`.query.changed_billing_sql`)."""
        sql = changed_billing_sql(
            watermark=watermark,
            previous_complete_before_ms=previous_complete_before_ms,
            complete_before_ms=complete_before_ms,
            horizon=horizon,
            discount=self.discount,
            first_day=first_day,
            last_day=last_day,
            tag_keys=self.tag_keys,
        )
        return self._run(sql)

    def rows(self, sql: str) -> list[Sequence[Any]]:
        """The rows of one read-only statement over the system tables (the report's), through this source's
        connection: instrumentation suppressed, a missing grant raised as :class:`SystemTablesUnavailable`."""
        with self._lock, suppress_instrumentation():
            rows = self._fetch(sql)
        self.report.queries += 1
        self.report.rows += len(rows)
        return rows

    def close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None and self._factory is not None:
            try:
                connection.close()
            except Exception:
                _logger.debug("closing the billing connection failed", exc_info=True)

    def _run(self, sql: str) -> Iterator[BilledCost]:
        with self._lock, suppress_instrumentation():
            rows = self._fetch(sql)
        self.report.queries += 1
        for row in rows:
            self.report.rows += 1
            try:
                cost = parse_row(row, self.tag_keys)
            except (ValueError, TypeError) as error:
                self.report.malformed(row, str(error))
                if self.report.malformed_rows == 1:
                    _logger.warning("skipping a malformed billing row (%s); further ones are only counted", error)
                continue
            self.report.unpriced_rows += cost.unpriced_rows
            yield cost

    def _fetch(self, sql: str) -> list[Sequence[Any]]:
        if self._connection is None:
            self._connection = self._factory()
        try:
            cursor = self._connection.cursor()
            try:
                cursor.execute(sql)
                rows: list[Sequence[Any]] = []
                while True:
                    chunk = cursor.fetchmany(self.fetch_size)
                    if not chunk:
                        return rows
                    rows.extend(chunk)
            finally:
                try:
                    cursor.close()
                except Exception:
                    _logger.debug("closing the billing cursor failed", exc_info=True)
        except Exception as error:
            if self._factory is not None:
                broken, self._connection = self._connection, None
                try:
                    broken.close()
                except Exception:
                    _logger.debug("closing the failed billing connection failed", exc_info=True)
            unavailable = permission_error(error)
            if unavailable is not None:
                raise unavailable from error
            raise


class StatementExecutionConnection:
    """A minimal DB-API connection over the SDK's Statement Execution API, for :class:`SqlBillingSource`.

    ::

        from databricks.sdk import WorkspaceClient
        source = SqlBillingSource(StatementExecutionConnection(WorkspaceClient(), warehouse_id="abc123"))

    Results come back inline as JSON arrays (every value a string; :func:`parse_row` converts them).
    """

    def __init__(self, client: Any, warehouse_id: str, *, wait_timeout: str = "50s", poll_seconds: float = 2.0) -> None:
        self.client = client
        self.warehouse_id = warehouse_id
        self.wait_timeout = wait_timeout
        self.poll_seconds = poll_seconds

    def cursor(self) -> _StatementCursor:
        return _StatementCursor(self)

    def close(self) -> None:
        pass


class _StatementCursor:
    def __init__(self, connection: StatementExecutionConnection) -> None:
        self._connection = connection
        self._rows: list[list[Any]] = []

    def execute(self, operation: str) -> None:
        api = self._connection.client.statement_execution
        response = api.execute_statement(
            statement=operation,
            warehouse_id=self._connection.warehouse_id,
            wait_timeout=self._connection.wait_timeout,
        )
        state = _state(response)
        while state in ("PENDING", "RUNNING"):
            time.sleep(self._connection.poll_seconds)
            response = api.get_statement(response.statement_id)
            state = _state(response)
        if state != "SUCCEEDED":
            error = getattr(getattr(response, "status", None), "error", None)
            raise RuntimeError(f"billing statement {state}: {getattr(error, 'message', error)}")
        rows = list(getattr(response.result, "data_array", None) or [])
        chunk = response.result
        while chunk is not None and getattr(chunk, "next_chunk_index", None) is not None:
            chunk = api.get_statement_result_chunk_n(response.statement_id, chunk.next_chunk_index)
            rows.extend(chunk.data_array or [])
        self._rows = rows

    def fetchmany(self, size: int) -> list[list[Any]]:
        chunk, self._rows = self._rows[:size], self._rows[size:]
        return chunk

    def fetchall(self) -> list[list[Any]]:
        return self.fetchmany(len(self._rows))

    def close(self) -> None:
        self._rows = []


def _state(response: Any) -> str:
    state = getattr(getattr(response, "status", None), "state", None)
    return str(getattr(state, "value", state))
