"""Assets materialized in-process against the emulator: Dagster ids on spans and in Databricks tags with no user code,
the step's cost in the asset's metadata, partitions, failures, and runs in parallel threads."""

import threading

import dagster as dg
import pytest
from databricks.sdk.service import compute, jobs

from opentelemetry_instrumentation_databricks.dagster import InsightsDatabricksResource

from .conftest import history_of, spans_of_run


def _statement_spans(telemetry, run_id):
    return [span for span in spans_of_run(telemetry, run_id) if "databricks.statement_id" in span.attributes]


def _metadata(result, node):
    (materialization,) = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in materialization.metadata.items()}


def test_plain_connector_in_an_asset_gets_the_dagster_context_with_no_user_code(ws, instrument):
    telemetry = instrument()

    @dg.asset(key_prefix=["sales"])
    def orders() -> None:
        with ws.sql_connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    result = dg.materialize([orders])
    (span,) = _statement_spans(telemetry, result.run_id)
    assert span.attributes["dagster.job.name"] == result.dagster_run.job_name
    assert span.attributes["dagster.op.name"] == "sales__orders"
    assert span.attributes["dagster.asset.key"] == "sales/orders"
    assert "dagster.partition.key" not in span.attributes
    tags = history_of(ws, span.attributes["databricks.statement_id"]).query_tags
    assert tags["dagster_run_id"] == result.run_id
    assert tags["dagster_job_name"] == result.dagster_run.job_name
    assert tags["dagster_asset_key"] == "sales/orders"
    assert tags["dagster_op_name"] == "sales__orders"
    assert tags["otel_trace_id"] == f"{span.context.trace_id:032x}"


def test_sql_asset_metadata_sums_its_statements(ws, instrument, databricks):
    telemetry = instrument()

    @dg.asset
    def daily_orders(databricks: InsightsDatabricksResource) -> None:
        with databricks.get_sql_client() as connection, connection.cursor() as cursor:
            cursor.execute("CREATE OR REPLACE TABLE dagster_daily_orders AS SELECT 1 AS id, 9.5 AS amount")
            cursor.execute("INSERT INTO dagster_daily_orders VALUES (2, 3.0)")
        with databricks.get_sql_client() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT sum(amount) FROM dagster_daily_orders")
            assert cursor.fetchone()[0] == 12.5

    result = dg.materialize([daily_orders], resources={"databricks": databricks})
    spans = _statement_spans(telemetry, result.run_id)
    assert len(spans) == 3
    metadata = _metadata(result, "daily_orders")
    assert metadata["databricks/statements"] == 3
    assert metadata["databricks/job_runs"] == 0
    assert metadata["databricks/cost_status"] == "estimated"
    assert metadata["databricks/dbu_estimated"] == pytest.approx(
        sum(span.attributes["databricks.dbu.estimated"] for span in spans), abs=1e-8
    )
    assert metadata["databricks/cost_estimated_usd"] == pytest.approx(
        sum(span.attributes["databricks.cost.estimated_usd"] for span in spans), abs=1e-8
    )
    assert metadata["databricks/cost_estimated_usd"] > 0
    assert metadata["databricks/statement_ids"] == [span.attributes["databricks.statement_id"] for span in spans]
    assert set(metadata["databricks/trace_ids"]) == {f"{span.context.trace_id:032x}" for span in spans}


def test_job_asset_tags_the_run_and_its_cluster_and_reports_the_run_cost(ws, instrument, databricks):
    telemetry = instrument()

    @dg.asset
    def orders_rollup(databricks: InsightsDatabricksResource) -> None:
        with databricks.get_workspace_client() as workspace:
            cluster = compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=2)
            task = jobs.SubmitTask(
                task_key="rollup", notebook_task=jobs.NotebookTask(notebook_path="/Repos/rollup"), new_cluster=cluster
            )
            run = workspace.jobs.submit(tasks=[task]).result()
            assert run.state.result_state == jobs.RunResultState.SUCCESS

    result = dg.materialize([orders_rollup], resources={"databricks": databricks})
    (run_span,) = spans_of_run(telemetry, result.run_id, "databricks.jobs.run")
    assert run_span.attributes["dagster.asset.key"] == "orders_rollup"
    run_id = run_span.attributes["databricks.job.run_id"]
    (record,) = [run for run in ws.job_runs if str(run.run_id) == run_id]
    tags = record.tasks[0].custom_tags
    assert tags["dagster_run_id"] == result.run_id
    assert tags["dagster_job_name"] == result.dagster_run.job_name
    assert tags["dagster_asset_key"] == "orders_rollup"
    assert tags["otel_trace_id"] == f"{run_span.context.trace_id:032x}"
    assert f"dagster_job_name={result.dagster_run.job_name}" in record.run_name
    metadata = _metadata(result, "orders_rollup")
    assert metadata["databricks/job_runs"] == 1
    assert metadata["databricks/job_run_ids"] == [run_id]
    assert metadata["databricks/dbu_estimated"] == pytest.approx(run_span.attributes["databricks.dbu.estimated"])
    assert metadata["databricks/dbu_estimated"] > 0


def test_partitioned_asset_carries_its_partition_key(ws, instrument, databricks):
    telemetry = instrument()

    @dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-11-01"))
    def daily_sales(context: dg.AssetExecutionContext, databricks: InsightsDatabricksResource) -> None:
        with databricks.get_sql_client() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT :day AS day", {"day": context.partition_key})

    result = dg.materialize([daily_sales], resources={"databricks": databricks}, partition_key="2026-11-20")
    (span,) = _statement_spans(telemetry, result.run_id)
    assert span.attributes["dagster.partition.key"] == "2026-11-20"
    assert (
        history_of(ws, span.attributes["databricks.statement_id"]).query_tags["dagster_partition_key"] == "2026-11-20"
    )
    (materialization,) = result.asset_materializations_for_node("daily_sales")
    assert materialization.partition == "2026-11-20"
    assert materialization.metadata["databricks/statements"].value == 1


def test_failing_asset_still_reports_what_it_spent(ws, instrument, databricks):
    telemetry = instrument()

    @dg.asset
    def broken(databricks: InsightsDatabricksResource) -> None:
        with databricks.get_sql_client() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute("SELECT * FROM dagster_table_that_does_not_exist")

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([broken], resources={"databricks": databricks}, instance=instance, raise_on_error=False)
    assert not result.success
    assert result.asset_materializations_for_node("broken") == []
    (event,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION)
    observation = event.asset_observation
    metadata = {key: value.value for key, value in observation.metadata.items()}
    spans = [span for span in spans_of_run(telemetry, result.run_id) if span.name.startswith("SELECT")]
    assert len(spans) == 2
    assert metadata["databricks/statements"] == 2
    assert metadata["databricks/failed"] == 1
    assert metadata["databricks/dbu_estimated"] == pytest.approx(
        sum(span.attributes["databricks.dbu.estimated"] for span in spans), abs=1e-8
    )
    assert observation.asset_key == dg.AssetKey("broken")


def test_two_runs_in_parallel_threads_keep_their_own_context_and_cost(ws, instrument, databricks):
    telemetry = instrument()
    both_running = threading.Barrier(2, timeout=30)
    statements = {"left": 2, "right": 3}

    def sql_asset(name):
        @dg.asset(name=name)
        def _asset(databricks: InsightsDatabricksResource) -> None:
            with databricks.get_sql_client() as connection, connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                both_running.wait()
                for _ in range(statements[name] - 1):
                    cursor.execute("SELECT 2")
                both_running.wait()

        return _asset

    results = {}

    def materialize(name):
        results[name] = dg.materialize([sql_asset(name)], resources={"databricks": databricks})

    threads = [threading.Thread(target=materialize, args=(name,)) for name in statements]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(results) == {"left", "right"}
    for name, result in results.items():
        spans = _statement_spans(telemetry, result.run_id)
        assert len(spans) == statements[name]
        assert {span.attributes["dagster.asset.key"] for span in spans} == {name}
        for span in spans:
            assert history_of(ws, span.attributes["databricks.statement_id"]).query_tags["dagster_run_id"] == (
                result.run_id
            )
        assert _metadata(result, name)["databricks/statements"] == statements[name]


def test_op_job_names_the_op_and_puts_the_cost_on_its_output(ws, instrument, databricks):
    telemetry = instrument()

    @dg.op
    def load(databricks: InsightsDatabricksResource) -> int:
        with databricks.get_sql_client() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 41 + 1")
            return cursor.fetchone()[0]

    @dg.graph
    def staging():
        return load()

    @dg.job(resource_defs={"databricks": databricks})
    def nightly():
        staging()

    result = nightly.execute_in_process()
    (span,) = _statement_spans(telemetry, result.run_id)
    assert span.attributes["dagster.job.name"] == "nightly"
    assert span.attributes["dagster.op.name"] == "staging.load"
    assert "dagster.asset.key" not in span.attributes
    (output,) = [event for event in result.all_events if event.event_type_value == "STEP_OUTPUT"]
    assert output.step_output_data.metadata["databricks/statements"].value == 1


def test_resource_starts_the_instrumentation_when_nobody_did(ws, databricks, uninstrument_afterwards):
    @dg.asset
    def standalone(databricks: InsightsDatabricksResource) -> None:
        with databricks.get_sql_client() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    result = dg.materialize([standalone], resources={"databricks": databricks})
    metadata = _metadata(result, "standalone")
    assert metadata["databricks/statements"] == 1
    assert metadata["databricks/dbu_estimated"] > 0
    (statement_id,) = metadata["databricks/statement_ids"]
    assert history_of(ws, statement_id).query_tags["dagster_run_id"] == result.run_id
