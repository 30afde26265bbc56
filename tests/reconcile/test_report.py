"""``databricks-otel-reconcile report`` against the emulator's own system tables, through the real connector: the
example workload runs traced (so its tags reach Databricks), the clock jumps past billing's delays, and the CLI's
``main`` reads billed cost by job, asset, compute type, warehouse and tag. No test sleeps."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider

from databricks_emulator import Emulator
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor
from opentelemetry_instrumentation_databricks.reconcile import SpanIdRecorder
from opentelemetry_instrumentation_databricks.reconcile.cli import main
from opentelemetry_instrumentation_databricks.reconcile.report import (
    day_slices,
    dimension,
    parse_since,
    recorded_attribute,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BILLING_DELAY_SECONDS = 2 * 86400
BILLED_TOTAL = """
SELECT SUM(u.usage_quantity), SUM(u.usage_quantity * p.pricing.effective_list.default)
FROM system.billing.usage AS u
LEFT JOIN system.billing.list_prices AS p
  ON p.sku_name = u.sku_name AND p.cloud = u.cloud AND p.usage_unit = u.usage_unit
  AND u.usage_end_time > p.price_start_time
  AND (p.price_end_time IS NULL OR u.usage_end_time <= p.price_end_time)
"""


@pytest.fixture(scope="module")
def span_records(tmp_path_factory):
    """The span-time id record the example workload writes."""
    return tmp_path_factory.mktemp("span-records")


@pytest.fixture(scope="module")
def billed_workspace(span_records):
    """The example workload, billed: ``(ws, dbu, usd)`` with the totals of system.billing.usage."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import workload
    finally:
        sys.path.remove(str(EXAMPLES))
    instrumentor = DatabricksInstrumentor()
    provider = TracerProvider()
    recorder = SpanIdRecorder(span_records)
    provider.add_span_processor(recorder)
    with Emulator() as ws:
        ws.auto_advance_on_poll = "settle"
        instrumentor.instrument(tracer_provider=provider)
        try:
            workload.Workload(ws.workspace_client(), ws.sql_connect).run_round()
        finally:
            instrumentor.uninstrument()
            recorder.shutdown()
        ws.clock.advance(BILLING_DELAY_SECONDS)
        with ws.sql_connect() as connection, connection.cursor() as cursor:
            cursor.execute(BILLED_TOTAL)
            dbu, usd = cursor.fetchone()
        yield ws, float(dbu), float(usd)


@pytest.fixture
def report(billed_workspace, monkeypatch, capsys):
    """Run ``databricks-otel-reconcile report ...`` on the billed workspace: ``(exit status, stdout, stderr)``."""
    ws = billed_workspace[0]
    for name in ("DATABRICKS_HOST", "DATABRICKS_HTTP_PATH", "DATABRICKS_TOKEN", "DATABRICKS_WAREHOUSE_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABRICKS_HOST", ws.host)
    monkeypatch.setenv("DATABRICKS_HTTP_PATH", ws.http_path)
    monkeypatch.setenv("DATABRICKS_TOKEN", ws.token)

    def run(*arguments: str) -> tuple[int, str, str]:
        try:
            status = main(["report", *arguments])
        except SystemExit as exit:
            status = int(exit.code or 0)
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def by_value(output: str) -> dict[str | None, dict]:
    return {row["value"]: row for row in json.loads(output)["rows"]}


def test_cost_by_dagster_job_sums_with_the_unattributed_share_to_billing_usage(billed_workspace, report):
    _, dbu, usd = billed_workspace
    status, out, err = report("--by", "dagster_job_name", "--since", "7d", "--json")
    assert status == 0, err
    rows = by_value(out)
    assert {"daily_sales", "nightly_reports", "lakehouse_refresh", None} == set(rows)
    assert sum(row["usd"] for row in rows.values()) == pytest.approx(usd, rel=1e-9)
    assert sum(row["dbu"] for row in rows.values()) == pytest.approx(dbu, rel=1e-9)
    assert json.loads(out)["total_usd"] == pytest.approx(usd, rel=1e-9)
    assert rows["daily_sales"]["sources"]["query_tags"] > 0, "its SQL statements are apportioned warehouse time"
    assert rows["daily_sales"]["sources"]["usage_tags"] > 0, "its classic job run bills with its cluster's tags"
    assert rows[None]["sources"]["warehouse_idle"] > 0
    assert rows[None]["sources"]["usage_tags"] > 0, "a serverless job without a usage policy carries no tags"


def test_cost_by_asset_names_every_asset_that_billed(report):
    status, out, _ = report("--by", "dagster_asset_key", "--since", "7d", "--json")
    assert status == 0
    rows = by_value(out)
    assert {"bronze/events", "reports/daily", "sales/orders_rollup", "sales/orders", "sales/customers"} <= set(rows)
    assert rows["sales/orders"]["sources"]["query_tags"] > 0


def test_with_the_span_records_a_run_billed_without_tags_counts_under_the_job_and_asset_that_ran_it(
    billed_workspace, report, span_records
):
    _, _, usd = billed_workspace
    plain = by_value(report("--by", "dagster_job_name", "--since", "7d", "--json")[1])
    status, out, err = report("--by", "dagster_job_name", "--since", "7d", "--records", str(span_records), "--json")
    assert status == 0, err
    recorded = by_value(out)
    moved = recorded["daily_sales"]["usd"] - plain["daily_sales"]["usd"]
    assert moved > 0, "the serverless forecast run bills with no tag; its record names daily_sales"
    assert recorded["daily_sales"]["sources"]["span_record"] > 0
    assert recorded[None]["usd"] == pytest.approx(plain[None]["usd"] - moved)
    assert sum(row["usd"] for row in recorded.values()) == pytest.approx(usd, rel=1e-9)
    assets = by_value(report("--by", "dagster_asset_key", "--since", "7d", "--records", str(span_records), "--json")[1])
    assert "sales/forecast" in assets and "sales/forecast" not in by_value(
        report("--by", "dagster_asset_key", "--since", "7d", "--json")[1]
    )


def test_records_leave_compute_types_alone_and_a_missing_records_directory_is_a_usage_error(
    report, span_records, tmp_path
):
    plain = by_value(report("--by", "compute_type", "--since", "7d", "--json")[1])
    recorded = by_value(report("--by", "compute_type", "--since", "7d", "--records", str(span_records), "--json")[1])
    assert {kind: row["usd"] for kind, row in recorded.items()} == {kind: row["usd"] for kind, row in plain.items()}
    status, _, err = report("--by", "dagster_job_name", "--since", "7d", "--records", str(tmp_path / "nowhere"))
    assert status == 2 and "--records" in err and "SpanIdRecorder" in err


def test_cost_by_compute_type_and_by_warehouse_attribute_from_usage_alone(billed_workspace, report):
    ws, _, usd = billed_workspace
    status, out, _ = report("--by", "compute_type", "--since", "7d", "--json")
    assert status == 0
    kinds = by_value(out)
    assert {"sql_warehouse", "jobs_classic", "jobs_serverless", "dlt"} == set(kinds)
    status, out, _ = report("--by", "warehouse", "--since", "7d", "--json")
    warehouses = by_value(out)
    assert set(warehouses) == {ws.warehouse_id, None}
    assert warehouses[ws.warehouse_id]["usd"] == pytest.approx(kinds["sql_warehouse"]["usd"])
    assert sum(row["usd"] for row in warehouses.values()) == pytest.approx(usd, rel=1e-9)


def test_any_tag_key_is_a_dimension_and_the_discount_applies(report):
    status, out, _ = report("--by", "bundle", "--since", "7d", "--json")
    full = by_value(out)
    assert status == 0 and set(full) == {"reports", None}
    status, out, _ = report("--by", "bundle", "--since", "7d", "--json", "--discount", "0.5")
    assert by_value(out)["reports"]["usd"] == pytest.approx(full["reports"]["usd"] * 0.5)


def test_the_table_and_csv_show_the_unattributed_row_and_progress_goes_to_stderr(report):
    status, out, err = report("--by", "dagster_job_name", "--since", "7d")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["dagster_job_name", "DBU", "USD", "share"]
    assert any(line.startswith("(unattributed) ") for line in lines)
    assert next(line for line in lines if line.startswith("total ")).split()[-1] == "100.0%"
    assert "... counting system.billing.usage rows since" in err and "usage rows read (1/1)" in err
    status, out, _ = report("--by", "dagster_job_name", "--since", "7d", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {row["dagster_job_name"] for row in rows} == {"daily_sales", "nightly_reports", "lakehouse_refresh", ""}
    assert float(next(r for r in rows if r["dagster_job_name"] == "")["warehouse_idle"]) > 0


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (("--by", "dagster_job_name", "--since", "last week"), "--since 'last week'"),
        (("--by", "dagster_job_name", "--since", "2999-01-01"), "in the future"),
        (("--by", "bad'key", "--since", "7d"), '--by "bad\'key"'),
        (("--by", "warehouse", "--since", "7d", "--json", "--csv"), "not allowed with argument"),
    ],
)
def test_bad_arguments_are_one_line_naming_the_option(report, arguments, named):
    status, _, err = report(*arguments)
    assert status == 2
    assert named in err and "Traceback" not in err


def test_a_missing_grant_is_one_error_naming_the_table_and_the_grant(report):
    from databricks_emulator.sql.names import private_catalog

    with Emulator() as ws, ws.sql_connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        ws.sql.engine.duckdb_cursor().execute(f'DROP SCHEMA "{private_catalog("system")}"."query" CASCADE')
        ws.clock.advance(BILLING_DELAY_SECONDS)
        status, out, err = report(
            "--by", "dagster_job_name", "--since", "7d", "--host", ws.host, "--http-path", ws.http_path
        )
    assert status == 2 and out == ""
    assert "GRANT SELECT ON TABLE system.query.history" in err and "Traceback" not in err


def test_since_accepts_days_hours_dates_and_date_times():
    now = dt.datetime(2026, 11, 12, 12, tzinfo=dt.timezone.utc).timestamp()
    assert parse_since("2d", now).isoformat() == "2026-11-10T12:00:00+00:00"
    assert parse_since("36h", now).isoformat() == "2026-11-11T00:00:00+00:00"
    assert parse_since("2026-11-01", now).isoformat() == "2026-11-01T00:00:00+00:00"
    assert parse_since("2026-11-01T06:00+01:00", now).isoformat() == "2026-11-01T06:00:00+01:00"


def test_named_dimensions_and_tag_keys_are_accepted_and_quotes_are_not():
    assert dimension("dagster_job_name") == "dagster_job_name"
    assert dimension("cost_center") == "cost_center"
    with pytest.raises(ValueError, match="--by"):
        dimension("x'; DROP TABLE y; --")


def test_usage_days_are_read_in_slices_of_bounded_rows():
    day = dt.date(2026, 11, 1)
    days = [(day + dt.timedelta(days=n), rows) for n, rows in enumerate((10, 20, 80, 5, 5))]
    third, fourth = day + dt.timedelta(days=2), day + dt.timedelta(days=3)
    assert day_slices(days, max_rows=40) == [(day, 2, 30), (third, 1, 80), (fourth, 2, 10)]


def test_a_dimension_reads_the_record_field_the_reconciler_attributes_it_from():
    assert recorded_attribute("dagster_job_name") == "dagster.job.name"
    assert recorded_attribute("dagster_asset_key") == "dagster.asset.key"
    assert recorded_attribute("dagster_partition_key") == "dagster.partition.key"
    assert recorded_attribute("team") == "databricks.tag.team"


def test_with_the_span_records_a_statement_without_query_tags_counts_under_the_job_that_ran_it(
    tmp_path, monkeypatch, capsys
):
    from opentelemetry_instrumentation_databricks.context import orchestration_context

    provider = TracerProvider()
    recorder = SpanIdRecorder(tmp_path)
    provider.add_span_processor(recorder)
    instrumentor = DatabricksInstrumentor()
    with Emulator() as ws:
        instrumentor.instrument(tracer_provider=provider, inject_tags=False)
        try:
            with (
                orchestration_context(job_name="untagged_job"),
                ws.sql_connect() as connection,
                connection.cursor() as cursor,
            ):
                cursor.execute("SELECT COUNT(*) FROM range(200000)")
                cursor.fetchall()
        finally:
            instrumentor.uninstrument()
            recorder.shutdown()
        ws.clock.advance(BILLING_DELAY_SECONDS)
        for name, value in (("DATABRICKS_HOST", ws.host), ("DATABRICKS_HTTP_PATH", ws.http_path)):
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("DATABRICKS_TOKEN", ws.token)
        monkeypatch.delenv("DATABRICKS_WAREHOUSE_ID", raising=False)

        def report(*extra: str) -> dict[str | None, dict]:
            status = main(["report", "--by", "dagster_job_name", "--since", "7d", "--json", *extra])
            out = capsys.readouterr().out
            assert status == 0
            return by_value(out)

        plain = report()
        recorded = report("--records", str(tmp_path))
    assert set(plain) == {None}, "no query tag names the job: the warehouse hour is unattributed"
    statement_usd = recorded["untagged_job"]["usd"]
    assert statement_usd > 0 and recorded["untagged_job"]["sources"] == {"span_record": pytest.approx(statement_usd)}
    assert recorded[None]["usd"] == pytest.approx(plain[None]["usd"] - statement_usd)
