"""The emulator's system tables through the real connector (Thrift and SEA) and the Statement Execution API.

One mixed workload runs at 09:05 UTC on a frozen clock: SQL statements with query tags on a tagged serverless
warehouse, a classic Photon job with job and cluster tags on an autoscaling cluster, a serverless job under a
usage policy, a classic and a serverless pipeline update, and notebook commands on an all-purpose cluster. The
tests then move the clock (never sleeping) and read what Databricks would bill and record.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from databricks.sdk.service import compute, jobs, pipelines, sql

from databricks_emulator import Clock, Emulator

START = datetime(2026, 3, 2, 9, 5, tzinfo=timezone.utc)
PHOTON = "16.4.x-photon-scala2.12"
NODE = "m5d.xlarge"
JOB_TAGS = {"team": "data"}
CLUSTER_TAGS = {"cost_center": "42"}
POLICY_TAGS = {"budget": "growth"}
WAREHOUSE_TAGS = {"dept": "bi"}
QUERY_TAGS = {"dagster_run_id": "run-7", "flag": None}
CLASSIC_TASK_SECONDS = 90 * 60


def _rows(cursor, sql_text: str, *parameters) -> list:
    cursor.execute(sql_text, list(parameters) or None)
    return cursor.fetchall()


@pytest.fixture(autouse=True)
def _no_databricks_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("DATABRICKS_", "ARM_")) or name == "GOOGLE_CREDENTIALS":
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def ws() -> Iterator[Emulator]:
    with Emulator(clock=Clock(START, frozen=True)) as emulator:
        emulator.warehouse.tags.update(WAREHOUSE_TAGS)
        yield emulator


@pytest.fixture(scope="module")
def workload(ws: Emulator) -> dict:
    """Start everything at 09:05 and return the ids the tests look for."""
    w = ws.workspace_client()
    ws.outcomes.task(seconds=CLASSIC_TASK_SECONDS, task_key="etl")
    policy = ws.billing.add_usage_policy(POLICY_TAGS)
    classic = w.jobs.create(
        name="nightly",
        tags=JOB_TAGS,
        tasks=[
            jobs.Task(
                task_key="etl",
                notebook_task=jobs.NotebookTask(notebook_path="/etl/daily"),
                new_cluster=compute.ClusterSpec(
                    spark_version=PHOTON,
                    node_type_id=NODE,
                    autoscale=compute.AutoScale(min_workers=1, max_workers=4),
                    custom_tags=CLUSTER_TAGS,
                ),
            )
        ],
    )
    serverless = w.jobs.create(
        name="scoring",
        tags={"team": "ml"},
        budget_policy_id=policy,
        environments=[jobs.JobEnvironment(environment_key="default", spec=compute.Environment(client="1"))],
        tasks=[
            jobs.Task(
                task_key="score",
                python_wheel_task=jobs.PythonWheelTask(package_name="scoring", entry_point="main"),
                environment_key="default",
            )
        ],
    )
    classic_run = w.jobs.run_now(classic.job_id).response.run_id
    serverless_run = w.jobs.run_now(serverless.job_id).response.run_id
    classic_pipeline = w.pipelines.create(
        name="orders", tags={"pipe": "orders"}, clusters=[pipelines.PipelineCluster(label="default", num_workers=1)]
    ).pipeline_id
    serverless_pipeline = w.pipelines.create(name="events", serverless=True, tags={"pipe": "events"}).pipeline_id
    classic_update = w.pipelines.start_update(classic_pipeline).update_id
    serverless_update = w.pipelines.start_update(serverless_pipeline).update_id
    cluster_id = ws.add_cluster("analysts", custom_tags={"owner": "nb"})
    context = w.command_execution.create(cluster_id=cluster_id, language=compute.Language.PYTHON).response
    w.command_execution.execute(cluster_id=cluster_id, context_id=context.id, command="print(1)")
    with ws.sql_connect(query_tags={"session_tag": "s"}) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE main.default.orders AS SELECT 1 AS id")
        cursor.execute("SELECT count(*) FROM main.default.orders", query_tags=QUERY_TAGS)
        ws.clock.advance(30 * 60)
        cursor.execute("SELECT 1")
    return {
        "classic_job": classic.job_id,
        "classic_run": classic_run,
        "serverless_job": serverless.job_id,
        "serverless_run": serverless_run,
        "policy": policy,
        "classic_pipeline": classic_pipeline,
        "classic_update": classic_update,
        "serverless_pipeline": serverless_pipeline,
        "serverless_update": serverless_update,
        "cluster": cluster_id,
    }


def at(ws: Emulator, when: datetime) -> None:
    """Move the frozen clock forward to ``when`` (never back)."""
    ws.clock.advance(max(0.0, when.timestamp() - ws.clock.time()))


@pytest.fixture(scope="module")
def cursor(ws: Emulator, workload: dict):
    with ws.sql_connect() as conn, conn.cursor() as found:
        yield found


def test_classic_rows_wait_for_the_arrival_delay(ws, workload, cursor):
    at(ws, datetime(2026, 3, 2, 11, 59, tzinfo=timezone.utc))
    assert _rows(cursor, "SELECT count(*) FROM system.billing.usage")[0][0] == 0

    at(ws, datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc))
    found = _rows(
        cursor,
        "SELECT billing_origin_product, usage_start_time, record_type, ingestion_date FROM system.billing.usage",
    )
    assert {row.billing_origin_product for row in found} == {"JOBS", "DLT", "ALL_PURPOSE"}
    assert {row.usage_start_time for row in found} == {datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)}
    assert {row.record_type for row in found} == {"ORIGINAL"}
    assert {str(row.ingestion_date) for row in found} == {"2026-03-02"}


def test_serverless_rows_arrive_later(ws, workload, cursor):
    at(ws, datetime(2026, 3, 2, 15, 59, tzinfo=timezone.utc))
    query = "SELECT count(*) FROM system.billing.usage WHERE product_features.is_serverless"
    assert _rows(cursor, query)[0][0] == 0
    at(ws, datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc))
    assert _rows(cursor, query)[0][0] > 0


def test_classic_job_bills_start_up_autoscaling_and_photon_by_the_hour(ws, workload, cursor):
    at(ws, datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc))
    found = _rows(
        cursor,
        "SELECT usage_start_time, usage_end_time, sku_name, usage_quantity, usage_metadata.cluster_id AS cluster, "
        "usage_metadata.job_name AS job_name, usage_metadata.node_type AS node_type, product_features.is_photon "
        "AS photon FROM system.billing.usage WHERE usage_metadata.job_run_id = ? ORDER BY usage_start_time",
        str(workload["classic_run"]),
    )
    assert [(r.usage_start_time.hour, r.usage_end_time.hour) for r in found] == [(9, 10), (10, 11)]
    assert {r.sku_name for r in found} == {"PREMIUM_JOBS_COMPUTE_(PHOTON)"}
    assert {(r.job_name, r.node_type, r.photon) for r in found} == {("nightly", NODE, True)}
    run = next(r for r in ws.job_runs if r.run_id == workload["classic_run"])
    cluster = next(c for c in ws.clusters if c.cluster_id == found[0].cluster)
    session = cluster.sessions[0]
    rate = ws.billing.rates.node_type_dbu_per_hour[NODE] * ws.billing.rates.photon_multiplier["JOBS"]
    scaled = session.running_time / 1000 + ws.timing.autoscale_up_seconds
    requested, terminated = session.requested_time / 1000, session.terminated_time / 1000
    expected = ((scaled - requested) * (1 + 1) + (terminated - scaled) * (1 + 4)) * rate / 3600
    assert float(sum(r.usage_quantity for r in found)) == pytest.approx(expected, abs=1e-5)
    task_only = (
        (run.tasks[0].execution_duration / 1000) * (1 + 1) * ws.billing.rates.node_type_dbu_per_hour[NODE] / 3600
    )
    assert expected > 2 * task_only


def test_tags_land_where_databricks_keeps_them(ws, workload, cursor):
    at(ws, datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc))
    found = _rows(
        cursor,
        "SELECT billing_origin_product AS product, product_features.is_serverless AS serverless, "
        "usage_metadata.job_run_id AS run, usage_metadata.warehouse_id AS warehouse, "
        "usage_metadata.dlt_update_id AS update_id, usage_metadata.cluster_id AS cluster, "
        "usage_metadata.budget_policy_id AS policy, usage_metadata.notebook_id AS notebook, "
        "custom_tags['team'] AS team, custom_tags['cost_center'] AS cost_center, custom_tags['budget'] AS budget, "
        "custom_tags['JobId'] AS job_tag, custom_tags['pipe'] AS pipe, custom_tags['dept'] AS dept, "
        "custom_tags['owner'] AS owner, map_keys(custom_tags) AS tag_keys FROM system.billing.usage",
    )
    by_kind: dict[tuple, list] = {}
    for row in found:
        by_kind.setdefault((row.product, bool(row.serverless)), []).append(row)

    classic_job = [r for r in by_kind[("JOBS", False)] if r.run == str(workload["classic_run"])]
    assert classic_job and all(
        (r.team, r.cost_center, r.job_tag) == ("data", "42", str(workload["classic_job"])) for r in classic_job
    )
    serverless_job = by_kind[("JOBS", True)]
    assert {(r.run, r.policy, r.budget, r.team) for r in serverless_job} == {
        (str(workload["serverless_run"]), workload["policy"], "growth", None)
    }
    assert all(list(r.tag_keys) == ["budget"] for r in serverless_job)
    warehouse = by_kind[("SQL", True)]
    assert warehouse and all(r.warehouse == ws.warehouse_id and list(r.tag_keys) == ["dept"] for r in warehouse)
    classic_pipeline = by_kind[("DLT", False)]
    assert {(r.update_id, r.pipe) for r in classic_pipeline} == {(workload["classic_update"], "orders")}
    serverless_pipeline = by_kind[("DLT", True)]
    assert {(r.update_id, r.cluster) for r in serverless_pipeline} == {(workload["serverless_update"], None)}
    assert all(list(r.tag_keys) == [] for r in serverless_pipeline)
    all_purpose = by_kind[("ALL_PURPOSE", False)]
    assert {(r.cluster, r.owner, r.run, r.notebook) for r in all_purpose} == {(workload["cluster"], "nb", None, None)}
    assert all({"dagster_run_id", "session_tag", "flag"}.isdisjoint(list(r.tag_keys)) for r in found)


def test_warehouse_bills_idle_time_until_auto_stop(ws, workload, cursor):
    at(ws, datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc))
    billed = _rows(
        cursor,
        "SELECT sum(usage_quantity) FROM system.billing.usage "
        "WHERE usage_metadata.warehouse_id = ? AND usage_start_time = ?",
        ws.warehouse_id,
        datetime(2026, 3, 2, 9, 0),
    )[0][0]
    hour = [r for r in ws.query_history if r.start_time < START + timedelta(hours=1)]
    first = [r for r in hour if r.start_time < START + timedelta(minutes=20)]
    second = [r for r in hour if r not in first]
    busy = sum(
        (max(r.end_time for r in group) - min(r.start_time for r in group)).total_seconds() for group in (first, second)
    )
    running_seconds = 2 * ws.warehouse.auto_stop_mins * 60 + busy
    assert float(billed) == pytest.approx(12.0 * running_seconds / 3600, abs=1e-4)
    assert float(billed) > 100 * 12.0 * busy / 3600
    events = _rows(
        cursor,
        "SELECT event_type, cluster_count, event_time FROM system.compute.warehouse_events "
        "WHERE warehouse_id = ? AND event_time < ? ORDER BY event_time, event_type DESC",
        ws.warehouse_id,
        datetime(2026, 3, 2, 10, 0),
    )
    assert [e.event_type for e in events] == ["STARTING", "RUNNING", "STOPPING", "STOPPED"] * 2


def test_list_prices_join_prices_every_row(ws, workload, cursor):
    at(ws, datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc))
    priced = _rows(
        cursor,
        "SELECT u.sku_name, sum(u.usage_quantity) AS dbu, "
        "sum(u.usage_quantity * p.pricing.effective_list.default) AS usd, count(*) AS n "
        "FROM system.billing.usage u JOIN system.billing.list_prices p ON u.sku_name = p.sku_name "
        "AND u.usage_end_time >= p.price_start_time "
        "AND (p.price_end_time IS NULL OR u.usage_end_time < p.price_end_time) GROUP BY ALL",
    )
    total_rows = _rows(cursor, "SELECT count(*) FROM system.billing.usage")[0][0]
    assert sum(row.n for row in priced) == total_rows
    jobs_row = next(row for row in priced if row.sku_name == "PREMIUM_JOBS_COMPUTE_(PHOTON)")
    assert jobs_row.usd == pytest.approx(jobs_row.dbu * Decimal("0.15"))
    history = _rows(
        cursor,
        "SELECT count(*) FROM system.billing.list_prices WHERE sku_name = 'PREMIUM_JOBS_COMPUTE_(PHOTON)'",
    )
    assert history[0][0] == 2


def test_query_history_matches_the_warehouse_records(ws, workload, cursor):
    at(ws, datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc))
    expected = {r.statement_id: r for r in ws.query_history}
    found = _rows(
        cursor,
        "SELECT statement_id, compute.warehouse_id AS warehouse, execution_status, total_task_duration_ms, "
        "query_tags['dagster_run_id'] AS run_tag, query_tags['session_tag'] AS session_tag, "
        "map_keys(query_tags) AS tag_keys FROM system.query.history",
    )
    assert set(expected) >= {row.statement_id for row in found} and len(found) >= 4
    for row in found:
        record = expected[row.statement_id]
        assert (row.warehouse, row.execution_status, row.total_task_duration_ms) == (
            record.warehouse_id,
            record.execution_status,
            record.total_task_duration_ms,
        )
        assert sorted(list(row.tag_keys)) == sorted(record.query_tags)
    tagged = [row for row in found if row.run_tag == "run-7"]
    assert len(tagged) == 1 and tagged[0].session_tag == "s" and "flag" in list(tagged[0].tag_keys)


def _union_seconds(intervals: list[tuple[datetime, datetime]]) -> float:
    busy, reached = 0.0, None
    for start, end in sorted(intervals):
        start = max(start, reached) if reached else start
        busy += max(0.0, (end - start).total_seconds())
        reached = max(reached, end) if reached else end
    return busy


def test_attributed_cost_gives_each_statement_its_share_of_the_busy_warehouse_hour(ws, workload, cursor):
    at(ws, datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc))
    hour = datetime(2026, 3, 2, 9, 0)
    in_hour = [r for r in ws.query_history if r.start_time < START + timedelta(hours=1)]
    records = _rows(
        cursor,
        "SELECT record_id, usage_metadata.statement_id AS statement_id, usage_metadata.warehouse_id AS warehouse, "
        "usage_unit, usage_quantity FROM system.billing.attributed_cost WHERE usage_start_time < ?",
        datetime(2026, 3, 2, 10, 0),
    )
    assert sorted(r.statement_id for r in records) == sorted(r.statement_id for r in in_hour)
    assert all(r.record_id == "cpq_" + r.statement_id and r.warehouse == ws.warehouse_id for r in records)
    assert {r.usage_unit for r in records} == {"DBU"}
    billed = _rows(
        cursor,
        "SELECT sum(usage_quantity) FROM system.billing.usage "
        "WHERE usage_metadata.warehouse_id = ? AND usage_start_time = ?",
        ws.warehouse_id,
        hour,
    )[0][0]
    busy = _union_seconds([(r.start_time, r.end_time) for r in in_hour])
    running_seconds = 2 * ws.warehouse.auto_stop_mins * 60 + busy
    assert float(sum(r.usage_quantity for r in records)) == pytest.approx(
        float(billed) * busy / running_seconds, rel=1e-6
    )
    work = {
        r.statement_id: r.total_task_duration_ms + r.compilation_duration_ms + r.result_fetch_duration_ms
        for r in in_hour
    }
    heaviest = max(work, key=work.__getitem__)
    assert max(records, key=lambda r: r.usage_quantity).statement_id == heaviest


def test_attributed_cost_waits_for_its_delay_and_is_absent_without_the_beta(ws, workload, cursor):
    at(ws, datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc))
    columns = [row[0] for row in _rows(cursor, "DESCRIBE TABLE system.billing.attributed_cost")]
    assert columns[:3] == ["record_id", "usage_metadata", "identity_metadata"] and "usage_quantity" in columns
    count = "SELECT count(*) FROM system.billing.attributed_cost"
    assert _rows(cursor, count)[0][0] > 0
    try:
        ws.billing.attributed_cost_delay = timedelta(hours=1)
        assert _rows(cursor, count)[0][0] == 0
        ws.billing.attributed_cost_enabled = False
        with pytest.raises(Exception, match="TABLE_OR_VIEW_NOT_FOUND"):
            _rows(cursor, count)
    finally:
        ws.billing.attributed_cost_delay = timedelta(0)
        ws.billing.attributed_cost_enabled = True
    assert _rows(cursor, count)[0][0] > 0


def test_timelines_slice_runs_by_the_hour(ws, workload, cursor):
    at(ws, datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc))
    runs = _rows(
        cursor,
        "SELECT period_start_time, period_end_time, result_state, run_type, compute_ids "
        "FROM system.lakeflow.job_run_timeline WHERE run_id = ? ORDER BY period_start_time",
        str(workload["classic_run"]),
    )
    assert [r.result_state for r in runs] == [None, "SUCCEEDED"]
    assert runs[0].period_end_time == runs[1].period_start_time == datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    assert runs[0].run_type == "JOB_RUN"
    tasks = _rows(
        cursor,
        "SELECT task_key, job_run_id, result_state FROM system.lakeflow.job_task_run_timeline "
        "WHERE job_id = ? AND result_state IS NOT NULL",
        str(workload["serverless_job"]),
    )
    assert [tuple(r) for r in tasks] == [("score", str(workload["serverless_run"]), "SUCCEEDED")]
    updates = _rows(
        cursor,
        "SELECT update_id, result_state, compute.type AS kind FROM system.lakeflow.pipeline_update_timeline "
        "WHERE result_state IS NOT NULL ORDER BY kind",
    )
    assert [tuple(r) for r in updates] == [
        (workload["classic_update"], "COMPLETED", "CLASSIC"),
        (workload["serverless_update"], "COMPLETED", "SERVERLESS"),
    ]


def test_restatement_corrects_the_sum_over_record_types(ws, workload, cursor):
    at(ws, datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc))
    query = (
        "SELECT usage_metadata.job_run_id AS run, sum(usage_quantity) AS dbu, count(*) AS n "
        "FROM system.billing.usage WHERE usage_metadata.job_run_id = ? GROUP BY ALL"
    )
    run = str(workload["classic_run"])
    before = _rows(cursor, query, run)[0]
    target = next(row for row in ws.billing.usage() if row.usage_metadata.get("job_run_id") == run)
    retraction, restatement = ws.billing.restate(target.record_id, target.quantity + Decimal("1.5"))
    assert _rows(cursor, query, run)[0].dbu == before.dbu

    ws.clock.advance(ws.billing.correction_delay.total_seconds())
    after = _rows(cursor, query, run)[0]
    assert after.dbu == before.dbu + Decimal("1.5") and after.n == before.n + 2
    kinds = _rows(
        cursor,
        "SELECT record_id, record_type, usage_quantity, ingestion_date FROM system.billing.usage "
        "WHERE record_id IN (?, ?, ?) ORDER BY record_type",
        target.record_id,
        retraction,
        restatement,
    )
    assert [(r.record_type, r.usage_quantity) for r in kinds] == [
        ("ORIGINAL", target.quantity),
        ("RESTATEMENT", target.quantity + Decimal("1.5")),
        ("RETRACTION", -target.quantity),
    ]


def test_sea_protocol_and_statement_execution_read_the_same_tables(ws, workload):
    at(ws, datetime(2026, 3, 2, 18, 0, tzinfo=timezone.utc))
    ws.warehouse.max_num_clusters = 3
    query = (
        "SELECT billing_origin_product, round(sum(usage_quantity), 6) AS dbu FROM system.billing.usage "
        "GROUP BY ALL ORDER BY billing_origin_product"
    )
    with ws.sql_connect(use_sea=True) as conn, conn.cursor() as sea:
        over_sea = [tuple(row) for row in _rows(sea, query)]
        ws.clock.advance(60)
        ws.billing.scale_warehouse(ws.warehouse_id, 2)
        ws.clock.advance(1)
        events = _rows(
            sea,
            "SELECT event_type, cluster_count FROM system.compute.warehouse_events "
            "WHERE event_time >= TIMESTAMP'2026-03-02 18:00:00' ORDER BY event_time",
        )
    assert [tuple(e) for e in events] == [("STARTING", 1), ("RUNNING", 1), ("SCALED_UP", 2)]
    w = ws.workspace_client()
    response = w.statement_execution.execute_statement(
        warehouse_id=ws.warehouse_id, statement=query, wait_timeout="30s"
    )
    assert response.status.state == sql.StatementState.SUCCEEDED
    rows = [(product, Decimal(dbu)) for product, dbu in response.result.data_array]
    assert rows == [(product, Decimal(dbu)) for product, dbu in over_sea]
    columns = [c.name for c in response.manifest.schema.columns]
    assert columns == ["billing_origin_product", "dbu"]


def test_ordinary_statements_never_touch_the_system_tables(ws, workload, cursor):
    from databricks_emulator.system_tables import system_tables

    tables = system_tables(ws.workspace)
    _rows(cursor, "SELECT count(*) FROM system.billing.list_prices")
    reads, refreshes = tables.reads, tables.refreshes
    _rows(cursor, "SELECT count(*) FROM main.default.orders")
    assert tables.reads == reads

    _rows(cursor, "SELECT count(*) FROM system.billing.list_prices")
    assert (tables.reads, tables.refreshes) == (reads + 1, refreshes)
    ws.billing.set_price("PREMIUM_JOBS_COMPUTE", "0.16")
    assert _rows(cursor, "SELECT count(*) FROM system.billing.list_prices WHERE price_end_time IS NULL")[0][0] > 0
    assert tables.refreshes == refreshes + 1


def test_a_retraction_alone_withdraws_a_row(ws, workload, cursor):
    target = next(row for row in ws.billing.usage() if row.meter.billing_origin_product == "ALL_PURPOSE")
    retraction = ws.billing.retract(target.record_id)
    ws.clock.advance(ws.billing.correction_delay.total_seconds())
    found = _rows(
        cursor,
        "SELECT record_type, sum(usage_quantity) AS dbu FROM system.billing.usage "
        "WHERE record_id IN (?, ?) GROUP BY ALL ORDER BY record_type",
        target.record_id,
        retraction,
    )
    assert [tuple(row) for row in found] == [("ORIGINAL", target.quantity), ("RETRACTION", -target.quantity)]
