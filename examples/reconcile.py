"""Billed cost back onto the traces: run the workload, let Databricks' billing arrive, reconcile, compare.

Run it with one command (an emulated workspace with system tables is started inside)::

    python examples/reconcile.py

What happens: the workload of ``examples/workload.py`` runs traced, with a span-time id record (its SQL statements
last a few hundred milliseconds each, as on a running warehouse, so what the client measures can be compared with
query history); the emulator's
clock jumps two days so that ``system.billing.usage`` and ``system.query.history`` hold its rows (on Databricks they
arrive 1-24 h after the work); the reconciler reads them with one SQL statement per batch and emits a
``databricks.billing`` span per job run, pipeline update, statement and idle warehouse-hour into the original
traces; a second run emits nothing (it is idempotent); ``databricks-otel-reconcile accuracy`` compares the estimates
with the bill. ``--state-dir DIR`` keeps the state store and the id record there (default: a temporary directory).

On a real workspace the same reconciliation runs on a schedule::

    databricks-otel-reconcile run --state /var/lib/otel/reconcile.sqlite --records /Volumes/main/ops/otel_span_records
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from workload import Workload, emulated_workspace

from databricks_emulator.sql.history import typical_latency_model
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor
from opentelemetry_instrumentation_databricks.reconcile import (
    Reconciler,
    ReconcileResult,
    SpanIdRecorder,
    SqlBillingSource,
    StateStore,
)
from opentelemetry_instrumentation_databricks.reconcile.cli import main as reconcile_cli

BILLING_DELAY_SECONDS = 2 * 86400


def reconcile(
    ws: Any, state_path: Path, records: Path, exporter: Any, meter_provider: MeterProvider | None = None
) -> ReconcileResult:
    """One reconciler run against the emulator's system tables, on the emulator's clock."""
    source = SqlBillingSource(ws.sql_connect, clock=ws.clock.time, tag_keys=("team",))
    reconciler = Reconciler(
        source, exporter, StateStore(state_path), records_directory=records, meter_provider=meter_provider
    )
    try:
        return reconciler.run()
    finally:
        source.close()


def print_billing_spans(spans: Sequence[ReadableSpan]) -> None:
    print(f"{'unit':16} {'id':38} {'billed $':>10} {'estimate error':>15}  parent")
    for span in spans:
        attributes = span.attributes or {}
        error = attributes.get("databricks.cost.estimate_error")
        print(
            f"{attributes['databricks.billing.unit.kind']:16} {str(attributes['databricks.billing.unit.id'])[:38]:38} "
            f"{attributes['databricks.cost.billed_usd']:10.6f} {'-' if error is None else f'{error:+.1%}':>15}  "
            f"{attributes['databricks.billing.parent']} (trace {span.context.trace_id:032x})"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, help="where the state store and span-time id record go")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        directory = options.state_dir or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        records, state_path = directory / "span-records", directory / "reconcile.sqlite"
        work_spans, billing_spans = InMemorySpanExporter(), InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(work_spans))
        provider.add_span_processor(SpanIdRecorder(records))
        instrumentor = DatabricksInstrumentor()
        with emulated_workspace() as ws:
            ws.sql.latency_model, ws.sql.pace = typical_latency_model, True
            instrumentor.instrument(tracer_provider=provider, warehouse_sizes={ws.warehouse_id: "Small"})
            try:
                Workload(ws.workspace_client(), ws.sql_connect).run_round()
            finally:
                instrumentor.uninstrument()
            estimated = sum(
                float((span.attributes or {}).get("databricks.cost.estimated_usd", 0.0))
                for span in work_spans.get_finished_spans()
                if span.name != "databricks.jobs.task_run"
            )
            print(f"Workload done: {len(work_spans.get_finished_spans())} spans, ${estimated:.6f} estimated.")
            ws.clock.advance(BILLING_DELAY_SECONDS)
            print("Two (simulated) days later, billing has arrived. Reconciling:\n")
            result = reconcile(ws, state_path, records, billing_spans)
            print_billing_spans(billing_spans.get_finished_spans())
            print(f"\nfirst run:  {result.summary()}")
            again = reconcile(ws, state_path, records, InMemorySpanExporter())
            print(f"second run: {again.summary()}")
        since = (dt.datetime.fromtimestamp(ws.clock.time(), dt.timezone.utc) - dt.timedelta(days=7)).date()
        print("\n$ databricks-otel-reconcile accuracy --since", since, "--state ... --records ...")
        reconcile_cli(["accuracy", "--since", since.isoformat(), "--state", str(state_path), "--records", str(records)])
    print(
        "\nLook at: each databricks.billing span sits in the trace of the span that did the work (parent"
        "\n'span_record' or 'tags'); databricks.cost.billed_usd is what Databricks billed, and"
        "\ndatabricks.cost.estimate_error how far the estimate was. Idle warehouse time comes back as"
        "\nunattributed, so the billing spans of a day add up to system.billing.usage."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
