"""Dagster example: two assets whose Databricks work is traced, tagged and priced, with each asset's cost in its
Dagster metadata.

- ``daily_orders`` builds a table on a SQL warehouse through ``get_sql_client()``;
- ``orders_rollup`` runs a one-time job on a new cluster through ``get_workspace_client()`` (``jobs.submit``).

Run both once, in-process, and print the spans and the metadata (an emulated workspace is started inside)::

    pip install -e '.[dagster,emulator]'
    python examples/dagster_definitions.py

In the Dagster UI (also on an emulated workspace started inside the run's process)::

    pip install dagster-webserver
    dagster dev -f examples/dagster_definitions.py

Materialize both assets, then open each asset's latest materialization: ``databricks/dbu_estimated``,
``databricks/cost_estimated_usd``, ``databricks/statements``, ``databricks/job_runs`` and the Databricks ids
(``databricks/statement_ids``, ``databricks/job_run_ids``, ``databricks/trace_ids``); the asset's Plots tab charts
the cost across materializations. To export the spans as well, start the UI under the OpenTelemetry launcher:
``opentelemetry-instrument --traces_exporter console dagster dev -f examples/dagster_definitions.py``.

Against a workspace of your own, or a standalone emulator
(``python -m databricks_emulator --port 8765`` prints the values), set
``DATABRICKS_HOST``, ``DATABRICKS_TOKEN`` and ``DATABRICKS_HTTP_PATH`` first. A standalone emulator runs job
clusters on the wall clock, so ``orders_rollup`` then waits as long as on Databricks (about six minutes); the
embedded one settles each run on its first poll.
"""

import os
from collections.abc import Sequence

import dagster as dg
from databricks.sdk.service import compute, jobs
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from opentelemetry_instrumentation_databricks import DatabricksInstrumentor
from opentelemetry_instrumentation_databricks.dagster import InsightsDatabricksResource


@dg.asset(group_name="sales")
def daily_orders(databricks: InsightsDatabricksResource) -> dg.MaterializeResult:
    with databricks.get_sql_client() as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE TABLE daily_orders AS "
            "SELECT * FROM VALUES (1, 'eu', 12.5), (2, 'us', 40.0), (3, 'eu', 7.25) AS t(id, region, amount)"
        )
        cursor.execute("SELECT count(*) FROM daily_orders")
        (rows,) = cursor.fetchone()
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(group_name="sales", deps=[daily_orders])
def orders_rollup(databricks: InsightsDatabricksResource) -> None:
    cluster = compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=2)
    task = jobs.SubmitTask(
        task_key="rollup", notebook_task=jobs.NotebookTask(notebook_path="/Repos/sales/rollup"), new_cluster=cluster
    )
    with databricks.get_workspace_client() as workspace:
        run = workspace.jobs.submit(run_name="orders rollup", tasks=[task]).result()
    if run.state.result_state != jobs.RunResultState.SUCCESS:
        raise dg.Failure(f"Databricks run {run.run_id} ended {run.state.result_state}")


ASSETS = [daily_orders, orders_rollup]


def databricks_resource() -> InsightsDatabricksResource:
    """The workspace of ``DATABRICKS_HOST``/``DATABRICKS_TOKEN``/``DATABRICKS_HTTP_PATH``, else an embedded emulator."""
    if os.environ.get("DATABRICKS_HOST"):
        return InsightsDatabricksResource(
            workspace_url=dg.EnvVar("DATABRICKS_HOST"),
            access_token=dg.EnvVar("DATABRICKS_TOKEN"),
            http_path=dg.EnvVar("DATABRICKS_HTTP_PATH"),
        )
    from databricks_emulator import Emulator

    workspace = Emulator().start()
    workspace.auto_advance_on_poll = "settle"
    return InsightsDatabricksResource(
        workspace_url=workspace.host, access_token=workspace.token, warehouse_id=workspace.warehouse_id
    )


defs = dg.Definitions(assets=ASSETS, resources={"databricks": databricks_resource()}, executor=dg.in_process_executor)


class PrintingExporter(SpanExporter):
    """Prints each Databricks span with its Dagster context, ids and estimate."""

    KEYS = (
        "dagster.asset.key",
        "dagster.run.id",
        "databricks.statement_id",
        "databricks.job.run_id",
        "databricks.dbu.estimated",
        "databricks.cost.estimated_usd",
    )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            attributes = span.attributes or {}
            shown = ", ".join(f"{key}={attributes[key]}" for key in self.KEYS if key in attributes)
            print(f"span {span.name}: {shown}")
        return SpanExportResult.SUCCESS


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(PrintingExporter()))
    DatabricksInstrumentor().instrument(tracer_provider=provider)
    result = dg.materialize(ASSETS, resources=defs.resources)
    for asset in ASSETS:
        (materialization,) = result.asset_materializations_for_node(asset.op.name)
        print(f"\nmetadata of {asset.key.to_user_string()}:")
        for key, value in materialization.metadata.items():
            print(f"  {key:32} {value.value}")


if __name__ == "__main__":
    main()
