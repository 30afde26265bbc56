from __future__ import annotations

import datetime as dt

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from opentelemetry_instrumentation_databricks.reconcile.reconciler import ExportFailed, Reconciler
from opentelemetry_instrumentation_databricks.reconcile.records import SpanIdRecorder
from opentelemetry_instrumentation_databricks.reconcile.source import SqlBillingSource
from opentelemetry_instrumentation_databricks.reconcile.state import StateStore

from .duck_system_tables import DuckSystemTables
from .helpers import HOUR_MS, T0_MS, FlakyExporter, finished_span

TRACE, SPAN = "ab" * 16, "cd" * 8


class World:
    def __init__(self, tmp_path) -> None:
        self.tables = DuckSystemTables()
        for sku, price in (
            ("PREMIUM_JOBS_COMPUTE", 0.15),
            ("PREMIUM_SERVERLESS_SQL", 0.70),
            ("PREMIUM_JOBS_SERVERLESS_COMPUTE", 0.35),
            ("PREMIUM_STORAGE", 0.02),
        ):
            self.tables.add_price(sku, price)
        self.now_ms = T0_MS + 5 * HOUR_MS
        self.exporter = FlakyExporter()
        self.state_path = tmp_path / "state.sqlite"
        self.records = tmp_path / "records"
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def reconciler(self) -> Reconciler:
        source = SqlBillingSource(self.tables.connect(), clock=lambda: self.now_ms / 1000)
        return Reconciler(
            source,
            self.exporter,
            StateStore(self.state_path),
            records_directory=self.records,
            meter_provider=self.meter_provider,
        )

    def usage(self, dbu, **kwargs):
        kwargs.setdefault("sku", "PREMIUM_JOBS_COMPUTE")
        self.tables.add_usage(
            start_ms=T0_MS,
            end_ms=T0_MS + HOUR_MS,
            dbu=dbu,
            ingestion_date=dt.date.fromtimestamp(self.now_ms / 1000),
            **kwargs,
        )

    def billed(self, kind=None):
        return [s for s in self.exporter.spans if kind is None or s.attributes["databricks.billing.unit.kind"] == kind]


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def test_each_unit_is_emitted_once_and_a_rerun_emits_nothing(world):
    world.usage(2.0, job_run_id="42", custom_tags={"otel_trace_id": TRACE, "otel_span_id": SPAN})
    first = world.reconciler().run()
    (span,) = world.exporter.spans
    assert first.emitted == 1
    assert span.name == "databricks.billing"
    assert span.context.trace_id == int(TRACE, 16) and span.parent.span_id == int(SPAN, 16)
    assert span.attributes["databricks.billing.parent"] == "tags"
    assert span.attributes["databricks.dbu.billed"] == 2.0
    assert span.attributes["databricks.cost.billed_usd"] == pytest.approx(0.3)
    assert (span.start_time, span.end_time) == (T0_MS * 10**6, (T0_MS + HOUR_MS) * 10**6)
    assert world.reconciler().run().emitted == 0
    assert len(world.exporter.spans) == 1


def test_restatements_arrive_as_deltas(world):
    world.usage(2.0, job_run_id="42")
    world.reconciler().run()
    world.now_ms += 24 * HOUR_MS
    world.usage(-2.0, job_run_id="42", record_type="RETRACTION")
    world.usage(2.6, job_run_id="42", record_type="RESTATEMENT")
    result = world.reconciler().run()
    assert result.restatements == 1
    first, correction = world.exporter.spans
    assert correction.attributes["databricks.billing.delta"] is True
    assert correction.attributes["databricks.dbu.billed"] == pytest.approx(0.6)
    assert first.context.span_id != correction.context.span_id
    assert sum(s.attributes["databricks.dbu.billed"] for s in world.exporter.spans) == pytest.approx(2.6)


def test_a_crash_between_query_and_export_loses_and_doubles_nothing(world, monkeypatch):
    world.usage(2.0, job_run_id="42")
    reconciler = world.reconciler()
    monkeypatch.setattr(reconciler, "_export", lambda entries: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        reconciler.run()
    assert world.exporter.spans == []
    result = world.reconciler().run()
    assert result.recovered == 1 and result.emitted == 0
    assert len(world.exporter.spans) == 1
    assert world.reconciler().run().emitted == 0 and len(world.exporter.spans) == 1


def test_a_crash_after_export_before_commit_repeats_the_identical_span(world, monkeypatch):
    world.usage(2.0, job_run_id="42")
    reconciler = world.reconciler()
    monkeypatch.setattr(reconciler.state, "commit_outbox", lambda: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        reconciler.run()
    world.reconciler().run()
    first, repeat = world.exporter.spans
    assert (first.context, first.attributes) == (repeat.context, repeat.attributes)
    state = StateStore(world.state_path)
    assert state.totals_by_kind()["job_run"][0] == 2.0 and state.outbox() == []


def test_a_refused_export_keeps_the_outbox_and_the_watermark(world):
    world.usage(2.0, job_run_id="42")
    world.exporter.fail_next = True
    with pytest.raises(ExportFailed):
        world.reconciler().run()
    state = StateStore(world.state_path)
    assert len(state.outbox()) == 1 and state.meta("watermark") is None
    world.reconciler().run()
    assert len(world.exporter.spans) == 1


def test_ids_recorded_at_span_time_parent_serverless_runs(world):
    recorder = SpanIdRecorder(world.records)
    recorder.on_end(
        finished_span(
            "databricks.jobs.run",
            {
                "databricks.compute.type": "jobs_serverless",
                "databricks.job.run_id": "7",
                "databricks.dbu.estimated": 1.0,
                "databricks.cost.estimated_usd": 0.5,
            },
            trace_id=0x1234,
            span_id=0x5678,
        )
    )
    recorder.shutdown()
    world.usage(4.0, job_run_id="7", sku="PREMIUM_JOBS_SERVERLESS_COMPUTE")
    world.reconciler().run()
    (span,) = world.exporter.spans
    assert (span.context.trace_id, span.parent.span_id) == (0x1234, 0x5678)
    assert span.attributes["databricks.billing.parent"] == "span_record"
    assert span.attributes["databricks.compute.type"] == "jobs_serverless"
    assert span.attributes["databricks.cost.estimate_error"] == pytest.approx((0.5 - 1.4) / 1.4)


def test_reconciled_plus_unattributed_equals_billing_usage_and_metrics_follow_the_state(world):
    world.usage(2.0, job_run_id="42")
    world.usage(12.0, sku="PREMIUM_SERVERLESS_SQL", warehouse_id="wh1")
    world.usage(1.0, sku="PREMIUM_STORAGE")
    world.tables.add_statement(
        "s1",
        "wh1",
        T0_MS + 60_000,
        T0_MS + 660_000,
        task_ms=400_000,
        query_tags={"otel_trace_id": TRACE, "otel_span_id": SPAN},
    )
    world.tables.add_statement("s2", "wh1", T0_MS + 700_000, T0_MS + 1_300_000, task_ms=100_000)
    result = world.reconciler().run()
    total = world.tables.duck.execute("SELECT SUM(usage_quantity)::DOUBLE FROM system_billing.usage").fetchall()[0][0]
    assert result.attributed_dbu + result.unattributed_dbu == pytest.approx(total)
    assert result.unattributed_dbu == pytest.approx(12.0 * (1 - 1_200_000 / HOUR_MS) + 1.0)
    statements = {s.attributes["databricks.billing.unit.id"]: s for s in world.billed("statement")}
    assert statements["s1"].attributes["databricks.dbu.billed"] == pytest.approx(12.0 / 3 * 0.8)
    assert statements["s1"].parent.span_id == int(SPAN, 16)
    assert statements["s2"].parent is None and statements["s2"].attributes["databricks.billing.parent"] == "none"
    assert all(s.parent is None for s in world.billed("warehouse_idle"))
    points = {}
    for rm in world.reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    points[(metric.name, point.attributes["databricks.billing.unit.kind"])] = point.value
    assert points[("databricks.dbu.billed", "job_run")] == 2.0
    assert sum(v for (name, _), v in points.items() if name == "databricks.dbu.billed") == pytest.approx(total)
    world.reconciler().run()
    assert len(world.exporter.spans) == result.emitted


def test_a_statement_whose_second_hour_is_billed_days_later_keeps_its_first_hours_share(world):
    day = 86_400_000

    def warehouse_hour(start_ms):
        world.tables.add_usage(
            sku="PREMIUM_SERVERLESS_SQL",
            start_ms=start_ms,
            end_ms=start_ms + HOUR_MS,
            dbu=12.0,
            warehouse_id="wh1",
            ingestion_date=dt.date.fromtimestamp(world.now_ms / 1000),
        )

    world.tables.add_statement("s1", "wh1", T0_MS + HOUR_MS // 2, T0_MS + 3 * HOUR_MS // 2, task_ms=HOUR_MS)
    warehouse_hour(T0_MS)
    world.reconciler().run()
    world.now_ms += 3 * day
    world.usage(1.0, job_run_id="7")
    world.reconciler().run()
    world.now_ms += 2 * day
    warehouse_hour(T0_MS + HOUR_MS)
    world.reconciler().run()
    shares = [s.attributes["databricks.dbu.billed"] for s in world.billed("statement")]
    assert shares == [pytest.approx(6.0), pytest.approx(6.0)]


def test_the_reconciler_resource_is_stable_across_runs_and_overridable(world, monkeypatch):
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    first, second = world.reconciler().resource, world.reconciler().resource
    assert first.attributes["service.name"] == "databricks-otel-reconciler"
    assert first.attributes["service.instance.id"] == second.attributes["service.instance.id"]
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=cron-1,deployment.environment=prod")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "billing")
    overridden = world.reconciler().resource.attributes
    assert (overridden["service.name"], overridden["service.instance.id"]) == ("billing", "cron-1")


def test_a_watermark_in_the_future_is_pulled_back_so_later_billing_is_still_read(world):
    StateStore(world.state_path).stage([], {"watermark": "2099-01-01"})
    StateStore(world.state_path).commit_outbox()
    world.usage(2.0, job_run_id="42", custom_tags={"otel_trace_id": TRACE, "otel_span_id": SPAN})
    result = world.reconciler().run()
    assert result.emitted == 1
    assert dt.date.fromisoformat(result.watermark) <= dt.date.fromtimestamp(world.now_ms / 1000)


def test_a_negative_lookback_is_refused_by_name(world):
    source = SqlBillingSource(world.tables.connect(), clock=lambda: world.now_ms / 1000)
    with pytest.raises(ValueError, match="lookback_days=-3"):
        Reconciler(source, world.exporter, StateStore(world.state_path), lookback_days=-3)
