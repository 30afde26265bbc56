"""Databricks system tables on an in-process DuckDB, behind a DB-API connection that speaks Databricks SQL.

For unit tests of the billing source and for ``benchmarks/reconcile_scale.py``; the integration tests use the
emulator's own system tables instead. Columns and types follow the Databricks docs (the subset the billing SQL
reads). Statements are translated with sqlglot (read ``databricks``, write ``duckdb``) and the reserved catalog
``system`` becomes schema prefixes (``system.billing.usage`` -> ``system_billing.usage``).

::

    tables = DuckSystemTables()
    tables.add_usage(sku="PREMIUM_JOBS_COMPUTE", start_ms=..., end_ms=..., dbu=2.0, job_run_id="42")
    connection = tables.connect()        # DB-API: connection.cursor().execute(databricks_sql).fetchall()
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS system_billing;
CREATE SCHEMA IF NOT EXISTS system_query;
CREATE SCHEMA IF NOT EXISTS system_compute;
CREATE TABLE system_compute.warehouse_events (
  account_id VARCHAR, workspace_id VARCHAR, warehouse_id VARCHAR, event_type VARCHAR, cluster_count INTEGER,
  event_time TIMESTAMP
);
CREATE TABLE system_billing.usage (
  record_id VARCHAR, account_id VARCHAR, workspace_id VARCHAR, sku_name VARCHAR, cloud VARCHAR,
  usage_start_time TIMESTAMP, usage_end_time TIMESTAMP, usage_date DATE,
  custom_tags MAP(VARCHAR, VARCHAR), usage_unit VARCHAR, usage_quantity DECIMAL(38, 18),
  usage_metadata STRUCT(cluster_id VARCHAR, job_id VARCHAR, warehouse_id VARCHAR, instance_pool_id VARCHAR,
    node_type VARCHAR, job_run_id VARCHAR, notebook_id VARCHAR, dlt_pipeline_id VARCHAR, endpoint_name VARCHAR,
    endpoint_id VARCHAR, dlt_update_id VARCHAR, dlt_maintenance_id VARCHAR, notebook_path VARCHAR),
  record_type VARCHAR, ingestion_date DATE, billing_origin_product VARCHAR
);
CREATE TABLE system_billing.list_prices (
  price_start_time TIMESTAMP, price_end_time TIMESTAMP, account_id VARCHAR, sku_name VARCHAR, cloud VARCHAR,
  currency_code VARCHAR, usage_unit VARCHAR,
  pricing STRUCT("default" DECIMAL(30, 18), promotional STRUCT("default" DECIMAL(30, 18)),
    effective_list STRUCT("default" DECIMAL(30, 18)))
);
CREATE TABLE system_query.history (
  account_id VARCHAR, workspace_id VARCHAR, statement_id VARCHAR, session_id VARCHAR, execution_status VARCHAR,
  compute STRUCT(type VARCHAR, cluster_id VARCHAR, warehouse_id VARCHAR),
  start_time TIMESTAMP, end_time TIMESTAMP, total_duration_ms BIGINT, total_task_duration_ms BIGINT,
  compilation_duration_ms BIGINT, result_fetch_duration_ms BIGINT, query_tags MAP(VARCHAR, VARCHAR)
);
"""

_METADATA_FIELDS = (
    "cluster_id",
    "job_id",
    "warehouse_id",
    "instance_pool_id",
    "node_type",
    "job_run_id",
    "notebook_id",
    "dlt_pipeline_id",
    "endpoint_name",
    "endpoint_id",
    "dlt_update_id",
    "dlt_maintenance_id",
    "notebook_path",
)


def to_duckdb(sql: str) -> str:
    tree = sqlglot.parse_one(sql, read="databricks")
    for table in tree.find_all(exp.Table):
        if table.catalog == "system":
            table.set("db", exp.to_identifier(f"system_{table.db}"))
            table.set("catalog", None)
    return tree.sql(dialect="duckdb")


def ts(epoch_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.timezone.utc).replace(tzinfo=None)


class _Cursor:
    def __init__(self, connection: duckdb.DuckDBPyConnection, denied: set[str]) -> None:
        self._connection = connection
        self._denied = denied
        self._result: Any = None
        self.description = None

    def execute(self, operation: str, parameters: Any = None) -> _Cursor:
        for table in self._denied:
            if table in operation:
                raise PermissionError(
                    f"[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have SELECT on Table '{table}'."
                )
        self._result = self._connection.execute(to_duckdb(operation))
        self.description = self._result.description
        return self

    def fetchall(self) -> list[tuple]:
        return self._result.fetchall()

    def fetchmany(self, size: int = 1000) -> list[tuple]:
        return self._result.fetchmany(size)

    def close(self) -> None:
        self._result = None

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Connection:
    def __init__(self, tables: DuckSystemTables) -> None:
        self._tables = tables

    def cursor(self) -> _Cursor:
        return _Cursor(self._tables.duck, self._tables.denied)

    def close(self) -> None:
        pass


class DuckSystemTables:
    """The system tables the billing SQL reads, in memory, with helpers to add rows."""

    def __init__(self, duck: duckdb.DuckDBPyConnection | None = None) -> None:
        self.duck = duck or duckdb.connect()
        self.duck.execute(SCHEMA)
        self.denied: set[str] = set()
        self._ids = itertools.count(1)

    def connect(self) -> _Connection:
        return _Connection(self)

    def add_price(self, sku: str, usd_per_dbu: float, start_ms: int = 0, end_ms: int | None = None) -> None:
        self.duck.execute(
            "INSERT INTO system_billing.list_prices VALUES (?, ?, 'acct', ?, 'AWS', 'USD', 'DBU', "
            "{'default': ?, 'promotional': {'default': ?}, 'effective_list': {'default': ?}})",
            [ts(start_ms), ts(end_ms) if end_ms is not None else None, sku, usd_per_dbu, usd_per_dbu, usd_per_dbu],
        )

    def add_usage(
        self,
        *,
        sku: str,
        start_ms: int,
        end_ms: int,
        dbu: float,
        record_type: str = "ORIGINAL",
        ingestion_date: dt.date | None = None,
        custom_tags: dict[str, str] | None = None,
        **metadata: str,
    ) -> None:
        unknown = set(metadata) - set(_METADATA_FIELDS)
        if unknown:
            raise TypeError(f"unknown usage_metadata fields {unknown}")
        start = ts(start_ms)
        meta = {name: metadata.get(name) for name in _METADATA_FIELDS}
        self.duck.execute(
            "INSERT INTO system_billing.usage VALUES (?, 'acct', '1', ?, 'AWS', ?, ?, ?, ?, 'DBU', ?, ?, ?, ?, 'x')",
            [
                f"r{next(self._ids)}",
                sku,
                start,
                ts(end_ms),
                start.date(),
                custom_tags or {},
                dbu,
                meta,
                record_type,
                ingestion_date or start.date(),
            ],
        )

    def add_warehouse_event(self, warehouse_id: str, event_type: str, cluster_count: int, at_ms: int) -> None:
        self.duck.execute(
            "INSERT INTO system_compute.warehouse_events VALUES ('acct', '1', ?, ?, ?, ?)",
            [warehouse_id, event_type, cluster_count, ts(at_ms)],
        )

    def add_statement(
        self,
        statement_id: str,
        warehouse_id: str,
        start_ms: int,
        end_ms: int,
        *,
        task_ms: int = 0,
        compilation_ms: int = 0,
        fetch_ms: int = 0,
        query_tags: dict[str, str] | None = None,
    ) -> None:
        self.duck.execute(
            "INSERT INTO system_query.history VALUES ('acct', '1', ?, 's', 'FINISHED', "
            "{'type': 'WAREHOUSE', 'cluster_id': NULL, 'warehouse_id': ?}, ?, ?, ?, ?, ?, ?, ?)",
            [
                statement_id,
                warehouse_id,
                ts(start_ms),
                ts(end_ms),
                end_ms - start_ms,
                task_ms,
                compilation_ms,
                fetch_ms,
                query_tags or {},
            ],
        )
