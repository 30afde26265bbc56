"""A small Databricks workload traced end to end: SQL on a warehouse, job runs (classic, serverless, a deployed
job) and a LakeFlow pipeline update, each under the Dagster job and asset that caused it.

Run it with one command (an emulated workspace is started inside; ``pip install -e '.[emulator]'``)::

    python examples/workload.py

It prints each Databricks span with its ids and estimate, then the estimated cost by compute type, Dagster asset
and SQL warehouse: the same cuts the Grafana dashboard (``dashboards/grafana/databricks-cost.json``) shows.

Options: ``--rounds N`` repeats the workload; ``--prometheus-port 9464`` serves the metrics for Prometheus on
``http://127.0.0.1:9464/metrics`` and keeps running a round every ``--interval`` seconds until Ctrl-C (point a
Prometheus and the dashboard at it; ``pip install opentelemetry-exporter-prometheus``); ``--otlp`` exports spans
and metrics with the OTLP exporters configured by ``OTEL_EXPORTER_OTLP_*`` (for example to the collector of
``deploy/docker-compose.yml``), also until Ctrl-C.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from databricks.sdk.service import compute, jobs, pipelines
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from databricks_emulator import Emulator
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor, orchestration_context

SERVICE_NAME = "databricks-workload"
CLUSTER = compute.ClusterSpec(
    spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=2, custom_tags={"team": "data-eng"}
)
TEAM = {"team": "analytics"}
"""A user tag: query tags on the statements, cluster tags on classic runs; the reconciler reads it with
OTEL_INSTRUMENTATION_DATABRICKS_BILLING_TAG_KEYS=team (billing spans: databricks.tag.team)."""


def run_sql(connect: Callable[[], Any]) -> None:
    with connect() as connection, connection.cursor() as cursor:
        with orchestration_context(job_name="daily_sales", asset_key="sales/orders"):
            cursor.execute(
                "CREATE OR REPLACE TABLE orders AS SELECT * FROM VALUES "
                "(1, 'eu', 12.5), (2, 'us', 40.0), (3, 'eu', 7.25) AS t(id, region, amount)",
                query_tags=TEAM,
            )
            cursor.execute(
                "SELECT region, sum(amount) FROM orders WHERE amount > :floor GROUP BY region",
                {"floor": 5},
                query_tags=TEAM,
            )
            cursor.fetchall()
        with orchestration_context(job_name="daily_sales", asset_key="sales/customers"):
            cursor.execute("SELECT count(*) FROM orders")
            cursor.fetchall()
            with contextlib.suppress(Exception):
                cursor.execute("SELECT * FROM sales_archive_that_does_not_exist")


def run_jobs(workspace: Any) -> None:
    with orchestration_context(job_name="daily_sales", asset_key="sales/orders_rollup"):
        task = jobs.SubmitTask(
            task_key="rollup", notebook_task=jobs.NotebookTask(notebook_path="/Repos/sales/rollup"), new_cluster=CLUSTER
        )
        workspace.jobs.submit(run_name="orders rollup", tasks=[task]).result()
    with orchestration_context(job_name="daily_sales", asset_key="sales/forecast"):
        task = jobs.SubmitTask(
            task_key="forecast",
            spark_python_task=jobs.SparkPythonTask(python_file="/Workspace/sales/forecast.py"),
            environment_key="default",
        )
        environment = jobs.JobEnvironment(environment_key="default", spec=compute.Environment(client="2"))
        workspace.jobs.submit(run_name="forecast", tasks=[task], environments=[environment]).result()


def deploy_job(workspace: Any) -> int:
    """What an asset bundle deploys: an ordinary job with its own cluster."""
    with orchestration_context(job_name="nightly_reports", asset_key="reports/daily"):
        created = workspace.jobs.create(
            name="[prod] daily report",
            tags={"bundle": "reports"},
            job_clusters=[jobs.JobCluster(job_cluster_key="main", new_cluster=CLUSTER)],
            tasks=[jobs.Task(task_key="report", job_cluster_key="main", notebook_task=jobs.NotebookTask("/report"))],
        )
    return created.job_id


def run_deployed_job(workspace: Any, job_id: int) -> None:
    with orchestration_context(job_name="nightly_reports", asset_key="reports/daily"):
        workspace.jobs.run_now(job_id=job_id).result()


def create_pipeline(workspace: Any) -> str:
    with orchestration_context(job_name="lakehouse_refresh", asset_key="bronze/events"):
        return workspace.pipelines.create(
            name="events dlt",
            edition="PRO",
            catalog="main",
            schema="bronze",
            clusters=[pipelines.PipelineCluster(label="default", node_type_id="i3.xlarge", num_workers=2)],
            libraries=[pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path="/dlt/events"))],
        ).pipeline_id


def run_pipeline(workspace: Any, pipeline_id: str, max_polls: int = 100) -> None:
    with orchestration_context(job_name="lakehouse_refresh", asset_key="bronze/events"):
        update_id = workspace.pipelines.start_update(pipeline_id).update_id
        states = pipelines.UpdateInfoState
        done = (states.COMPLETED, states.FAILED, states.CANCELED)
        for _ in range(max_polls):
            if workspace.pipelines.get_update(pipeline_id, update_id).update.state in done:
                return


class Workload:
    """The workload on one workspace: ``run_round()`` does its SQL, job runs and pipeline update once."""

    def __init__(self, workspace: Any, connect: Callable[[], Any]) -> None:
        self.workspace = workspace
        self.connect = connect
        self._job_id: int | None = None
        self._pipeline_id: str | None = None

    def run_round(self) -> None:
        if self._job_id is None:
            self._job_id = deploy_job(self.workspace)
            self._pipeline_id = create_pipeline(self.workspace)
        run_sql(self.connect)
        run_jobs(self.workspace)
        run_deployed_job(self.workspace, self._job_id)
        run_pipeline(self.workspace, self._pipeline_id)


@contextlib.contextmanager
def emulated_workspace() -> Iterator[Emulator]:
    """An embedded emulator whose runs finish on their first status poll (no waiting on simulated clusters)."""
    with Emulator() as ws:
        ws.auto_advance_on_poll = "settle"
        yield ws


TASK_RUN = "databricks.jobs.task_run"
SHOWN = (
    "databricks.statement_id",
    "databricks.job.run_id",
    "databricks.pipeline.update_id",
    "dagster.asset.key",
    "databricks.compute.type",
    "error.type",
)


def print_spans(spans: Sequence[ReadableSpan]) -> None:
    print(f"{'span':34} {'estimated $':>12}  ids and context")
    for span in spans:
        attributes = span.attributes or {}
        if span.name == TASK_RUN or "databricks.cost.estimated_usd" not in attributes:
            continue
        shown = "  ".join(f"{key}={attributes[key]}" for key in SHOWN if key in attributes)
        print(f"{span.name[:34]:34} {attributes['databricks.cost.estimated_usd']:12.6f}  {shown}")


def print_totals(spans: Sequence[ReadableSpan]) -> None:
    """Estimated dollars by compute type, Dagster asset and warehouse (task runs are inside their run's figure)."""
    cuts = {"compute type": "databricks.compute.type", "Dagster asset": "dagster.asset.key"}
    cuts["SQL warehouse"] = "databricks.warehouse.id"
    for title, key in cuts.items():
        totals: dict[str, float] = collections.defaultdict(float)
        for span in spans:
            attributes = span.attributes or {}
            if span.name != TASK_RUN and key in attributes and "databricks.cost.estimated_usd" in attributes:
                totals[str(attributes[key])] += float(attributes["databricks.cost.estimated_usd"])
        print(f"\nestimated cost by {title}:")
        for name, dollars in sorted(totals.items(), key=lambda item: -item[1]):
            print(f"  {name:40} ${dollars:10.6f}")


def _providers(options: argparse.Namespace) -> tuple[TracerProvider, MeterProvider, InMemorySpanExporter]:
    resource = Resource.create({"service.name": SERVICE_NAME})
    tracer_provider = TracerProvider(resource=resource)
    spans = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    readers: list[MetricReader] = []
    if options.prometheus_port is not None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        readers.append(PrometheusMetricReader())
        start_http_server(options.prometheus_port, addr="127.0.0.1")
    if options.otlp:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=5000))
    return tracer_provider, MeterProvider(metric_readers=readers, resource=resource), spans


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="how many times to run the workload (default 1)")
    parser.add_argument("--prometheus-port", type=int, help="serve metrics for Prometheus on this port, until Ctrl-C")
    parser.add_argument("--otlp", action="store_true", help="export over OTLP (OTEL_EXPORTER_OTLP_*), until Ctrl-C")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between rounds when serving")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    tracer_provider, meter_provider, spans = _providers(options)
    instrumentor = DatabricksInstrumentor()
    stop = threading.Event()
    with emulated_workspace() as ws:
        print(f"Emulated Databricks workspace at {ws.host}, SQL warehouse {ws.warehouse_id}\n")
        instrumentor.instrument(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            warehouse_sizes={ws.warehouse_id: "Medium"},
        )
        try:
            workload = Workload(ws.workspace_client(), ws.sql_connect)
            for _ in range(options.rounds):
                workload.run_round()
            tracer_provider.force_flush()  # pipeline update spans wait for their end event on a background thread
            print_spans(spans.get_finished_spans())
            print_totals(spans.get_finished_spans())
            print(
                "\nLook at: the run spans (databricks.jobs.run, databricks.pipelines.update) and statement spans carry"
                "\nthe estimate; their dagster.* attributes say which job and asset spent it. Billed cost comes later:"
                "\nsee examples/reconcile.py."
            )
            if options.prometheus_port is not None or options.otlp:
                if options.prometheus_port is not None:
                    print(f"\nMetrics for Prometheus: http://127.0.0.1:{options.prometheus_port}/metrics")
                print(f"A round every {options.interval:g} s; Ctrl-C to stop.")
                with contextlib.suppress(KeyboardInterrupt):
                    while not stop.wait(options.interval):
                        workload.run_round()
        finally:
            instrumentor.uninstrument()
            tracer_provider.shutdown()
            meter_provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
