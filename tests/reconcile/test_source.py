from __future__ import annotations

import datetime as dt

import pytest
import sqlglot

from opentelemetry_instrumentation_databricks.reconcile.keys import ReconcileKey
from opentelemetry_instrumentation_databricks.reconcile.query import (
    UnsafeKeyError,
    changed_billing_sql,
    keyed_billing_sql,
)
from opentelemetry_instrumentation_databricks.reconcile.source import (
    SqlBillingSource,
    SystemTablesUnavailable,
    parse_row,
)

from .duck_system_tables import DuckSystemTables
from .helpers import HOUR_MS, T0_MS

NS = 1_000_000
KEYS = [
    ReconcileKey("job_run", "42", None, T0_MS * NS, (T0_MS + HOUR_MS) * NS),
    ReconcileKey("pipeline_update", "u-1", None, T0_MS * NS, (T0_MS + HOUR_MS) * NS),
    ReconcileKey("statement", "01ef-s1", "wh1", (T0_MS + 60_000) * NS, (T0_MS + 120_000) * NS),
    ReconcileKey("notebook", "n1", "c1", (T0_MS + HOUR_MS // 2) * NS, (T0_MS + HOUR_MS) * NS),
    ReconcileKey("cluster", "c2", None, T0_MS * NS, (T0_MS + HOUR_MS // 4) * NS),
]


def test_keyed_sql_is_valid_databricks_sql_and_reads_the_documented_tables():
    sql = keyed_billing_sql(KEYS, discount=0.8, complete_before_ms=T0_MS + 2 * HOUR_MS)
    tree = sqlglot.parse_one(sql, read="databricks")
    tables = {f"{t.catalog}.{t.db}.{t.name}" for t in tree.find_all(sqlglot.exp.Table) if t.catalog}
    assert tables == {
        "system.billing.usage",
        "system.billing.list_prices",
        "system.query.history",
        "system.compute.warehouse_events",
    }
    assert "pricing.effective_list.default" in sql and "record_type" not in sql  # every record type is summed
    assert sql.count("SELECT") > 1 and sql.startswith("WITH ")


def test_changed_sql_is_valid_databricks_sql():
    sql = changed_billing_sql(
        watermark=dt.date(2026, 11, 1),
        previous_complete_before_ms=0,
        complete_before_ms=T0_MS,
        horizon=dt.date(2026, 10, 1),
    )
    sqlglot.parse_one(sql, read="databricks")
    assert "ingestion_date >= DATE'2026-11-01'" in sql


def test_an_id_that_could_break_out_of_a_literal_is_refused():
    with pytest.raises(UnsafeKeyError):
        keyed_billing_sql([ReconcileKey("job_run", "1' OR '1'='1", None, 0, 1)], complete_before_ms=0)


@pytest.fixture
def tables():
    tables = DuckSystemTables()
    tables.add_price("PREMIUM_JOBS_COMPUTE", 0.15)
    tables.add_price("PREMIUM_SERVERLESS_SQL_COMPUTE_US_EAST", 0.70)
    tables.add_price("PREMIUM_ALL_PURPOSE_COMPUTE", 0.55)
    tables.add_price("PREMIUM_DLT_CORE_COMPUTE", 0.20)
    return tables


def source_for(tables, now_ms=T0_MS + 3 * HOUR_MS, **options):
    return SqlBillingSource(tables.connect(), clock=lambda: now_ms / 1000, **options)


def test_job_runs_sum_every_record_type_at_list_price_times_discount(tables):
    tables.add_usage(sku="PREMIUM_JOBS_COMPUTE", start_ms=T0_MS, end_ms=T0_MS + HOUR_MS, dbu=2.0, job_run_id="42")
    tables.add_usage(
        sku="PREMIUM_JOBS_COMPUTE",
        start_ms=T0_MS,
        end_ms=T0_MS + HOUR_MS,
        dbu=-2.0,
        job_run_id="42",
        record_type="RETRACTION",
    )
    tables.add_usage(
        sku="PREMIUM_JOBS_COMPUTE",
        start_ms=T0_MS,
        end_ms=T0_MS + HOUR_MS,
        dbu=2.5,
        job_run_id="42",
        record_type="RESTATEMENT",
    )
    found = source_for(tables, discount=0.8).lookup(KEYS[:1])
    cost = found[("job_run", "42")]
    assert cost.dbu == pytest.approx(2.5) and cost.usd == pytest.approx(2.5 * 0.15 * 0.8) and cost.row_count == 3


def test_statements_share_the_busy_part_of_the_warehouse_hour_by_work_and_idle_stays_unattributed(tables):
    tables.add_usage(
        sku="PREMIUM_SERVERLESS_SQL_COMPUTE_US_EAST",
        start_ms=T0_MS,
        end_ms=T0_MS + HOUR_MS,
        dbu=12.0,
        warehouse_id="wh1",
    )
    tables.add_statement(
        "01ef-s1", "wh1", T0_MS + 60_000, T0_MS + 120_000, task_ms=20_000, compilation_ms=5_000, fetch_ms=5_000
    )
    tables.add_statement("01ef-s2", "wh1", T0_MS + 100_000, T0_MS + 160_000, task_ms=90_000)
    source = source_for(tables)
    cost = source.lookup(KEYS[2:3])[("statement", "01ef-s1")]
    busy = (160_000 - 60_000) / HOUR_MS  # the union of the two statements' overlapping intervals
    assert cost.dbu == pytest.approx(12.0 * busy * 30 / 120)
    rows = list(
        source.changed(
            watermark=dt.date(2020, 1, 1),
            previous_complete_before_ms=0,
            complete_before_ms=source.complete_before_ms(),
            horizon=dt.date(2020, 1, 1),
        )
    )
    by_kind = {}
    for row in rows:
        by_kind[row.kind] = by_kind.get(row.kind, 0.0) + row.dbu
    assert by_kind["statement"] == pytest.approx(12.0 * busy)
    assert by_kind["warehouse_idle"] == pytest.approx(12.0 * (1 - busy))


def test_the_busy_share_is_of_the_time_the_warehouse_was_up_in_the_hour(tables):
    tables.add_usage(
        sku="PREMIUM_SERVERLESS_SQL_COMPUTE_US_EAST",
        start_ms=T0_MS,
        end_ms=T0_MS + HOUR_MS,
        dbu=6.0,
        warehouse_id="wh1",
    )
    tables.add_warehouse_event("wh1", "STARTING", 1, T0_MS + HOUR_MS // 2)
    tables.add_warehouse_event("wh1", "STOPPED", 0, T0_MS + HOUR_MS // 2 + 600_000)
    tables.add_statement("01ef-s1", "wh1", T0_MS + HOUR_MS // 2, T0_MS + HOUR_MS // 2 + 150_000, task_ms=150_000)
    source = source_for(tables)
    cost = source.lookup(KEYS[2:3])[("statement", "01ef-s1")]
    assert cost.dbu == pytest.approx(6.0 * 150_000 / 600_000), "a quarter of the 10 minutes the warehouse was up"


def test_incomplete_hours_and_unfinished_runs_are_not_reported(tables):
    tables.add_usage(
        sku="PREMIUM_SERVERLESS_SQL_COMPUTE_US_EAST",
        start_ms=T0_MS,
        end_ms=T0_MS + HOUR_MS,
        dbu=12.0,
        warehouse_id="wh1",
    )
    tables.add_statement("01ef-s1", "wh1", T0_MS + 60_000, T0_MS + 120_000, task_ms=1000)
    tables.add_usage(sku="PREMIUM_JOBS_COMPUTE", start_ms=T0_MS, end_ms=T0_MS + HOUR_MS, dbu=2.0, job_run_id="43")
    long_run = ReconcileKey("job_run", "43", None, T0_MS * NS, (T0_MS + 3 * HOUR_MS) * NS)
    assert source_for(tables, now_ms=T0_MS + HOUR_MS + 1).lookup([KEYS[2], long_run]) == {}


def test_notebook_and_cluster_rows_are_prorated_to_the_span_window(tables):
    tables.add_usage(
        sku="PREMIUM_ALL_PURPOSE_COMPUTE",
        start_ms=T0_MS,
        end_ms=T0_MS + HOUR_MS,
        dbu=3.0,
        cluster_id="c1",
        notebook_id="n1",
    )
    tables.add_usage(
        sku="PREMIUM_ALL_PURPOSE_COMPUTE", start_ms=T0_MS, end_ms=T0_MS + HOUR_MS, dbu=4.0, cluster_id="c2"
    )
    found = source_for(tables).lookup(KEYS[3:])
    assert found[KEYS[3].lookup_unit].dbu == pytest.approx(1.5)
    assert found[KEYS[4].lookup_unit].dbu == pytest.approx(1.0)


def test_two_commands_on_one_cluster_each_get_the_share_of_their_own_window(tables):
    tables.add_usage(
        sku="PREMIUM_ALL_PURPOSE_COMPUTE", start_ms=T0_MS, end_ms=T0_MS + HOUR_MS, dbu=4.0, cluster_id="c2"
    )
    first = ReconcileKey("cluster", "c2", None, T0_MS * NS, (T0_MS + HOUR_MS // 4) * NS)
    second = ReconcileKey("cluster", "c2", None, (T0_MS + HOUR_MS // 2) * NS, (T0_MS + HOUR_MS) * NS)
    found = source_for(tables).lookup([first, second])
    assert first.unit == second.unit and first.lookup_unit != second.lookup_unit
    assert found[first.lookup_unit].dbu == pytest.approx(1.0)
    assert found[second.lookup_unit].dbu == pytest.approx(2.0)


def test_missing_grant_names_the_schema_and_the_grant(tables):
    tables.denied.add("system.billing.usage")
    with pytest.raises(SystemTablesUnavailable) as raised:
        source_for(tables).lookup(KEYS[:1])
    message = str(raised.value)
    assert "system.billing.usage" in message
    assert (
        "GRANT SELECT ON TABLE system.billing.usage" in message
        and "GRANT USE SCHEMA ON SCHEMA system.billing" in message
    )


NO_FACTS = (None, None, None, None)


def test_malformed_rows_are_counted_not_fatal():
    class Cursor:
        def execute(self, sql):
            pass

        def fetchmany(self, size):
            rows, self.rows = getattr(self, "rows", None), []
            if rows is None:
                return [
                    ("job_run", "1", None, "not a number", 1, 0, 1, 1, 0, None, None, None, *NO_FACTS),
                    ("martian", "2", None, 1, 1, 0, 1, 1, 0, None, None, None, *NO_FACTS),
                    ("job_run", "3", None, "1.5", "0.3", "0", "10", "1", "0", None, None, "2026-11-20", *NO_FACTS),
                    ("job_run", "4", None, 1, 1, 0, 1, 1, 0, None, None, None, None, None, None, "{not json"),
                ]
            return rows

        def close(self):
            pass

    class Connection:
        def cursor(self):
            return Cursor()

    source = SqlBillingSource(Connection())
    found = source.lookup([ReconcileKey("job_run", "3", None, 0, 0)])
    assert found[("job_run", "3")].dbu == 1.5 and found[("job_run", "3")].last_ingestion == dt.date(2026, 11, 20)
    assert source.report.malformed_rows == 3 and len(source.report.examples) == 3


def test_parse_row_rejects_short_rows():
    with pytest.raises(ValueError):
        parse_row(("job_run", "1"))
