"""Billed cost on Dagster's asset pages: the billing job of ``billing_definitions`` runs the reconciler against the
emulator (real connector and SDK, spans recorded at span time, billing spans through the real OTLP exporter) in a
real (ephemeral) Dagster instance, and observes billed cost per asset and partition as restated totals: agreeing to
the cent with the billing spans, nothing on a rerun, one new total on a restatement."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
import pytest
from databricks.sdk.service import compute, jobs, pipelines
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from databricks_emulator import Emulator
from opentelemetry_instrumentation_databricks.dagster.billing import JOB_NAME, billing_definitions
from opentelemetry_instrumentation_databricks.reconcile import Reconciler, SpanIdRecorder, SqlBillingSource, StateStore

from ..otlp_receiver import OtlpReceiver

DAY = 86400
CLUSTER = compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=1)
OP = f"{JOB_NAME}_op"
DONE = (pipelines.UpdateInfoState.COMPLETED, pipelines.UpdateInfoState.FAILED, pipelines.UpdateInfoState.CANCELED)
PRICED_USAGE = """
SELECT SUM(u.usage_quantity * p.pricing.effective_list.default)
FROM system.billing.usage AS u
JOIN system.billing.list_prices AS p
  ON p.sku_name = u.sku_name AND p.cloud = u.cloud AND p.usage_unit = u.usage_unit
  AND u.usage_end_time > p.price_start_time
  AND (p.price_end_time IS NULL OR u.usage_end_time <= p.price_end_time)
"""


def observed(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str | None], dict]:
    return {
        (observation.asset_key.to_user_string(), observation.partition): {
            key: value.value for key, value in observation.metadata.items()
        }
        for observation in result.asset_observations_for_node(OP)
    }


def billed_by_asset(spans) -> dict[tuple[str, str | None], float]:
    totals: dict[tuple[str, str | None], float] = {}
    for span in spans:
        asset = span.attributes.get("dagster.asset.key")
        if span.name == "databricks.billing" and asset:
            key = (asset, span.attributes.get("dagster.partition.key"))
            totals[key] = totals.get(key, 0.0) + span.attributes["databricks.cost.billed_usd"]
    return totals


def run_pipeline(w) -> None:
    pipeline_id = w.pipelines.create(
        name="events",
        serverless=True,
        catalog="main",
        schema="bronze",
        libraries=[pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path="/dlt/events"))],
    ).pipeline_id
    update_id = w.pipelines.start_update(pipeline_id).update_id
    for _ in range(100):
        if w.pipelines.get_update(pipeline_id, update_id).update.state in DONE:
            return


@dataclass
class World:
    ws: Emulator
    receiver: OtlpReceiver
    instance: dg.DagsterInstance
    job: dg.JobDefinition
    defs: dg.Definitions
    reader: InMemoryMetricReader

    def __iter__(self):
        return iter((self.ws, self.receiver, self.instance, self.job, self.defs))


@pytest.fixture
def world(instrument, tmp_path):
    with Emulator() as ws, OtlpReceiver("http/protobuf") as receiver:
        ws.auto_advance_on_poll = "settle"
        telemetry = instrument()
        recorder = SpanIdRecorder(tmp_path / "records")
        telemetry.tracer_provider.add_span_processor(recorder)
        w = ws.workspace_client()

        @dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-11-01"))
        def sales() -> None:
            with ws.sql_connect() as connection, connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM range(100)")
                cursor.fetchall()
            task = jobs.SubmitTask(task_key="etl", notebook_task=jobs.NotebookTask("/etl"), new_cluster=CLUSTER)
            w.jobs.submit(run_name="etl", tasks=[task]).result()

        @dg.asset
        def scores() -> None:
            task = jobs.SubmitTask(
                task_key="score", spark_python_task=jobs.SparkPythonTask(python_file="/s.py"), environment_key="e"
            )
            environment = jobs.JobEnvironment(environment_key="e", spec=compute.Environment(client="2"))
            w.jobs.submit(run_name="score", tasks=[task], environments=[environment]).result()
            run_pipeline(w)

        assets = dg.Definitions(
            assets=[sales, scores],
            jobs=[
                dg.define_asset_job("sales_job", selection=[sales]),
                dg.define_asset_job("scoring_job", selection=[scores]),
            ],
        )
        instance = dg.DagsterInstance.ephemeral()
        for partition in ("2026-11-20", "2026-11-21"):
            sales_job = assets.resolve_job_def("sales_job")
            assert sales_job.execute_in_process(instance=instance, partition_key=partition).success
        assert assets.resolve_job_def("scoring_job").execute_in_process(instance=instance).success
        telemetry.tracer_provider.force_flush()  # pipeline update spans arrive once their end is read
        recorder.shutdown()
        ws.clock.advance(2 * DAY)
        reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[reader])

        def reconciler() -> Reconciler:
            source = SqlBillingSource(ws.sql_connect, clock=ws.clock.time)
            exporter = OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")
            state = StateStore(tmp_path / "state.sqlite")
            return Reconciler(
                source, exporter, state, records_directory=tmp_path / "records", meter_provider=meter_provider
            )

        defs = billing_definitions(reconciler=reconciler)
        yield World(ws, receiver, instance, defs.resolve_job_def(JOB_NAME), defs, reader)


def test_the_billing_job_observes_each_asset_partition_to_the_cent_of_its_billing_spans(world):
    _, receiver, instance, job, _ = world
    result = job.execute_in_process(instance=instance)
    assert result.success
    observations = observed(result)
    billed = billed_by_asset(receiver.spans())
    assert set(observations) == set(billed) == {("sales", "2026-11-20"), ("sales", "2026-11-21"), ("scores", None)}
    for key, metadata in observations.items():
        assert round(metadata["databricks/cost_billed_usd"], 2) == round(billed[key], 2) and billed[key] > 0
        assert metadata["databricks/cost_billed_usd"] == pytest.approx(billed[key], abs=1e-8)
        assert metadata["databricks/dbu_billed"] > 0 and metadata["databricks/restated"] is False
        assert metadata["databricks/cost_estimated_usd"] > 0
        assert isinstance(metadata["databricks/estimate_error"], float)
    assert observations[("sales", "2026-11-20")]["databricks/billed_units"] == 2
    assert observations[("scores", None)]["databricks/billed_units"] == 2
    stored = instance.fetch_observations(dg.AssetKey("scores"), limit=10).records
    assert len(stored) == 1


def test_a_rerun_observes_nothing_and_a_restatement_observes_one_restated_total(world):
    ws, receiver, instance, job, _ = world
    first = observed(job.execute_in_process(instance=instance))
    assert observed(job.execute_in_process(instance=instance)) == {}
    run = min((r for r in ws.job_runs if r.run_name == "etl"), key=lambda r: r.run_id)
    row = next(r for r in ws.billing.usage() if r.usage_metadata.get("job_run_id") == str(run.run_id))
    ws.billing.restate(row.record_id, row.quantity * 3)
    ws.clock.advance(ws.billing.correction_delay.total_seconds() + 3600)
    ((key, metadata),) = observed(job.execute_in_process(instance=instance)).items()
    assert key == ("sales", "2026-11-20") and metadata["databricks/restated"] is True
    billed = billed_by_asset(receiver.spans())
    assert metadata["databricks/cost_billed_usd"] == pytest.approx(billed[key], abs=1e-8)
    assert metadata["databricks/cost_billed_usd"] > first[key]["databricks/cost_billed_usd"]
    assert observed(job.execute_in_process(instance=instance)) == {}
    assert len(instance.fetch_observations(dg.AssetKey("sales"), limit=10).records) == 3


def test_the_definitions_carry_an_hourly_schedule_of_the_job(world):
    *_, defs = world
    schedule = defs.resolve_schedule_def(f"{JOB_NAME}_schedule")
    assert schedule.cron_schedule == "0 * * * *" and schedule.job_name == JOB_NAME


def test_without_a_state_path_or_a_reconciler_the_factory_says_what_it_needs():
    with pytest.raises(ValueError, match="state_path"):
        billing_definitions()


def total_by(reader: InMemoryMetricReader, label: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for resource_metrics in reader.get_metrics_data().resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == "databricks.cost.billed":
                    for point in metric.data.data_points:
                        key = point.attributes.get(label, "")
                        totals[key] = totals.get(key, 0.0) + point.value
    return totals


def test_billed_cost_per_job_and_asset_agrees_in_spans_metrics_and_observations_and_sums_to_the_bill(world):
    result = world.job.execute_in_process(instance=world.instance)
    billing = [span for span in world.receiver.spans() if span.name == "databricks.billing"]
    spans_by = {"dagster.job.name": {}, "dagster.asset.key": {}}
    for span in billing:
        for label, totals in spans_by.items():
            key = span.attributes.get(label, "")
            totals[key] = totals.get(key, 0.0) + span.attributes["databricks.cost.billed_usd"]
    assert set(spans_by["dagster.job.name"]) == {"sales_job", "scoring_job", ""}
    for label, totals in spans_by.items():
        metrics = total_by(world.reader, label)
        assert set(metrics) == set(totals)
        assert all(round(metrics[key], 2) == round(value, 2) for key, value in totals.items()), label
    by_asset: dict[str, float] = {}
    for (asset, _), metadata in observed(result).items():
        by_asset[asset] = by_asset.get(asset, 0.0) + metadata["databricks/cost_billed_usd"]
    assert {key: round(value, 2) for key, value in by_asset.items()} == {
        key: round(value, 2) for key, value in spans_by["dagster.asset.key"].items() if key
    }
    with world.ws.sql_connect() as connection, connection.cursor() as cursor:
        cursor.execute(PRICED_USAGE)
        (bill,) = cursor.fetchone()
    unattributed = spans_by["dagster.asset.key"][""]
    assert sum(by_asset.values()) + unattributed == pytest.approx(float(bill), rel=1e-6)
    assert 0 < unattributed < float(bill)
