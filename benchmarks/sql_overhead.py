"""Per-statement overhead of the SQL instrumentation, in one process, interleaved, reported as ratios.

Two measurements:

* **client side** (precise): the real connector's ``Cursor.execute`` with its backend call answered in-process,
  so only the connector's own bookkeeping and the instrumentation run. Variants: bare, this instrumentation
  (tags, estimate and metrics on), ``opentelemetry-instrumentation-dbapi`` wrapping the same connection, and
  the floor: one SDK span with as many attributes as ours plus one histogram record.
* **end to end** (realistic): ``execute`` + ``fetchall`` of ``SELECT 1`` over HTTP against the emulator, bare
  and instrumented. Network and DuckDB dominate; the difference is the instrumentation's share of a call.

Spans go through a BatchSpanProcessor to an exporter that drops them; metrics to an in-memory reader.

    python benchmarks/sql_overhead.py [--rounds 30] [--calls 300] [--results PATH]

Results are printed and written to ``benchmarks/results/sql_overhead.json``. dbapi reads
``OTEL_SEMCONV_STABILITY_OPT_IN`` once, at first use: with ``database`` it records the duration histogram too (the
like-for-like peer of this instrumentation, which always does), so ``benchmarks/run_all.py`` runs this script a
second time in a child process with that variable set.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from databricks_emulator import Emulator
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor

RESULTS = Path(__file__).parent / "results" / "sql_overhead.json"
STATEMENT_ID = "01f0a1b2-c3d4-e5f6-0718-293a4b5c6d7e"


class DroppingExporter(SpanExporter):
    def export(self, spans: Sequence) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def answered_in_process(cursor: object = None, **kwargs: object) -> None:
    """The backend's ``execute_command`` without the network: like the real one, it gives the cursor a new
    statement id (so the instrumentation does its full work, reporting it), and returns no result set."""
    from databricks.sql.backend.types import CommandId

    cursor.active_command_id = CommandId.from_sea_statement_id(STATEMENT_ID)


def per_call_microseconds(call: Callable[[], object], calls: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        call()
    return (time.perf_counter_ns() - started) / calls / 1000


def client_side(workspace: Emulator, providers: dict, rounds: int, calls: int) -> dict[str, float]:
    from opentelemetry.instrumentation import dbapi

    connection = workspace.sql_connect()
    backend = connection.session.backend
    backend.execute_command = answered_in_process
    bare_cursor = connection.cursor()
    dbapi_connection = dbapi.instrument_connection(
        "databricks",
        connection,
        "databricks",
        {"database": "catalog", "host": "server_hostname"},
        tracer_provider=providers["tracer_provider"],
        meter_provider=providers["meter_provider"],
        enable_commenter=False,
    )
    dbapi_cursor = dbapi_connection.cursor()
    tracer = providers["tracer_provider"].get_tracer("floor")
    histogram = providers["meter_provider"].get_meter("floor").create_histogram("floor.duration")
    floor_attributes = {f"attribute.{i}": "value" for i in range(16)}
    metric_attributes = {"db.system.name": "databricks", "databricks.warehouse.id": "w", "db.operation.name": "SELECT"}

    def floor() -> None:
        span = tracer.start_span("SELECT", kind=trace.SpanKind.CLIENT, attributes=floor_attributes)
        bare_cursor.execute("SELECT 1")
        span.end()
        histogram.record(0.001, metric_attributes)

    instrumentor = DatabricksInstrumentor()
    ours_cursor = connection.cursor()
    samples: dict[str, list[float]] = {"bare": [], "ours": [], "dbapi": [], "floor": []}
    for _ in range(rounds):
        gc.collect()
        samples["bare"].append(per_call_microseconds(lambda: bare_cursor.execute("SELECT 1"), calls))
        instrumentor.instrument(**providers)
        gc.collect()
        samples["ours"].append(per_call_microseconds(lambda: ours_cursor.execute("SELECT 1"), calls))
        instrumentor.uninstrument()
        gc.collect()
        samples["dbapi"].append(per_call_microseconds(lambda: dbapi_cursor.execute("SELECT 1"), calls))
        gc.collect()
        samples["floor"].append(per_call_microseconds(floor, calls))
    del backend.execute_command
    connection.close()
    return {name: statistics.median(values) for name, values in samples.items()}


@contextmanager
def emulator_process() -> Iterator[dict[str, object]]:
    """The emulator in a child process, as a user runs it: its server work does not share this process's GIL,
    so the end-to-end figures hold only client-side work. Yields ``databricks.sql.connect`` keywords."""
    child = subprocess.Popen(
        [sys.executable, "-m", "databricks_emulator"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        facts: dict[str, str] = {}
        assert child.stdout is not None
        for line in child.stdout:
            key, _, value = line.strip().partition(":")
            if key in ("host", "token", "http_path"):
                facts[key] = value.strip()
            if key == "http_path":
                break
        yield Emulator.connect_kwargs_for(facts["host"], facts["token"], facts["http_path"])
    finally:
        child.terminate()
        child.wait(timeout=30)


def end_to_end(providers: dict, rounds: int, calls: int) -> dict[str, float]:
    from databricks import sql

    with emulator_process() as connect_kwargs:
        connection = sql.connect(**connect_kwargs)
        cursor = connection.cursor()

        def statement() -> None:
            cursor.execute("SELECT 1")
            cursor.fetchall()

        instrumentor = DatabricksInstrumentor()
        samples: dict[str, list[float]] = {"bare": [], "ours": []}
        for _ in range(rounds):
            for variant in ("bare", "ours", "ours", "bare"):
                if variant == "ours":
                    instrumentor.instrument(**providers)
                samples[variant].append(per_call_microseconds(statement, calls))
                if variant == "ours":
                    instrumentor.uninstrument()
        connection.close()
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--results", type=Path, default=RESULTS)
    options = parser.parse_args(argv)

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DroppingExporter(), max_queue_size=65536))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    providers = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}

    with Emulator() as workspace:
        client = client_side(workspace, providers, options.rounds, options.calls * 10)
    e2e = end_to_end(providers, max(options.rounds // 2, 3), options.calls)
    tracer_provider.shutdown()

    overhead = {name: client[name] - client["bare"] for name in ("ours", "dbapi", "floor")}
    results = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "rounds": options.rounds,
        "dbapi_semconv_opt_in": os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", ""),
        "client_side_us": client,
        "overhead_us": overhead,
        "ratio_ours_to_dbapi": overhead["ours"] / overhead["dbapi"],
        "ratio_ours_to_floor": overhead["ours"] / overhead["floor"],
        "end_to_end_us": e2e,
        "end_to_end_overhead_us": e2e["ours"] - e2e["bare"],
        "end_to_end_overhead_share": (e2e["ours"] - e2e["bare"]) / e2e["bare"],
    }
    options.results.parent.mkdir(parents=True, exist_ok=True)
    options.results.write_text(json.dumps(results, indent=2) + "\n")
    opt_in = results["dbapi_semconv_opt_in"] or "default: spans only"
    print(f"client side, per execute (median of {options.rounds} interleaved rounds; dbapi semconv {opt_in}):")
    print(f"  bare connector            {client['bare']:8.1f} us")
    for name, label in (
        ("ours", "this instrumentation"),
        ("dbapi", "contrib dbapi"),
        ("floor", "floor (span+histogram)"),
    ):
        print(f"  {label:25} {client[name]:8.1f} us   overhead {overhead[name]:6.1f} us")
    print(f"  ours / dbapi overhead     {results['ratio_ours_to_dbapi']:8.2f}")
    print(f"  ours / floor overhead     {results['ratio_ours_to_floor']:8.2f}")
    print("end to end against the emulator, execute + fetchall of SELECT 1:")
    print(
        f"  bare {e2e['bare']:.0f} us, instrumented {e2e['ours']:.0f} us, "
        f"overhead {results['end_to_end_overhead_us']:.0f} us ({results['end_to_end_overhead_share']:.1%})"
    )
    print(f"written to {options.results}")
    return results


if __name__ == "__main__":
    main()
