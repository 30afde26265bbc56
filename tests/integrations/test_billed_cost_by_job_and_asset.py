"""Issue #11 "done means": billed cost per Dagster job and per asset agrees in every place a user reads it.

Two Dagster jobs (``sales_daily`` materializes ``sales/orders`` and ``bronze/events``, ``events_hourly`` only
``bronze/events``) run in-process with :class:`InsightsDatabricksResource` against the emulator: SQL statements
through the real connector and the SDK's Statement Execution API, a classic, a serverless and a deployed job run and
a pipeline update through the real SDK, with the span-time id record. The deployed job and the pipeline were created
under another Dagster job, so their billing's ``custom_tags`` name the wrong job; the serverless runs' billing names
none. The work carries a ``team`` tag the usual ways: query tags, cluster custom tags, a serverless usage policy and
the SQL warehouse's own tags (which its idle time and its untagged statements inherit). Two simulated days later
``databricks-otel-reconcile run`` (a child process) exports its billing spans over OTLP to a receiver and its billed
metrics over OTLP to a relay that a real Prometheus scrapes; ``report --records --json`` reads the same bill
straight from the system tables. Per job, per asset and per team, the billing spans, the Prometheus series, the
report rows and (per asset) the AssetObservations of ``billing_definitions`` are the same dollars, and in each view
the attributed values plus the unattributed share are the whole of ``system.billing.usage``, priced (read through
the connector). Then Databricks restates one serverless run, a second ``run`` emits the correction, and all of it
holds again.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from databricks.sdk.service import compute, jobs, pipelines
from databricks.sdk.service import sql as warehouses
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from databricks_emulator import Emulator
from databricks_emulator.clock import Clock
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor, orchestration_context
from opentelemetry_instrumentation_databricks.dagster import InsightsDatabricksResource
from opentelemetry_instrumentation_databricks.dagster.billing import JOB_NAME as BILLING_JOB
from opentelemetry_instrumentation_databricks.dagster.billing import billing_definitions
from opentelemetry_instrumentation_databricks.reconcile import Reconciler, SpanIdRecorder, SqlBillingSource, StateStore

from ..otlp_receiver import OtlpReceiver
from .otlp_prometheus_relay import OtlpPrometheusRelay
from .prometheus_server import BINARY, PrometheusServer
from .reconcile_cli import run_reconcile

DAY = 86400
BILLED = "databricks_cost_billed_total"
CENT = 0.005
AGREE = 1e-6
"""How far two views of one figure may differ, in dollars: far inside the cent (the emulator's bill is small)."""
TEAM_TAGS = {"OTEL_INSTRUMENTATION_DATABRICKS_BILLING_TAG_KEYS": "team"}
VIEWS = {
    "dagster_job_name": ("dagster_job_name", "dagster.job.name"),
    "dagster_asset_key": ("dagster_asset_key", "dagster.asset.key"),
    "team": ("databricks_tag_team", "databricks.tag.team"),
}
"""``report --by`` -> (its Prometheus label, its billing span attribute)."""
PARTIAL = "dagster observations"
"""The view that covers assets only: no unattributed share, no job or team."""
BILLED_USAGE_SQL = """SELECT SUM(CAST(u.usage_quantity AS DOUBLE) * CAST(p.pricing.effective_list.default AS DOUBLE))
FROM system.billing.usage AS u
JOIN system.billing.list_prices AS p
  ON p.sku_name = u.sku_name AND p.cloud = u.cloud AND p.usage_unit = u.usage_unit AND p.currency_code = 'USD'
  AND u.usage_end_time > p.price_start_time AND (p.price_end_time IS NULL OR u.usage_end_time <= p.price_end_time)"""


def cluster(team: str) -> compute.ClusterSpec:
    return compute.ClusterSpec(
        spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=2, custom_tags={"team": team}
    )


pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.subprocess,
    pytest.mark.skipif(BINARY is None, reason="no prometheus binary on PATH (Debian: apt-get install prometheus)"),
]

Figures = dict[str | None, float]
"""Billed dollars by value of a dimension; ``None`` is the unattributed share (no value)."""


class Deployed(dg.ConfigurableResource):
    """What was set up before these Dagster jobs ran: a job with its own cluster, a LakeFlow pipeline and a
    serverless usage policy (all tagged with a team)."""

    job_id: int
    pipeline_id: str
    usage_policy_id: str


@dg.asset(key_prefix=["sales"])
def orders(databricks: InsightsDatabricksResource, deployed: Deployed) -> None:
    with databricks.get_sql_client() as connection, connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE TABLE e2e_orders AS SELECT * FROM VALUES "
            "(1, 'eu', 12.5), (2, 'us', 40.0), (3, 'eu', 7.25) AS t(id, region, amount)"
        )
        cursor.execute("SELECT region, sum(amount) FROM e2e_orders GROUP BY region", query_tags={"team": "sales"})
        cursor.fetchall()
    with databricks.get_workspace_client() as workspace:
        task = jobs.SubmitTask(
            task_key="rollup",
            notebook_task=jobs.NotebookTask(notebook_path="/Repos/sales/rollup"),
            new_cluster=cluster("sales"),
        )
        workspace.jobs.submit(run_name="orders rollup", tasks=[task]).result()
        workspace.jobs.run_now(job_id=deployed.job_id).result()


@dg.asset(key_prefix=["bronze"], deps=[orders])
def events(databricks: InsightsDatabricksResource, deployed: Deployed) -> None:
    with databricks.get_workspace_client() as workspace:
        task = jobs.SubmitTask(
            task_key="enrich",
            spark_python_task=jobs.SparkPythonTask(python_file="/Workspace/bronze/enrich.py"),
            environment_key="default",
        )
        environment = jobs.JobEnvironment(environment_key="default", spec=compute.Environment(client="2"))
        workspace.jobs.submit(
            run_name="enrich events",
            tasks=[task],
            environments=[environment],
            budget_policy_id=deployed.usage_policy_id,
        ).result()
        update_id = workspace.pipelines.start_update(deployed.pipeline_id).update_id
        done = (pipelines.UpdateInfoState.COMPLETED, pipelines.UpdateInfoState.FAILED)
        for _ in range(100):
            if workspace.pipelines.get_update(deployed.pipeline_id, update_id).update.state in done:
                break
        workspace.statement_execution.execute_statement(
            statement="SELECT count(*) FROM e2e_orders", warehouse_id=databricks.warehouse_id, wait_timeout="30s"
        )


sales_daily = dg.define_asset_job("sales_daily", selection=[orders, events])
events_hourly = dg.define_asset_job("events_hourly", selection=[events])


def deploy(ws: Emulator) -> Deployed:
    """Deployed by another Dagster job: the job's and pipeline's tags (hence their billing's ``custom_tags``) name
    that job and asset, not the ones whose runs and updates they bill."""
    workspace = ws.workspace_client()
    with orchestration_context(job_name="deploy_bundles", asset_key="deploy/bundle"):
        job = workspace.jobs.create(
            name="[prod] orders report",
            job_clusters=[jobs.JobCluster(job_cluster_key="main", new_cluster=cluster("reports"))],
            tasks=[jobs.Task(task_key="report", job_cluster_key="main", notebook_task=jobs.NotebookTask("/report"))],
        )
        pipeline = workspace.pipelines.create(
            name="events dlt",
            edition="PRO",
            catalog="main",
            schema="bronze",
            clusters=[
                pipelines.PipelineCluster(
                    label="default", node_type_id="i3.xlarge", num_workers=2, custom_tags={"team": "ingest"}
                )
            ],
            libraries=[pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path="/dlt/events"))],
        )
    workspace.warehouses.edit(
        id=ws.warehouse_id,
        tags=warehouses.EndpointTags(custom_tags=[warehouses.EndpointTagPair(key="team", value="platform")]),
    )
    policy = ws.billing.add_usage_policy({"team": "ingest"})
    return Deployed(job_id=job.job_id, pipeline_id=pipeline.pipeline_id, usage_policy_id=policy)


def run_dagster_jobs(ws: Emulator, deployed: Deployed, instance: dg.DagsterInstance) -> None:
    databricks = InsightsDatabricksResource(workspace_url=ws.host, access_token=ws.token, warehouse_id=ws.warehouse_id)
    definitions = dg.Definitions(
        assets=[orders, events],
        jobs=[sales_daily, events_hourly],
        resources={"databricks": databricks, "deployed": deployed},
    )
    for name in ("sales_daily", "events_hourly"):
        assert definitions.resolve_job_def(name).execute_in_process(instance=instance).success


def summed(pairs: Iterable[tuple[Any, float]]) -> Figures:
    totals: Figures = collections.defaultdict(float)
    for value, usd in pairs:
        totals[None if value in (None, "") else str(value)] += usd
    return dict(totals)


def billing_spans(receiver: OtlpReceiver) -> list[dict[str, Any]]:
    return [span.attributes for span in receiver.spans() if span.name == "databricks.billing"]


def from_billing_spans(receiver: OtlpReceiver, attribute: str) -> Figures:
    billing = billing_spans(receiver)
    return summed((attributes.get(attribute), attributes["databricks.cost.billed_usd"]) for attributes in billing)


def from_prometheus(server: PrometheusServer, label: str, total: float) -> Figures:
    """``sum by (label)`` of the billed counter, once Prometheus has scraped the whole ``total``."""
    server.wait_for(
        f"sum({BILLED})",
        timeout=30,
        accept=lambda found: bool(found) and abs(float(found[0]["value"][1]) - total) < AGREE,
    )
    result = server.query(f"sum by ({label}) ({BILLED})")
    return summed((entry["metric"].get(label), float(entry["value"][1])) for entry in result)


def from_report(ws: Emulator, receiver: OtlpReceiver, by: str, records: Path) -> Figures:
    done = run_reconcile(
        ws, receiver.endpoint, "report", "--by", by, "--since", "7d", "--records", str(records), "--json"
    )
    assert done.returncode == 0, done.stderr
    return summed((row["value"], row["usd"]) for row in json.loads(done.stdout)["rows"])


class DagsterObservations:
    """(c) of the issue: billed cost per asset from the ``databricks/cost_billed_usd`` AssetObservations of
    :func:`billing_definitions` (#11 item 4), whose job runs in-process on the instance the two Dagster jobs ran on,
    over the CLI's state store (so it reconciles nothing new and observes what the CLI committed). Observations are
    restated totals per asset partition: the latest one of each is its bill. They are per asset (and partition),
    never per Dagster job, and the unattributed share is no asset's: :meth:`by` is ``None`` for
    ``dagster_job_name`` and has no ``None`` row.
    """

    def __init__(self, ws: Emulator, instance: dg.DagsterInstance, tmp_path: Path) -> None:
        self.ws, self.instance, self.tmp_path = ws, instance, tmp_path
        self.latest: dict[tuple[str, str | None], float] = {}
        self.restated: list[str] = []

    def observe(self) -> None:
        definitions = billing_definitions(reconciler=self._reconciler)
        result = definitions.resolve_job_def(BILLING_JOB).execute_in_process(instance=self.instance)
        assert result.success
        for observation in result.asset_observations_for_node(f"{BILLING_JOB}_op"):
            asset = observation.asset_key.to_user_string()
            self.latest[(asset, observation.partition)] = observation.metadata["databricks/cost_billed_usd"].value
            if observation.metadata["databricks/restated"].value:
                self.restated.append(asset)

    def by(self, by: str) -> Figures | None:
        if by != "dagster_asset_key":
            return None
        return summed((asset, usd) for (asset, _), usd in self.latest.items())

    def _reconciler(self) -> Reconciler:
        source = SqlBillingSource(self.ws.sql_connect, clock=self.ws.clock.time, tag_keys=("team",))
        state = StateStore(self.tmp_path / "state.sqlite")
        return Reconciler(source, InMemorySpanExporter(), state, records_directory=self.tmp_path / "records")


def billed_usage_usd(ws: Emulator) -> float:
    with ws.sql_connect() as connection, connection.cursor() as cursor:
        cursor.execute(BILLED_USAGE_SQL)
        (total,) = cursor.fetchone()
    return float(total)


def assert_views_agree(by: str, views: Mapping[str, Figures | None], truth: float) -> None:
    """Every value of ``by`` has the same dollars in every view, and each view but :data:`PARTIAL` sums to
    ``truth``."""
    named = {name: figures for name, figures in views.items() if figures is not None}
    values = set().union(*(figures for figures in named.values()))
    for value in values:
        found = {name: figures.get(value, 0.0) for name, figures in named.items() if value or name != PARTIAL}
        assert max(found.values()) - min(found.values()) < AGREE, f"{by}={value}: {found}"
    for name, figures in named.items():
        if name != PARTIAL:
            assert sum(figures.values()) == pytest.approx(truth, abs=AGREE), f"{by}: {name} sums to {figures}"


def reconcile(ws: Emulator, relay: OtlpPrometheusRelay, receiver: OtlpReceiver, tmp_path: Path) -> float:
    """One ``databricks-otel-reconcile run`` (metrics to the relay, spans to the receiver); the dollars it emitted."""
    done = run_reconcile(
        ws,
        relay.endpoint,
        "run",
        *("--state", str(tmp_path / "state.sqlite"), "--records", str(tmp_path / "records"), "--json"),
        metrics=True,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{receiver.endpoint}/v1/traces",
        **TEAM_TAGS,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    return summary["attributed_usd"] + summary["unattributed_usd"]


def every_view(
    ws: Emulator,
    receiver: OtlpReceiver,
    server: PrometheusServer,
    tmp_path: Path,
    total: float,
    observations: DagsterObservations,
) -> dict[str, dict[str, Figures | None]]:
    """By job, asset and team: the dollars of the billing spans, Prometheus, the report and Dagster's observations."""
    observations.observe()
    return {
        by: {
            "billing spans": from_billing_spans(receiver, attribute),
            "prometheus": from_prometheus(server, label, total),
            "report": from_report(ws, receiver, by, tmp_path / "records"),
            "dagster observations": observations.by(by),
        }
        for by, (label, attribute) in VIEWS.items()
    }


def restate_run(ws: Emulator, run_id: str) -> None:
    """Databricks corrects a run's bill: each of its usage rows is retracted and restated at twice the quantity."""
    for row in ws.billing.usage():
        if row.usage_metadata.get("job_run_id") == run_id:
            ws.billing.restate(row.record_id, quantity=row.quantity * 2)


def test_billed_cost_by_job_asset_and_team_agrees_in_spans_prometheus_report_and_dagster_and_sums_to_the_bill(tmp_path):
    provider = TracerProvider()
    recorder = SpanIdRecorder(tmp_path / "records", tag_keys=("team",))
    provider.add_span_processor(recorder)
    instrumentor = DatabricksInstrumentor()
    instance = dg.DagsterInstance.ephemeral()
    with (
        Emulator(clock=Clock(time.time() - 5 * DAY)) as ws,
        OtlpReceiver() as receiver,
        OtlpPrometheusRelay() as relay,
    ):
        ws.auto_advance_on_poll = "settle"
        observations = DagsterObservations(ws, instance, tmp_path)
        server = PrometheusServer(tmp_path, [relay.target], honor_labels=True)
        try:
            instrumentor.instrument(tracer_provider=provider)
            try:
                run_dagster_jobs(ws, deploy(ws), instance)
            finally:
                instrumentor.uninstrument()
                recorder.shutdown()
            ws.clock.advance(2 * DAY)
            first_total = reconcile(ws, relay, receiver, tmp_path)
            server.wait_ready()
            first = every_view(ws, receiver, server, tmp_path, first_total, observations)
            first_truth = billed_usage_usd(ws)
            first_spans = billing_spans(receiver)
            ((restated, restated_usd),) = [
                (span["databricks.billing.unit.id"], span["databricks.cost.billed_usd"])
                for span in first_spans
                if span.get("dagster.job.name") == "events_hourly"
                and span["databricks.compute.type"] == "jobs_serverless"
            ]
            restate_run(ws, restated)
            ws.clock.advance(DAY)
            total = first_total + reconcile(ws, relay, receiver, tmp_path)
            second = every_view(ws, receiver, server, tmp_path, total, observations)
            truth = billed_usage_usd(ws)
            corrections = [span for span in billing_spans(receiver) if span["databricks.billing.delta"]]
        finally:
            server.stop()
    attributed = [span for span in first_spans if span["databricks.cost.attribution"] == "attributed"]
    assert {"sql_warehouse", "jobs_classic", "jobs_serverless", "dlt"} <= {
        span["databricks.compute.type"] for span in attributed
    }
    by_job, by_asset = first["dagster_job_name"]["billing spans"], first["dagster_asset_key"]["billing spans"]
    assert set(by_job) == {"sales_daily", "events_hourly", None}
    assert set(by_asset) == {"sales/orders", "bronze/events", None}
    assert set(first["team"]["billing spans"]) == {"sales", "reports", "ingest", "platform"}, "idle: the warehouse's"
    assert all(usd > CENT for usd in (*by_job.values(), *by_asset.values())), "every figure is worth a cent or more"
    assert first_total == pytest.approx(first_truth, abs=AGREE)
    assert set(first["dagster_asset_key"]["dagster observations"]) == {"sales/orders", "bronze/events"}
    for by, figures in first.items():
        assert_views_agree(by, figures, first_truth)
    assert [span["databricks.billing.unit.id"] for span in corrections] == [restated]
    assert observations.restated == ["bronze/events"], "the restated total of the asset that ran the run"
    assert truth > first_truth and total == pytest.approx(truth, abs=AGREE)
    grown = second["dagster_job_name"]["billing spans"]["events_hourly"] - by_job["events_hourly"]
    assert grown == pytest.approx(restated_usd, abs=AGREE), "the correction stays with the job that ran the run"
    for by, figures in second.items():
        assert_views_agree(by, figures, truth)
