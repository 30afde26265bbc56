"""Billed cost on Dagster's asset pages: the billing job of ``billing_definitions`` runs the reconciler against the
emulator (real connector and SDK, spans recorded at span time, billing spans through the real OTLP exporter) in a
real (ephemeral) Dagster instance, and observes billed cost per asset and partition as restated totals: agreeing to
the cent with the billing spans, nothing on a rerun, one new total on a restatement."""

from __future__ import annotations

import dagster as dg
import pytest
from databricks.sdk.service import compute, jobs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from databricks_emulator import Emulator
from opentelemetry_instrumentation_databricks.dagster.billing import JOB_NAME, billing_definitions
from opentelemetry_instrumentation_databricks.reconcile import Reconciler, SpanIdRecorder, SqlBillingSource, StateStore

from ..otlp_receiver import OtlpReceiver

DAY = 86400
CLUSTER = compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=1)
OP = f"{JOB_NAME}_op"


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

        instance = dg.DagsterInstance.ephemeral()
        for partition in ("2026-11-20", "2026-11-21"):
            assert dg.materialize([sales], instance=instance, partition_key=partition).success
        assert dg.materialize([scores], instance=instance).success
        recorder.shutdown()
        ws.clock.advance(2 * DAY)

        def reconciler() -> Reconciler:
            source = SqlBillingSource(ws.sql_connect, clock=ws.clock.time)
            exporter = OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")
            return Reconciler(
                source, exporter, StateStore(tmp_path / "state.sqlite"), records_directory=tmp_path / "records"
            )

        defs = billing_definitions(reconciler=reconciler)
        yield ws, receiver, instance, defs.resolve_job_def(JOB_NAME), defs


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
