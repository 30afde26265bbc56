"""Memory at 1M spans: processed by the instrumentation, and held by the cost-reconciling span processor.

* **processed**: ``--spans`` statements through the real connector's ``Cursor.execute`` (backend answered
  in-process) with this instrumentation (tags, estimates, metrics), a BatchSpanProcessor and an exporter that
  counts; RSS and gc-tracked objects at every tenth of the run.
* **held**: ``--spans`` finished statement spans with a reconcile key handed to a ``CostReconcilingSpanProcessor``
  whose billing source never has the answer: it holds at most ``max_held`` (10,000) and releases the oldest as
  ``pending`` beyond that, so memory must stop growing once it is full.

    python benchmarks/memory_1m.py [--spans 1000000]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

RESULTS = Path(__file__).parent / "results" / "memory_1m.json"
PAGE_SIZE = resource.getpagesize()
MAX_HELD = 10_000


class CountingExporter(SpanExporter):
    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exported += len(spans)
        return SpanExportResult.SUCCESS


class CountingProcessor(SpanProcessor):
    def __init__(self) -> None:
        self.ended = 0

    def on_end(self, span: ReadableSpan) -> None:
        self.ended += 1


class SilentSource:
    def lookup(self, keys: Sequence[Any]) -> dict:
        return {}


def resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE / 2**20


def profile(step: Callable[[int], object], spans: int, settle: Callable[[], object]) -> list[dict[str, float]]:
    """RSS and gc objects after each tenth of ``spans`` calls of ``step``."""
    points = []
    tenth = max(spans // 10, 1)
    started = time.perf_counter()
    for number in range(spans):
        step(number)
        if (number + 1) % tenth == 0:
            settle()
            gc.collect()
            points.append(
                {
                    "spans": number + 1,
                    "rss_mib": round(resident_mib(), 2),
                    "gc_objects": len(gc.get_objects()),
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
    return points


def processed(spans: int) -> dict[str, Any]:
    from sql_overhead import answered_in_process

    from databricks_emulator import Emulator
    from opentelemetry_instrumentation_databricks import DatabricksInstrumentor, orchestration_context

    exporter = CountingExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=65536))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    statements = [f"SELECT * FROM main.sales.orders_{n} WHERE id = {n}" for n in range(5000)]
    with Emulator() as workspace:
        connection = workspace.sql_connect()
        connection.session.backend.execute_command = answered_in_process
        cursor = connection.cursor()
        instrumentor = DatabricksInstrumentor()
        instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
        try:
            with orchestration_context(job_name="memory", asset_key="sales/orders"):
                points = profile(
                    lambda number: cursor.execute(statements[number % 5000], query_tags={"n": str(number)}),
                    spans,
                    tracer_provider.force_flush,
                )
        finally:
            instrumentor.uninstrument()
            tracer_provider.shutdown()
            del connection.session.backend.execute_command
            connection.close()
    return {"points": points, "exported": exporter.exported, **_growth(points)}


def held(spans: int) -> dict[str, Any]:
    from opentelemetry_instrumentation_databricks.reconcile import CostReconcilingSpanProcessor

    wrapped = CountingProcessor()
    processor = CostReconcilingSpanProcessor(
        wrapped, SilentSource(), hold_seconds=3600, max_held=MAX_HELD, lookup_interval_seconds=3600
    )
    tracer = TracerProvider().get_tracer("memory")

    def one_span(number: int) -> None:
        span = tracer.start_span(
            "SELECT",
            attributes={
                "databricks.compute.type": "sql_warehouse",
                "databricks.statement_id": f"statement-{number}",
                "databricks.warehouse.id": "w",
                "databricks.dbu.estimated": 0.01,
            },
        )
        span.end()
        processor.on_end(span)

    try:
        points = profile(one_span, spans, lambda: None)
        still_held = processor.held
    finally:
        processor.shutdown()
    return {
        "points": points,
        "max_held": MAX_HELD,
        "held_at_end": still_held,
        "released_early": processor.released_early,
        "forwarded": wrapped.ended,
        **_growth(points),
    }


def _growth(points: list[dict[str, float]]) -> dict[str, float]:
    first, last = points[0], points[-1]
    return {
        "rss_growth_after_first_tenth_mib": round(last["rss_mib"] - first["rss_mib"], 2),
        "gc_objects_growth_after_first_tenth": last["gc_objects"] - first["gc_objects"],
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    options = parser.parse_args(argv)
    results = {"python": sys.version.split()[0], "spans": options.spans}
    results["processed"] = processed(options.spans)
    results["held"] = held(options.spans)
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for name in ("processed", "held"):
        part = results[name]
        print(
            f"{name:9} {options.spans:>9,} spans: RSS {part['points'][0]['rss_mib']:.1f} -> "
            f"{part['points'][-1]['rss_mib']:.1f} MiB after the first tenth (growth "
            f"{part['rss_growth_after_first_tenth_mib']:+.1f} MiB), gc objects "
            f"{part['gc_objects_growth_after_first_tenth']:+,}, {part['points'][-1]['seconds']:.0f} s"
        )
    print(
        f"  exported {results['processed']['exported']:,}; held at end {results['held']['held_at_end']:,}"
        f" (max {MAX_HELD:,}), released early {results['held']['released_early']:,}"
    )
    print(f"  peak RSS {results['peak_rss_mib']} MiB; written to {RESULTS}")
    return results


if __name__ == "__main__":
    main()
