"""Every query of the Grafana dashboard returns data from a real Prometheus scraping the example workload's metrics
(served by ``opentelemetry-exporter-prometheus``; billed metrics from the example's reconciliation)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .prometheus_server import BINARY, PrometheusServer

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "grafana" / "databricks-cost.json"
GRAFANA_VARIABLES = {"$__range": "1h", "$__rate_interval": "1m", "$__interval": "15s"}

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.skipif(BINARY is None, reason="no prometheus binary on PATH (Debian: apt-get install prometheus)"),
]


def dashboard_queries() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [
        (f"{panel['title']} [{target['refId']}]", target["expr"])
        for panel in panels
        for target in panel.get("targets", ())
    ]


def promql(expression: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expression = expression.replace(variable, value)
    assert "$" not in expression, expression
    return expression


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, load_example):
    """Two rounds of workload + reconciliation: one while Prometheus starts (its first scrape comes ~5 s after
    start-up), one after that scrape, so rates and increases over the scraped window are above zero."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.instrumentation.utils import suppress_instrumentation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from prometheus_client import CollectorRegistry, start_http_server

    from opentelemetry_instrumentation_databricks import DatabricksInstrumentor
    from opentelemetry_instrumentation_databricks.reconcile import SpanIdRecorder

    workload, reconcile = load_example("workload"), load_example("reconcile")
    directory = tmp_path_factory.mktemp("prometheus")
    registry = CollectorRegistry()
    reader = PrometheusMetricReader(registry=registry)
    meter_provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": workload.SERVICE_NAME})
    )
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SpanIdRecorder(directory / "records"))
    metrics_server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    instrumentor = DatabricksInstrumentor()
    server = None
    with workload.emulated_workspace() as ws:
        instrumentor.instrument(
            tracer_provider=tracer_provider, meter_provider=meter_provider, warehouse_sizes={ws.warehouse_id: "Medium"}
        )
        try:
            work = workload.Workload(ws.workspace_client(), ws.sql_connect)

            def one_round() -> None:
                work.run_round()
                ws.clock.advance(reconcile.BILLING_DELAY_SECONDS)
                with suppress_instrumentation():
                    reconcile.reconcile(
                        ws, directory / "state.sqlite", directory / "records", InMemorySpanExporter(), meter_provider
                    )

            server = PrometheusServer(directory, [f"127.0.0.1:{metrics_server.server_port}"])
            one_round()
            server.wait_ready()
            assert server.wait_for("databricks_cost_billed_total"), server.log()
            one_round()
            grown = "sum(increase(databricks_cost_billed_total[1h])) > 0 and sum(increase({}[1h])) > 0"
            assert server.wait_for(grown.format("databricks_cost_estimated_total")), server.log()
            yield server
        finally:
            instrumentor.uninstrument()
            if server is not None:
                server.stop()
            metrics_server.shutdown()
            metrics_server.server_close()
            meter_provider.shutdown()


def test_metric_names_as_prometheus_sees_them(prometheus):
    names = {series["metric"]["__name__"] for series in prometheus.query('{__name__=~"databricks_.*|db_client_.*"}')}
    assert names >= {
        "databricks_cost_estimated_total",
        "databricks_dbu_estimated_total",
        "databricks_cost_billed_total",
        "databricks_dbu_billed_total",
        "db_client_operation_duration_seconds_bucket",
        "db_client_operation_duration_seconds_count",
        "db_client_operation_duration_seconds_sum",
    }
    (series, *_) = prometheus.query('databricks_cost_estimated_total{dagster_asset_key="sales/orders"}')
    labels = series["metric"]
    assert labels["databricks_compute_type"] == "sql_warehouse" and labels["dagster_job_name"] == "daily_sales"


@pytest.mark.parametrize(("title", "expression"), dashboard_queries(), ids=[title for title, _ in dashboard_queries()])
def test_every_dashboard_query_returns_data(prometheus, title, expression):
    result = prometheus.wait_for(promql(expression), timeout=5)
    assert result, f"{title}: no data for {promql(expression)}"
    values = [float(series["value"][1]) for series in result]
    assert any(value > 0 for value in values), f"{title}: {values}"


def test_dashboard_is_grafana_json_over_one_prometheus_datasource():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["schemaVersion"] >= 36
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"] and all(re.search(r"[a-z]", target["expr"]) for target in panel["targets"])


def test_billed_cost_is_split_by_job_asset_and_team_and_never_by_run_or_statement(prometheus):
    series = prometheus.query("databricks_cost_billed_total")
    labels = [entry["metric"] for entry in series]
    assert not any(
        name in entry
        for entry in labels
        for name in ("dagster_run_id", "databricks_statement_id", "databricks_job_run_id")
    )
    jobs = {
        entry["metric"]["dagster_job_name"]
        for entry in prometheus.query('sum by (dagster_job_name) (databricks_cost_billed_total{dagster_job_name!=""})')
    }
    assert jobs == {"daily_sales", "nightly_reports", "lakehouse_refresh"}
    assets = {
        entry["metric"]["dagster_asset_key"]
        for entry in prometheus.query(
            'sum by (dagster_asset_key) (databricks_cost_billed_total{dagster_asset_key!=""})'
        )
    }
    assert {"sales/orders", "sales/orders_rollup", "sales/forecast", "reports/daily"} <= assets
    teams = {
        entry["metric"]["databricks_tag_team"]
        for entry in prometheus.query(
            'sum by (databricks_tag_team) (databricks_cost_billed_total{databricks_tag_team!=""})'
        )
    }
    assert teams == {"analytics", "data-eng"}
