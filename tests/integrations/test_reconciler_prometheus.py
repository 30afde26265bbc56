"""Two separate ``databricks-otel-reconcile`` runs, as cron starts them, continue ONE billed series in a real
Prometheus: the reconciler's resource (``service.name`` and the ``service.instance.id`` kept in its state store) is
the same in both processes, so the dashboard's billed panels see the second run's increase instead of a new series
that starts flat.

Between the CLI and Prometheus sits :mod:`.otlp_prometheus_relay`, standing in for the OpenTelemetry Collector's
prometheus exporter (the Debian Prometheus here predates Prometheus' own OTLP receiver)."""

from __future__ import annotations

import json
import time

import pytest
from opentelemetry.sdk.trace import TracerProvider

from databricks_emulator import Emulator
from databricks_emulator.clock import Clock
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor
from opentelemetry_instrumentation_databricks.reconcile import SpanIdRecorder

from .otlp_prometheus_relay import OtlpPrometheusRelay
from .prometheus_server import BINARY, PrometheusServer
from .reconcile_cli import run_reconcile
from .test_dashboard_prometheus import dashboard_queries, promql

DAY = 86400
BILLED = "databricks_cost_billed_total"
TAG_KEYS = {"OTEL_INSTRUMENTATION_DATABRICKS_BILLING_TAG_KEYS": "team"}
"""The example's user tag, so the dashboard's billed-by-team panel has data (read by the CLI from the variable)."""

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.subprocess,
    pytest.mark.skipif(BINARY is None, reason="no prometheus binary on PATH (Debian: apt-get install prometheus)"),
]


def billed_usd(summary: dict) -> float:
    return summary["attributed_usd"] + summary["unattributed_usd"]


def scraped_total(server: PrometheusServer, expected: float) -> float:
    result = server.wait_for(
        f"sum({BILLED})",
        timeout=30,
        accept=lambda found: bool(found) and abs(float(found[0]["value"][1]) - expected) < 1e-6,
    )
    assert result, server.log()
    return float(result[0]["value"][1])


def test_two_cli_runs_continue_one_billed_series_that_the_dashboard_sees_grow(load_example, tmp_path):
    workload = load_example("workload")
    records, state = tmp_path / "records", tmp_path / "state.sqlite"
    provider = TracerProvider()
    recorder = SpanIdRecorder(records)
    provider.add_span_processor(recorder)
    instrumentor = DatabricksInstrumentor()
    run = ("run", "--state", str(state), "--records", str(records), "--json")
    with Emulator(clock=Clock(time.time() - 5 * DAY)) as ws, OtlpPrometheusRelay() as relay:
        ws.auto_advance_on_poll = "settle"
        server = PrometheusServer(tmp_path, [relay.target], honor_labels=True)
        instrumentor.instrument(tracer_provider=provider)
        try:
            work = workload.Workload(ws.workspace_client(), ws.sql_connect)
            work.run_round()
            ws.clock.advance(2 * DAY)
            first = run_reconcile(ws, relay.endpoint, *run, metrics=True, **TAG_KEYS)
            assert first.returncode == 0, first.stderr
            server.wait_ready()
            first_total = scraped_total(server, billed_usd(json.loads(first.stdout)))

            work.run_round()
            ws.clock.advance(2 * DAY)
            second = run_reconcile(ws, relay.endpoint, *run, metrics=True, **TAG_KEYS)
            assert second.returncode == 0, second.stderr
            grown_by = billed_usd(json.loads(second.stdout))
            assert grown_by > 0
            assert scraped_total(server, first_total + grown_by) == pytest.approx(first_total + grown_by)

            series = server.query(BILLED)
            increase = server.query(f"sum(increase({BILLED}[10m]))")
            resets = server.query(f"sum(resets({BILLED}[10m]))")
            panels = [
                (title, server.query(promql(expression)))
                for title, expression in dashboard_queries()
                if BILLED in expression and 'attribution=\\"unattributed\\"' not in expression
            ]
        finally:
            instrumentor.uninstrument()
            recorder.shutdown()
            server.stop()
    assert relay.exports == 2
    assert {entry["metric"]["job"] for entry in series} == {"databricks-otel-reconciler"}
    assert len({entry["metric"]["instance"] for entry in series}) == 1
    assert float(increase[0]["value"][1]) > 0 and float(resets[0]["value"][1]) == 0
    assert panels
    for title, result in panels:
        assert any(float(entry["value"][1]) > 0 for entry in result), title
