"""``databricks-otel-reconcile run`` as a person and a machine see it: progress on stderr, a summary table or JSON."""

from __future__ import annotations

import json

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opentelemetry_instrumentation_databricks import DatabricksInstrumentor
from opentelemetry_instrumentation_databricks.reconcile import (
    Reconciler,
    SpanIdRecorder,
    SqlBillingSource,
    StateStore,
    cli,
)


def test_run_shows_progress_then_a_table_and_json_on_request(load_example, monkeypatch, tmp_path, capsys):
    workload, reconcile = load_example("workload"), load_example("reconcile")
    records, state = tmp_path / "records", tmp_path / "state.sqlite"
    provider = TracerProvider()
    provider.add_span_processor(SpanIdRecorder(records))
    instrumentor = DatabricksInstrumentor()
    with workload.emulated_workspace() as ws:
        instrumentor.instrument(tracer_provider=provider)
        try:
            workload.run_jobs(ws.workspace_client())
        finally:
            instrumentor.uninstrument()
        ws.clock.advance(reconcile.BILLING_DELAY_SECONDS)

        def build_reconciler(*, state_path, records_directory, meter_provider, **connection):
            source = SqlBillingSource(ws.sql_connect, clock=ws.clock.time)
            exporter = InMemorySpanExporter()
            return Reconciler(
                source, exporter, StateStore(state_path), records_directory=records_directory, meter_provider=None
            )

        monkeypatch.setattr(cli, "build_reconciler", build_reconciler)
        monkeypatch.setenv("OTEL_METRICS_EXPORTER", "none")
        assert cli.main(["run", "--state", str(state), "--records", str(records)]) == 0
        first = capsys.readouterr()
        assert cli.main(["run", "--state", str(state), "--records", str(records), "--json"]) == 0
        second = capsys.readouterr()
    assert "... reading billing ingested since the watermark" in first.err and "... done in " in first.err
    lines = first.out.splitlines()
    assert lines[0].startswith("billing spans emitted   2  (0 corrections, 0 recovered)")
    assert lines[1].split() == ["DBU", "USD"]
    assert lines[2].split()[0] == "attributed" and float(lines[2].split()[2]) > 0
    assert "parents                 span_record 2" in first.out
    assert lines[-1].startswith("watermark ")
    summary = json.loads(second.out)
    assert summary["emitted"] == 0 and summary["attributed_usd"] == 0.0 and summary["seconds"] >= 0
