"""The reconciliation end to end on the emulator: the real connector and SDK, the emulator's own system tables
(no stand-in), billing spans exported with the real OTLP exporter to a local receiver. No test sleeps: the emulator
clock jumps past billing's arrival delays, the processor's rounds are awaited on an Event."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from databricks.sdk.service import compute, jobs, pipelines
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from databricks_emulator import Emulator
from opentelemetry_instrumentation_databricks.reconcile import (
    CostReconcilingSpanProcessor,
    Reconciler,
    ReconcileResult,
    SpanIdRecorder,
    SqlBillingSource,
    StateStore,
    SystemTablesUnavailable,
    key_of,
)

from ..otlp_receiver import OtlpReceiver, ReceivedSpan

BILLING_DELAY_SECONDS = 2 * 86400
CLUSTER = compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=2)
DONE = (pipelines.UpdateInfoState.COMPLETED, pipelines.UpdateInfoState.FAILED, pipelines.UpdateInfoState.CANCELED)
PRICED_USAGE = """
SELECT SUM(u.usage_quantity), SUM(u.usage_quantity * p.pricing.effective_list.default)
FROM system.billing.usage AS u
JOIN system.billing.list_prices AS p
  ON p.sku_name = u.sku_name AND p.cloud = u.cloud AND p.usage_unit = u.usage_unit
  AND u.usage_end_time > p.price_start_time
  AND (p.price_end_time IS NULL OR u.usage_end_time <= p.price_end_time)
"""


def run_sql(ws: Emulator) -> None:
    with ws.sql_connect() as connection, connection.cursor() as cursor:
        cursor.execute("CREATE OR REPLACE TABLE sales AS SELECT id, id % 7 AS region FROM range(1000)")
        cursor.execute("SELECT region, count(*) FROM sales GROUP BY region")
        cursor.fetchall()
        cursor.execute("SELECT max(id) FROM sales")
        cursor.fetchall()


def run_classic_job(w) -> int:
    task = jobs.SubmitTask(task_key="etl", notebook_task=jobs.NotebookTask("/Repos/etl"), new_cluster=CLUSTER)
    return w.jobs.submit(run_name="classic", tasks=[task]).result().run_id


def run_serverless_job(w) -> int:
    task = jobs.SubmitTask(
        task_key="score", spark_python_task=jobs.SparkPythonTask(python_file="/score.py"), environment_key="default"
    )
    environment = jobs.JobEnvironment(environment_key="default", spec=compute.Environment(client="2"))
    return w.jobs.submit(run_name="serverless", tasks=[task], environments=[environment]).result().run_id


def run_pipeline(w) -> str:
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
            break
    return update_id


def run_notebook_commands(ws: Emulator, w) -> str:
    cluster_id = ws.add_cluster(node_type_id="i3.xlarge", num_workers=1)
    context = w.command_execution.create(cluster_id=cluster_id, language=compute.Language.PYTHON).result()
    for command in ("df = spark.range(10)", "df.count()"):
        w.command_execution.execute(
            cluster_id=cluster_id, context_id=context.id, language=compute.Language.PYTHON, command=command
        ).result()
    w.clusters.delete(cluster_id)
    return cluster_id


@dataclass
class World:
    ws: Emulator
    telemetry: object
    records: Path
    state: Path
    receiver: OtlpReceiver
    cluster_id: str

    def reconcile(self, **options) -> ReconcileResult:
        source = SqlBillingSource(self.ws.sql_connect, clock=self.ws.clock.time)
        exporter = OTLPSpanExporter(endpoint=f"{self.receiver.endpoint}/v1/traces")
        try:
            reconciler = Reconciler(source, exporter, StateStore(self.state), records_directory=self.records, **options)
            return reconciler.run()
        finally:
            source.close()
            exporter.shutdown()

    def billing_spans(self) -> list[ReceivedSpan]:
        return [span for span in self.receiver.spans() if span.name == "databricks.billing"]

    def work_spans(self) -> dict:
        """The keyed spans of the workload: ``{unit: [span, ...]}`` (a cluster's commands share one unit)."""
        found: dict = {}
        for span in self.telemetry.spans():
            key = key_of(span)
            if key is not None:
                found.setdefault(key.unit, []).append(span)
        return found

    def priced_usage(self) -> tuple[float, float]:
        with self.ws.sql_connect() as connection, connection.cursor() as cursor:
            cursor.execute(PRICED_USAGE)
            dbu, usd = cursor.fetchone()
        return float(dbu), float(usd)


@pytest.fixture
def world(instrument, tmp_path):
    with Emulator() as ws, OtlpReceiver("http/protobuf") as receiver:
        ws.auto_advance_on_poll = "settle"
        telemetry = instrument()
        recorder = SpanIdRecorder(tmp_path / "records")
        telemetry.tracer_provider.add_span_processor(recorder)
        w = ws.workspace_client()
        cluster_id = run_notebook_commands(ws, w)
        run_sql(ws)
        run_classic_job(w)
        run_serverless_job(w)
        run_pipeline(w)
        telemetry.tracer_provider.force_flush()  # pipeline update spans arrive once their end is read
        recorder.shutdown()
        ws.clock.advance(BILLING_DELAY_SECONDS)
        yield World(ws, telemetry, tmp_path / "records", tmp_path / "state.sqlite", receiver, cluster_id)


def test_every_unit_of_a_mixed_workload_gets_one_billing_span_in_its_own_trace(world):
    result = world.reconcile()
    billing = world.billing_spans()
    units = [
        (span.attributes["databricks.billing.unit.kind"], span.attributes["databricks.billing.unit.id"])
        for span in billing
    ]
    assert len(units) == len(set(units)) == result.emitted
    by_unit = dict(zip(units, billing, strict=True))
    work = world.work_spans()
    assert {kind for kind, _ in work} == {"statement", "job_run", "pipeline_update", "cluster"}
    for (kind, unit_id), spans in work.items():
        if kind == "cluster":
            day = dt.datetime.fromtimestamp(spans[0].start_time / 1e9, dt.timezone.utc).date()
            span = by_unit[("cluster", f"{unit_id}/{day.isoformat()}")]
        else:
            span = by_unit[(kind, unit_id)]
        parents = {(f"{s.context.trace_id:032x}", f"{s.context.span_id:016x}") for s in spans}
        assert (span.trace_id, span.parent_span_id) in parents, (kind, unit_id)
        assert span.attributes["databricks.billing.parent"] == "span_record"
        assert span.attributes["databricks.cost.attribution"] == "attributed"
        assert span.attributes["databricks.cost.billed_usd"] > 0
    idle = [span for (kind, _), span in by_unit.items() if kind == "warehouse_idle"]
    assert idle and all(span.parent_span_id == "" for span in idle)
    assert all(span.attributes["databricks.cost.attribution"] == "unattributed" for span in idle)
    assert result.parents["span_record"] == len(work)
    assert result.parents["none"] == len(units) - len(work)


def test_reconciled_cost_sums_to_billing_usage_minus_the_unattributed_share(world):
    result = world.reconcile()
    total_dbu, total_usd = world.priced_usage()
    billing = world.billing_spans()
    attributed = [s for s in billing if s.attributes["databricks.cost.attribution"] == "attributed"]
    assert sum(s.attributes["databricks.dbu.billed"] for s in billing) == pytest.approx(total_dbu, rel=1e-9)
    assert sum(s.attributes["databricks.cost.billed_usd"] for s in billing) == pytest.approx(total_usd, rel=1e-9)
    assert sum(s.attributes["databricks.cost.billed_usd"] for s in attributed) == pytest.approx(
        total_usd - result.unattributed_usd, rel=1e-9
    )
    assert result.attributed_usd == pytest.approx(total_usd - result.unattributed_usd, rel=1e-9)
    assert 0 < result.unattributed_usd < total_usd


def test_a_rerun_emits_nothing_and_a_restatement_emits_exactly_the_delta(world):
    first = world.reconcile()
    assert first.emitted > 0
    assert world.reconcile().emitted == 0
    (run,) = [r for r in world.ws.job_runs if r.run_name == "classic"]
    row = next(r for r in world.ws.billing.usage() if r.usage_metadata.get("job_run_id") == str(run.run_id))
    world.ws.billing.restate(row.record_id, row.quantity * 3)
    world.ws.clock.advance(world.ws.billing.correction_delay.total_seconds() + 3600)
    corrected = world.reconcile()
    assert (corrected.emitted, corrected.restatements) == (1, 1)
    delta = world.billing_spans()[-1]
    original = next(
        s for s in world.billing_spans()[:-1] if s.attributes["databricks.billing.unit.id"] == str(run.run_id)
    )
    assert delta.attributes["databricks.billing.delta"] is True
    assert delta.attributes["databricks.dbu.billed"] == pytest.approx(float(row.quantity * 2))
    assert (delta.trace_id, delta.parent_span_id) == (original.trace_id, original.parent_span_id)
    assert delta.span_id != original.span_id
    assert world.reconcile().emitted == 0
    total_dbu, total_usd = world.priced_usage()
    assert sum(s.attributes["databricks.cost.billed_usd"] for s in world.billing_spans()) == pytest.approx(total_usd)
    assert total_dbu == pytest.approx(sum(float(r.quantity) for r in world.ws.billing.usage()))


def statement_billing_spans(world: World) -> list[ReceivedSpan]:
    return [s for s in world.billing_spans() if s.attributes["databricks.billing.unit.kind"] == "statement"]


def test_statement_billing_spans_carry_databricks_attributed_cost_beside_our_apportioning(world):
    result = world.reconcile()
    statements = statement_billing_spans(world)
    with world.ws.sql_connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT record_id, usage_quantity FROM system.billing.attributed_cost")
        records = {record_id.removeprefix("cpq_"): float(quantity) for record_id, quantity in cursor.fetchall()}
    assert len(statements) == 3 and result.compared == 3
    for span in statements:
        unit = span.attributes["databricks.billing.unit.id"]
        assert span.attributes["databricks.billing.attributed_cost.dbu"] == pytest.approx(records[unit], rel=1e-9)
        assert span.attributes["databricks.billing.attributed_cost.deviation"] == pytest.approx(0.0, abs=1e-4)
    warehouse_dbu = sum(float(r.quantity) for r in world.ws.billing.usage() if r.usage_metadata.get("warehouse_id"))
    assert 0 < sum(records.values()) < warehouse_dbu
    assert "3 statements beside system.billing.attributed_cost" in result.summary()


def test_without_the_attributed_cost_table_statements_are_billed_the_same_without_a_comparison(world, caplog):
    world.ws.billing.attributed_cost_enabled = False
    with caplog.at_level("INFO", logger="opentelemetry_instrumentation_databricks.reconcile.attributed_cost"):
        result = world.reconcile()
    total_dbu, _ = world.priced_usage()
    billing = world.billing_spans()
    assert result.compared == 0 and "attributed_cost" not in result.summary()
    assert not [s for s in billing if "databricks.billing.attributed_cost.dbu" in s.attributes]
    assert sum(s.attributes["databricks.dbu.billed"] for s in billing) == pytest.approx(total_dbu, rel=1e-9)
    assert len(statement_billing_spans(world)) == 3
    assert [r.message for r in caplog.records if "system.billing.attributed_cost is not readable" in r.message]


def test_a_statement_billed_before_its_attributed_record_arrives_carries_no_comparison(world):
    world.ws.billing.attributed_cost_delay = dt.timedelta(days=30)
    result = world.reconcile()
    assert result.compared == 0 and len(statement_billing_spans(world)) == 3
    world.ws.billing.attributed_cost_delay = dt.timedelta(0)
    assert world.reconcile().emitted == 0


def test_attributed_cost_off_reads_nothing_from_the_table(world):
    result = world.reconcile(attributed_cost="off")
    assert result.compared == 0 and len(statement_billing_spans(world)) == 3
    assert not [s for s in world.billing_spans() if "databricks.billing.attributed_cost.dbu" in s.attributes]
    texts = [record.statement_text for record in world.ws.sql.history.records()]
    assert any("system.billing.usage" in text for text in texts)
    assert not any("attributed_cost" in text for text in texts)


class StepClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def one_round(processor: CostReconcilingSpanProcessor) -> None:
    processor.lookups_done.clear()
    processor.lookup_now()
    assert processor.lookups_done.wait(30)


def test_processor_forwards_billed_cost_when_billing_has_arrived_and_pending_otherwise(instrument):
    with Emulator() as ws:
        ws.auto_advance_on_poll = "settle"
        telemetry = instrument()
        forwarded, clock = InMemorySpanExporter(), StepClock()
        source = SqlBillingSource(ws.sql_connect, clock=ws.clock.time)
        processor = CostReconcilingSpanProcessor(
            SimpleSpanProcessor(forwarded),
            source=source,
            hold_seconds=600,
            lookup_interval_seconds=3600,
            clock=clock,
        )
        telemetry.tracer_provider.add_span_processor(processor)
        try:
            w = ws.workspace_client()
            # Commands first, as in the world fixture: their spans are timed on the wall clock and billed by the
            # cluster-hour, and the settling job runs move the emulator's clock minutes ahead of it.
            cluster_id = run_notebook_commands(ws, w)
            run_sql(ws)
            billed_run = run_classic_job(w)
            one_round(processor)
            assert not [s for s in forwarded.get_finished_spans() if key_of(s)] and processor.held == 6
            ws.clock.advance(BILLING_DELAY_SECONDS)
            one_round(processor)
            late_run = run_serverless_job(w)
            clock.now += 601
            one_round(processor)
        finally:
            processor.shutdown()
            source.close()
    spans = {span.context.span_id: span for span in forwarded.get_finished_spans() if key_of(span)}
    billed = [span for span in spans.values() if span.attributes.get("databricks.cost.source") == "billing"]
    pending = [span for span in spans.values() if span.attributes.get("databricks.cost.status") == "pending"]
    assert len(billed) == 6 and len(spans) == 7
    (late,) = pending
    assert late.attributes["databricks.job.run_id"] == str(late_run)
    (run,) = [s for s in billed if s.attributes.get("databricks.job.run_id") == str(billed_run)]
    usage = [r for r in ws.billing.usage() if r.usage_metadata.get("job_run_id") == str(billed_run)]
    assert run.attributes["databricks.dbu.billed"] == pytest.approx(float(sum(r.quantity for r in usage)))
    commands = [s for s in billed if s.attributes.get("databricks.cluster.id") == cluster_id]
    assert len(commands) == 2
    cluster_dbu = sum(float(r.quantity) for r in usage_of_cluster(ws, cluster_id))
    assert 0 < sum(s.attributes["databricks.dbu.billed"] for s in commands) < cluster_dbu
    statements = [s for s in billed if "databricks.statement_id" in s.attributes]
    assert len(statements) == 3 and all(s.attributes["databricks.dbu.billed"] > 0 for s in statements)


def usage_of_cluster(ws: Emulator, cluster_id: str) -> list:
    return [r for r in ws.billing.usage() if r.usage_metadata.get("cluster_id") == cluster_id]


def test_a_missing_system_schema_is_one_error_naming_the_schema_and_the_grant():
    from databricks_emulator.sql.names import private_catalog

    with Emulator() as ws:
        run_sql(ws)
        ws.sql.engine.duckdb_cursor().execute(f'DROP SCHEMA "{private_catalog("system")}"."query" CASCADE')
        source = SqlBillingSource(ws.sql_connect, clock=ws.clock.time)
        reconciler = Reconciler(source, InMemorySpanExporter(), StateStore(":memory:"))
        try:
            ws.clock.advance(BILLING_DELAY_SECONDS)
            with pytest.raises(SystemTablesUnavailable) as raised:
                reconciler.run()
        finally:
            source.close()
    message = str(raised.value)
    assert "system.query.history" in message
    assert "GRANT SELECT ON TABLE system.query.history" in message
    assert "GRANT USE SCHEMA ON SCHEMA system.query" in message
    assert reconciler.state.meta("watermark") is None
