"""Who spent it, on the emulator: billing spans (real connector and SDK, real OTLP exporter to a local receiver)
carry the Dagster context, compute type, ids and user tags of their unit, from the strongest source there is; the
billed metrics carry the bounded ones as labels, fixed at a unit's first emission."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from databricks.sdk.service import compute, jobs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from databricks_emulator import Emulator
from opentelemetry_instrumentation_databricks.context import orchestration_context
from opentelemetry_instrumentation_databricks.reconcile import (
    CostReconcilingSpanProcessor,
    Reconciler,
    SpanIdRecorder,
    SqlBillingSource,
    StateStore,
)
from opentelemetry_instrumentation_databricks.reconcile.attribution import parse_tag_keys
from opentelemetry_instrumentation_databricks.reconcile.records import SpanRecord

from ..otlp_receiver import OtlpReceiver, ReceivedSpan

BILLING_DELAY_SECONDS = 2 * 86400
CLASSIC = compute.ClusterSpec(
    spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=2, custom_tags={"team": "etl"}
)
DAILY = {"job_name": "daily_etl", "run_id": "run-1", "op_name": "load", "asset_key": "sales", "partition_key": "p1"}
SCORING = {"job_name": "scoring", "run_id": "run-2", "op_name": "score", "asset_key": "scores"}


def run_classic_job(w) -> str:
    task = jobs.SubmitTask(task_key="etl", notebook_task=jobs.NotebookTask("/Repos/etl"), new_cluster=CLASSIC)
    return str(w.jobs.submit(run_name="classic", tasks=[task]).result().run_id)


def run_serverless_job(w) -> str:
    task = jobs.SubmitTask(
        task_key="score", spark_python_task=jobs.SparkPythonTask(python_file="/score.py"), environment_key="default"
    )
    environment = jobs.JobEnvironment(environment_key="default", spec=compute.Environment(client="2"))
    return str(w.jobs.submit(run_name="serverless", tasks=[task], environments=[environment]).result().run_id)


def run_sql(ws: Emulator) -> list[str]:
    ids = []
    with ws.sql_connect() as connection, connection.cursor() as cursor:
        for sql in ("CREATE OR REPLACE TABLE sales AS SELECT id FROM range(100)", "SELECT count(*) FROM sales"):
            cursor.execute(sql, query_tags={"team": "analytics"})
            ids.append(cursor.query_id)
    return ids


@dataclass
class Workload:
    ws: Emulator
    records: Path
    state: Path
    receiver: OtlpReceiver
    classic_run: str
    serverless_run: str
    statements: list[str]

    def reconcile(self, *, records: bool = True, tag_keys=("team",), meter_provider=None) -> list[ReceivedSpan]:
        before = len(self.billing_spans())
        source = SqlBillingSource(self.ws.sql_connect, clock=self.ws.clock.time, tag_keys=tag_keys)
        exporter = OTLPSpanExporter(endpoint=f"{self.receiver.endpoint}/v1/traces")
        try:
            Reconciler(
                source,
                exporter,
                StateStore(self.state),
                records_directory=self.records if records else None,
                meter_provider=meter_provider,
            ).run()
        finally:
            source.close()
            exporter.shutdown()
        return self.billing_spans()[before:]

    def billing_spans(self) -> list[ReceivedSpan]:
        return [span for span in self.receiver.spans() if span.name == "databricks.billing"]


def by_unit(spans: list[ReceivedSpan]) -> dict[tuple[str, str], dict]:
    return {
        (s.attributes["databricks.billing.unit.kind"], s.attributes["databricks.billing.unit.id"]): s.attributes
        for s in spans
    }


@pytest.fixture
def workload(instrument, tmp_path):
    with Emulator() as ws, OtlpReceiver("http/protobuf") as receiver:
        ws.auto_advance_on_poll = "settle"
        telemetry = instrument()
        recorder = SpanIdRecorder(tmp_path / "records", tag_keys=("team",))
        telemetry.tracer_provider.add_span_processor(recorder)
        w = ws.workspace_client()
        with orchestration_context(**DAILY):
            statements = run_sql(ws)
            classic = run_classic_job(w)
        with orchestration_context(**SCORING):
            serverless = run_serverless_job(w)
        recorder.shutdown()
        ws.clock.advance(BILLING_DELAY_SECONDS)
        yield Workload(ws, tmp_path / "records", tmp_path / "state.sqlite", receiver, classic, serverless, statements)


def test_billing_spans_carry_the_context_recorded_when_the_work_ended(workload):
    units = by_unit(workload.reconcile())
    classic = units[("job_run", workload.classic_run)]
    assert classic["databricks.billing.attribution_source"] == "span_record"
    assert classic["dagster.job.name"] == "daily_etl" and classic["dagster.run.id"] == "run-1"
    assert classic["dagster.op.name"] == "load" and classic["dagster.asset.key"] == "sales"
    assert classic["dagster.partition.key"] == "p1"
    assert classic["databricks.tag.team"] == "etl"
    assert classic["databricks.compute.type"] == "jobs_classic" and classic["databricks.cluster.id"]
    serverless = units[("job_run", workload.serverless_run)]
    assert serverless["databricks.billing.attribution_source"] == "span_record"
    assert (serverless["dagster.job.name"], serverless["dagster.asset.key"]) == ("scoring", "scores")
    assert serverless["databricks.compute.type"] == "jobs_serverless"
    for statement_id in workload.statements:
        statement = units[("statement", statement_id)]
        assert statement["dagster.job.name"] == "daily_etl" and statement["dagster.asset.key"] == "sales"
        assert statement["databricks.tag.team"] == "analytics"
        assert statement["databricks.warehouse.id"] == workload.ws.warehouse_id
        assert statement["databricks.compute.type"] == "sql_warehouse"
    idle = [a for (kind, _), a in units.items() if kind == "warehouse_idle"]
    assert idle and all(a["databricks.billing.attribution_source"] == "none" for a in idle)
    assert all("dagster.job.name" not in a and a["databricks.warehouse.id"] for a in idle)


def test_without_a_record_statements_take_their_query_tags_and_classic_runs_their_cluster_tags(workload):
    units = by_unit(workload.reconcile(records=False))
    for statement_id in workload.statements:
        statement = units[("statement", statement_id)]
        assert statement["databricks.billing.attribution_source"] == "query_tags"
        assert (statement["dagster.job.name"], statement["dagster.run.id"]) == ("daily_etl", "run-1")
        assert (statement["dagster.asset.key"], statement["databricks.tag.team"]) == ("sales", "analytics")
    classic = units[("job_run", workload.classic_run)]
    assert classic["databricks.billing.attribution_source"] == "custom_tags"
    assert (classic["dagster.job.name"], classic["dagster.asset.key"]) == ("daily_etl", "sales")
    assert classic["databricks.tag.team"] == "etl"
    assert classic["databricks.compute.type"] == "jobs_classic"
    serverless = units[("job_run", workload.serverless_run)]
    assert serverless["databricks.billing.attribution_source"] == "none"
    assert "dagster.job.name" not in serverless
    assert serverless["databricks.compute.type"] == "jobs_serverless"


def test_tag_keys_not_asked_for_stay_off_the_spans(workload):
    units = by_unit(workload.reconcile(tag_keys=()))
    assert not any(key.startswith("databricks.tag.") for attributes in units.values() for key in attributes)
    assert units[("job_run", workload.classic_run)]["dagster.job.name"] == "daily_etl"


def billed_series(reader: InMemoryMetricReader) -> dict[tuple, float]:
    found: dict[tuple, float] = {}
    for resource_metrics in reader.get_metrics_data().resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == "databricks.cost.billed":
                    for point in metric.data.data_points:
                        found[tuple(sorted(point.attributes.items()))] = point.value
    return found


def total_by(series: dict[tuple, float], label: str) -> dict[str | None, float]:
    totals: dict[str | None, float] = {}
    for labels, value in series.items():
        key = dict(labels).get(label)
        totals[key] = totals.get(key, 0.0) + value
    return totals


def test_billed_metrics_by_job_asset_and_team_and_a_restatement_stays_in_its_series(workload):
    reader = InMemoryMetricReader()
    spans = workload.reconcile(meter_provider=MeterProvider(metric_readers=[reader]))
    series = billed_series(reader)
    assert not any(
        label in ("dagster.run.id", "databricks.billing.unit.id") for labels in series for label, _ in labels
    )
    billed_usd = {}
    for attributes in by_unit(spans).values():
        job = attributes.get("dagster.job.name")
        billed_usd[job] = billed_usd.get(job, 0.0) + attributes["databricks.cost.billed_usd"]
    assert total_by(series, "dagster.job.name") == pytest.approx(billed_usd)
    assert set(total_by(series, "databricks.tag.team")) == {"etl", "analytics", None}
    assert set(total_by(series, "dagster.asset.key")) == {"sales", "scores", None}
    row = next(r for r in workload.ws.billing.usage() if r.usage_metadata.get("job_run_id") == workload.classic_run)
    workload.ws.billing.restate(row.record_id, row.quantity * 3)
    workload.ws.clock.advance(workload.ws.billing.correction_delay.total_seconds() + 3600)
    reader = InMemoryMetricReader()
    (correction,) = workload.reconcile(records=False, meter_provider=MeterProvider(metric_readers=[reader]))
    correction = correction.attributes
    assert correction["databricks.billing.delta"] is True
    after = billed_series(reader)
    assert set(after) == set(series)
    moved = {labels: after[labels] - value for labels, value in series.items() if after[labels] != value}
    (labels,) = moved
    assert dict(labels)["dagster.job.name"] == "daily_etl" and dict(labels)["databricks.tag.team"] == "etl"
    assert moved[labels] == pytest.approx(correction["databricks.cost.billed_usd"])


def test_a_state_file_from_before_labels_opens_and_keeps_its_units_in_the_unlabelled_series(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE units (kind TEXT NOT NULL, unit_id TEXT NOT NULL, dbu REAL NOT NULL, usd REAL NOT NULL,
          emissions INTEGER NOT NULL, PRIMARY KEY (kind, unit_id));
        CREATE TABLE outbox (kind TEXT NOT NULL, unit_id TEXT NOT NULL, dbu REAL NOT NULL, usd REAL NOT NULL,
          delta_dbu REAL NOT NULL, delta_usd REAL NOT NULL, emission INTEGER NOT NULL, payload TEXT NOT NULL,
          PRIMARY KEY (kind, unit_id));
        INSERT INTO units VALUES ('job_run', '1', 2.0, 1.0, 1);
        INSERT INTO outbox VALUES ('job_run', '2', 4.0, 2.0, 4.0, 2.0, 1, '{}');
        """
    )
    db.commit()
    db.close()
    state = StateStore(path)
    emitted = state.emitted([("job_run", "1")])[("job_run", "1")]
    assert (emitted.labels, emitted.context) == ({}, {})
    assert [entry.labels for entry in state.outbox()] == [{}]
    state.commit_outbox()
    assert state.totals_by_series() == [("job_run", {}, 6.0, 3.0)]
    assert state.asset_totals() == {}


def test_a_record_line_from_before_the_context_still_loads_and_a_new_one_round_trips_bounded():
    ids = f'"t":"{"a" * 32}","p":"{"b" * 16}"'
    old = '{"k":"job_run","u":"7","s":null,' + ids + ',"a":1,"b":2,"d":1.0,"c":0.5,"x":"dlt"}'
    record = SpanRecord.from_line(old)
    assert (record.unit, record.context, record.compute_type) == (("job_run", "7"), None, "dlt")
    context = {"dagster.job.name": "j" * 500, "databricks.tag.team": "etl", "databricks.cluster.id": "c1"}
    line = SpanRecord("job_run", "7", None, 1, 2, 1, 2, None, None, None, context).to_line()
    assert json.loads(line)["o"] == {"j": "j" * 500, "c": "c1", "g": {"team": "etl"}}
    assert SpanRecord.from_line(line).context == {**context, "dagster.job.name": "j" * 128}


@pytest.mark.parametrize(
    ("value", "message"),
    [("team,cost'center", "not usable"), (",".join(f"k{i}" for i in range(11)), "at most 10")],
)
def test_a_bad_tag_key_list_is_refused_naming_the_problem(value, message):
    with pytest.raises(ValueError, match=message):
        parse_tag_keys(value)
    with pytest.raises(ValueError, match="tag_keys="):
        SqlBillingSource(lambda: None, tag_keys=value)


def test_the_processor_adds_the_user_tags_billing_knows_to_a_span_it_bills(instrument):
    with Emulator() as ws, OtlpReceiver("http/protobuf") as receiver:
        ws.auto_advance_on_poll = "settle"
        telemetry = instrument()
        source = SqlBillingSource(ws.sql_connect, clock=ws.clock.time, tag_keys="team")
        exporter = OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")
        processor = CostReconcilingSpanProcessor(
            SimpleSpanProcessor(exporter), source=source, hold_seconds=600, lookup_interval_seconds=3600
        )
        telemetry.tracer_provider.add_span_processor(processor)
        try:
            with orchestration_context(**DAILY):
                statements = run_sql(ws)
                classic = run_classic_job(ws.workspace_client())
            ws.clock.advance(BILLING_DELAY_SECONDS)
            processor.lookups_done.clear()
            processor.lookup_now()
            assert processor.lookups_done.wait(30)
        finally:
            processor.shutdown()
            source.close()
        spans = [s for s in receiver.spans() if s.attributes.get("databricks.cost.source") == "billing"]
    by_id = {s.attributes.get("databricks.statement_id") or s.attributes.get("databricks.job.run_id"): s for s in spans}
    for statement_id in statements:
        attributes = by_id[statement_id].attributes
        assert attributes["databricks.tag.team"] == "analytics"
        assert attributes["databricks.billing.attribution_source"] == "span"
        assert attributes["dagster.job.name"] == "daily_etl"
    run = by_id[classic].attributes
    assert (run["databricks.tag.team"], run["databricks.billing.attribution_source"]) == ("etl", "span")


def test_a_tagged_warehouse_gives_its_tag_to_its_idle_hours_and_untagged_statements_as_the_report_does(
    instrument, tmp_path
):
    from databricks.sdk.service import sql as warehouses

    from opentelemetry_instrumentation_databricks.reconcile.report import billed_report, parse_since

    with Emulator() as ws, OtlpReceiver("http/protobuf") as receiver:
        ws.auto_advance_on_poll = "settle"
        ws.workspace_client().warehouses.edit(
            id=ws.warehouse_id,
            tags=warehouses.EndpointTags(custom_tags=[warehouses.EndpointTagPair(key="team", value="platform")]),
        )
        telemetry = instrument()
        recorder = SpanIdRecorder(tmp_path / "records", tag_keys=("team",))
        telemetry.tracer_provider.add_span_processor(recorder)
        with orchestration_context(**DAILY), ws.sql_connect() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM range(10)", query_tags={"team": "analytics"})
            tagged = cursor.query_id
            cursor.execute("SELECT count(*) FROM range(20)")
            untagged = cursor.query_id
        recorder.shutdown()
        ws.clock.advance(BILLING_DELAY_SECONDS)
        workload = Workload(ws, tmp_path / "records", tmp_path / "state.sqlite", receiver, "", "", [])
        units = by_unit(workload.reconcile())
        source = SqlBillingSource(ws.sql_connect, clock=ws.clock.time)
        try:
            report = billed_report(
                source, "team", parse_since("7d", ws.clock.time()), records_directory=workload.records
            )
        finally:
            source.close()
    assert units[("statement", tagged)]["databricks.tag.team"] == "analytics"
    assert units[("statement", untagged)]["databricks.tag.team"] == "platform"
    idle = [attributes for (kind, _), attributes in units.items() if kind == "warehouse_idle"]
    assert idle and all(a["databricks.tag.team"] == "platform" for a in idle)
    assert all(a["databricks.billing.attribution_source"] == "custom_tags" for a in idle)
    assert all(a["databricks.cost.attribution"] == "unattributed" for a in idle), "idle is still no statement's"
    spans_by_team: dict[str | None, float] = {}
    for attributes in units.values():
        team = attributes.get("databricks.tag.team")
        spans_by_team[team] = spans_by_team.get(team, 0.0) + attributes["databricks.cost.billed_usd"]
    assert {row.value: row.usd for row in report.rows} == pytest.approx(spans_by_team, abs=1e-9)
