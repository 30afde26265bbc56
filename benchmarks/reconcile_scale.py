"""Reconciling at scale: N span keys against M billing rows, in DuckDB directly, next to the floor.

    python benchmarks/reconcile_scale.py                       # 1,000,000 keys vs 10,000,000 rows
    python benchmarks/reconcile_scale.py --keys 100000 --rows 1000000 --batch 50000

Data: ``--rows`` rows of ``system.billing.usage`` (70% job-run rows, ~7 hourly rows per run, 20% SQL warehouse
hours, 10% other usage), prices, and one ``system.query.history`` statement per warehouse-hour row. Modes, each in a
child process so its peak RSS is its own:

* ``floor``: a plain DuckDB aggregation of the same rows (``SUM(usage_quantity) GROUP BY job_run_id``);
* ``reconcile``: a whole first run of the :class:`Reconciler` (every row is new, so every unit is changed): its
  statements (:func:`changed_days_sql`, then :func:`changed_billing_sql` per slice of ``--slice-rows`` changed rows:
  every unit priced over all record types, statements apportioned, idle and other usage reported) through the SQL
  source, the deltas staged in and committed to a SQLite state store, one ``databricks.billing`` span built per unit
  and handed to an exporter that accepts everything;
* ``keyed``: the span processor's statements (:func:`keyed_billing_sql`), ``--keys`` job-run keys in batches of
  ``--batch`` (one SQL per batch, keys inline as VALUES). The statement is translated to DuckDB once and the
  VALUES list swapped per batch: sqlglot needs ~1 ms per key to translate, a cost of this stand-in, not of the
  warehouse.

Results go to ``benchmarks/results/reconcile_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOUR_MS = 3_600_000
T0_MS = 1_795_000_000_000 // HOUR_MS * HOUR_MS
MEMORY_LIMIT = "8GB"
LOOKBACK_DAYS = 500


class _DuckConnection:
    """A DB-API connection over a DuckDB connection that takes Databricks SQL (as the warehouse would)."""

    def __init__(self, duck) -> None:
        self.duck = duck

    def cursor(self):
        return _DuckCursor(self.duck)

    def close(self) -> None:
        pass


class _DuckCursor:
    def __init__(self, duck) -> None:
        self.duck = duck
        self.result = None

    def execute(self, operation: str) -> None:
        from tests.reconcile.duck_system_tables import to_duckdb

        self.result = self.duck.execute(to_duckdb(operation))

    def fetchmany(self, size: int) -> list:
        return self.result.fetchmany(size)

    def close(self) -> None:
        self.result = None


class _NullExporter:
    """Accepts every span: the benchmark measures the reconciler, not a backend."""

    def export(self, spans) -> object:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def build(duck, rows: int) -> None:
    from tests.reconcile.duck_system_tables import SCHEMA

    duck.execute(SCHEMA)
    job_rows, warehouse_rows = int(rows * 0.7), int(rows * 0.2)
    other_rows = rows - job_rows - warehouse_rows
    duck.execute(
        f"""
        INSERT INTO system_billing.list_prices
        SELECT TIMESTAMP '2020-01-01', NULL, 'acct', sku, 'AWS', 'USD', 'DBU',
               {{'default': p, 'promotional': {{'default': p}}, 'effective_list': {{'default': p}}}}
        FROM (VALUES ('PREMIUM_JOBS_COMPUTE', 0.15), ('PREMIUM_SERVERLESS_SQL', 0.70), ('PREMIUM_STORAGE', 0.02))
          AS t(sku, p);
        INSERT INTO system_billing.usage
        SELECT 'r' || i, 'acct', '1', 'PREMIUM_JOBS_COMPUTE', 'AWS',
               make_timestamp(({T0_MS} + (i % 720) * {HOUR_MS})::BIGINT * 1000),
               make_timestamp(({T0_MS} + (i % 720 + 1) * {HOUR_MS})::BIGINT * 1000),
               make_timestamp(({T0_MS} + (i % 720) * {HOUR_MS})::BIGINT * 1000)::DATE,
               MAP {{'otel_trace_id': 'ab', 'otel_span_id': 'cd'}}, 'DBU', (1 + i % 7)::DECIMAL(38, 18),
               {{'cluster_id': 'c', 'job_id': 'j', 'warehouse_id': NULL, 'instance_pool_id': NULL,
                 'node_type': NULL, 'job_run_id': (i // 7)::VARCHAR, 'notebook_id': NULL, 'dlt_pipeline_id': NULL,
                 'endpoint_name': NULL, 'endpoint_id': NULL, 'dlt_update_id': NULL, 'dlt_maintenance_id': NULL,
                 'notebook_path': NULL}},
               CASE WHEN i % 50 = 0 THEN 'RESTATEMENT' ELSE 'ORIGINAL' END,
               make_timestamp(({T0_MS} + (i % 720 + 12) * {HOUR_MS})::BIGINT * 1000)::DATE, 'JOBS'
        FROM range({job_rows}) AS r(i);
        INSERT INTO system_billing.usage
        SELECT 'w' || i, 'acct', '1', 'PREMIUM_SERVERLESS_SQL', 'AWS',
               make_timestamp(({T0_MS} + (i // 200) * {HOUR_MS})::BIGINT * 1000),
               make_timestamp(({T0_MS} + (i // 200 + 1) * {HOUR_MS})::BIGINT * 1000),
               make_timestamp(({T0_MS} + (i // 200) * {HOUR_MS})::BIGINT * 1000)::DATE,
               MAP {{}}, 'DBU', 12::DECIMAL(38, 18),
               {{'cluster_id': NULL, 'job_id': NULL, 'warehouse_id': 'wh' || (i % 200), 'instance_pool_id': NULL,
                 'node_type': NULL, 'job_run_id': NULL, 'notebook_id': NULL, 'dlt_pipeline_id': NULL,
                 'endpoint_name': NULL, 'endpoint_id': NULL, 'dlt_update_id': NULL, 'dlt_maintenance_id': NULL,
                 'notebook_path': NULL}},
               'ORIGINAL', make_timestamp(({T0_MS} + (i // 200 + 12) * {HOUR_MS})::BIGINT * 1000)::DATE, 'SQL'
        FROM range({warehouse_rows}) AS r(i);
        INSERT INTO system_query.history
        SELECT 'acct', '1', 's' || i, 's', 'FINISHED', {{'type': 'WAREHOUSE', 'cluster_id': NULL,
               'warehouse_id': 'wh' || (i % 200)}},
               make_timestamp(({T0_MS} + (i // 200) * {HOUR_MS} + (i % 3000) * 1000)::BIGINT * 1000),
               make_timestamp(({T0_MS} + (i // 200) * {HOUR_MS} + (i % 3000) * 1000 + 60000)::BIGINT * 1000),
               60000, 30000 + i % 1000, 100, 50, MAP {{}}
        FROM range({warehouse_rows}) AS r(i);
        INSERT INTO system_billing.usage
        SELECT 'o' || i, 'acct', '1', 'PREMIUM_STORAGE', 'AWS',
               make_timestamp(({T0_MS} + (i % 720) * {HOUR_MS})::BIGINT * 1000),
               make_timestamp(({T0_MS} + (i % 720 + 1) * {HOUR_MS})::BIGINT * 1000),
               make_timestamp(({T0_MS} + (i % 720) * {HOUR_MS})::BIGINT * 1000)::DATE,
               MAP {{}}, 'DBU', 1::DECIMAL(38, 18),
               {{'cluster_id': NULL, 'job_id': NULL, 'warehouse_id': NULL, 'instance_pool_id': NULL,
                 'node_type': NULL, 'job_run_id': NULL, 'notebook_id': NULL, 'dlt_pipeline_id': NULL,
                 'endpoint_name': NULL, 'endpoint_id': NULL, 'dlt_update_id': NULL, 'dlt_maintenance_id': NULL,
                 'notebook_path': NULL}},
               'ORIGINAL', make_timestamp(({T0_MS} + (i % 720 + 12) * {HOUR_MS})::BIGINT * 1000)::DATE, 'STORAGE'
        FROM range({other_rows}) AS r(i);
        """
    )


def run_mode(mode: str, database: str, keys: int, batch: int, memory_limit: str, slice_rows: int) -> dict:
    import duckdb
    from tests.reconcile.duck_system_tables import to_duckdb

    from opentelemetry_instrumentation_databricks.reconcile import Reconciler, SqlBillingSource, StateStore
    from opentelemetry_instrumentation_databricks.reconcile.keys import ReconcileKey
    from opentelemetry_instrumentation_databricks.reconcile.query import keyed_billing_sql

    duck = duckdb.connect(database, read_only=True, config={"temp_directory": database + ".spill"})
    duck.execute("SET threads = 2")
    duck.execute(f"SET memory_limit = '{memory_limit}'")
    start = time.perf_counter()
    extra: dict = {}
    if mode == "floor":
        out = duck.execute(
            "SELECT usage_metadata.job_run_id, SUM(usage_quantity) FROM system_billing.usage GROUP BY 1"
        ).fetchall()
        units = len(out)
    elif mode == "reconcile":
        state = Path(database + ".state.sqlite")
        state.unlink(missing_ok=True)
        source = SqlBillingSource(_DuckConnection(duck), clock=lambda: (T0_MS + 10_001 * HOUR_MS) / 1000)
        fetch, sql_seconds = source._fetch, [0.0]

        def timed_fetch(sql: str) -> list:
            started = time.perf_counter()
            try:
                return fetch(sql)
            finally:
                sql_seconds[0] += time.perf_counter() - started

        source._fetch = timed_fetch
        reconciler = Reconciler(
            source, _NullExporter(), StateStore(state), lookback_days=LOOKBACK_DAYS, slice_rows=slice_rows
        )
        result = reconciler.run()
        units = result.emitted
        extra = {"slices": result.slices, "queries": source.report.queries, "sql_seconds": round(sql_seconds[0], 2)}
        state.unlink(missing_ok=True)
    else:
        window_ms = (T0_MS, T0_MS + 1000 * HOUR_MS)
        placeholder = ReconcileKey("job_run", "PLACEHOLDER", None, window_ms[0] * 1_000_000, window_ms[1] * 1_000_000)
        template = to_duckdb(keyed_billing_sql([placeholder], complete_before_ms=T0_MS + 10_000 * HOUR_MS))
        row = re.search(r"\('job_run', 'PLACEHOLDER'[^)]*\)[^)]*\)[^)]*\)[^)]*\)", template).group(0)
        units = 0
        for first in range(0, keys, batch):
            values = ", ".join(row.replace("PLACEHOLDER", str(i)) for i in range(first, min(first + batch, keys)))
            units += len(duck.execute(template.replace(row, values)).fetchall())
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "seconds": round(seconds, 2), "peak_rss_mib": round(peak_mib, 1), "units": units, **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--slice-rows", type=int, default=1_000_000, help="the reconciler's changed rows per slice")
    parser.add_argument("--modes", default="floor,reconcile,keyed")
    parser.add_argument("--database", default=str(ROOT / "benchmarks" / "results" / "reconcile_scale.duckdb.tmp"))
    parser.add_argument("--memory-limit", default=MEMORY_LIMIT, help="DuckDB memory_limit per mode (spills beyond)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reconcile_scale.json"))
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.mode:
        print(
            json.dumps(
                run_mode(
                    arguments.mode,
                    arguments.database,
                    arguments.keys,
                    arguments.batch,
                    arguments.memory_limit,
                    arguments.slice_rows,
                )
            )
        )
        return
    import duckdb

    Path(arguments.database).unlink(missing_ok=True)
    started = time.perf_counter()
    with duckdb.connect(arguments.database) as duck:
        build(duck, arguments.rows)
    print(f"built {arguments.rows:,} billing rows in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    results = []
    for mode in arguments.modes.split(","):
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--mode",
                mode,
                "--database",
                arguments.database,
                "--keys",
                str(arguments.keys),
                "--batch",
                str(arguments.batch),
                "--memory-limit",
                arguments.memory_limit,
                "--slice-rows",
                str(arguments.slice_rows),
            ],
            capture_output=True,
            text=True,
        )
        if child.returncode != 0:
            print(child.stderr[-2000:], file=sys.stderr)
            results.append({"mode": mode, "failed": child.stderr.strip().splitlines()[-1][:300]})
            continue
        result = json.loads(child.stdout.strip().splitlines()[-1])
        print(result, file=sys.stderr)
        results.append(result)
    Path(arguments.database).unlink(missing_ok=True)
    shutil.rmtree(arguments.database + ".spill", ignore_errors=True)
    report = {
        "keys": arguments.keys,
        "rows": arguments.rows,
        "batch": arguments.batch,
        "slice_rows": arguments.slice_rows,
        "memory_limit": arguments.memory_limit,
        "cores": 2,
        "results": results,
    }
    Path(arguments.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
