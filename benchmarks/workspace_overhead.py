"""Per-call overhead of the ``ApiClient.do`` patch (databricks-sdk), in one process, interleaved.

* **client side** (precise): the real ``WorkspaceClient`` with its HTTP layer (``_BaseClient.do``) answered
  in-process by a canned response, so only the SDK's own service code and the instrumentation run. Calls:
  a route with no Databricks handler (``GET /api/2.0/preview/scim/v2/Me``), ``jobs.get_run`` of a running run,
  and ``jobs.submit`` with tag injection into a new cluster. Floor of each route: the leanest instrumentation of
  it, one SDK span with 8 attributes started and ended around the same bare call (as the SQL benchmark's floor
  wraps the bare ``execute``), measured in every round next to the route. Also reported: the overhead over one
  such span started and ended in a tight loop with no call inside (``overhead_over_loop_span``, the figure before
  the floors wrapped the call; a loop of nothing but spans runs hotter in the CPU's caches than a span around real
  work, so it is the stricter yardstick).
* **end to end** (realistic): ``jobs.get_run`` over HTTP against the emulator, bare and instrumented.

    python benchmarks/workspace_overhead.py [--rounds 20] [--calls 500]

Results are printed and written to ``benchmarks/results/workspace_overhead.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from databricks_emulator import Emulator
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor

RESULTS = Path(__file__).parent / "results" / "workspace_overhead.json"

_RUNNING_RUN = {
    "job_id": 1,
    "run_id": 7,
    "state": {"life_cycle_state": "RUNNING"},
    "start_time": 1_795_000_000_000,
    "tasks": [{"task_key": "main", "run_id": 8, "state": {"life_cycle_state": "RUNNING"}}],
}
_NEW_CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}


class DroppingExporter(SpanExporter):
    def export(self, spans: Sequence) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def per_call_microseconds(call: Callable[[], object], calls: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        call()
    return (time.perf_counter_ns() - started) / calls / 1000


def canned_response(method: str, url: str, **kwargs: object) -> dict:
    if url.endswith("/runs/get"):
        return dict(_RUNNING_RUN)
    if url.endswith("/runs/submit"):
        return {"run_id": 7}
    return {"userName": "bench@example.com"}


def measure(
    variants: dict[str, Callable[[], object]],
    providers: dict,
    rounds: int,
    calls: int,
    floors: Callable[[Callable[[], object]], Callable[[], object]] | None = None,
    loop_span: Callable[[], object] | None = None,
) -> dict:
    """Medians of interleaved rounds. ``floors(call)`` (when given) is the floor of a variant, measured next to it
    in every round, so that a change of machine load during the run moves it as it moves the variant; so is
    ``loop_span``."""
    instrumentor = DatabricksInstrumentor()
    modes = ("bare", "ours", "floor") if floors is not None else ("bare", "ours")
    samples: dict[str, list[float]] = {f"{name}/{mode}": [] for name in variants for mode in modes}
    if loop_span is not None:
        samples["loop_span"] = []
    for _ in range(rounds):
        for name, call in variants.items():
            gc.collect()
            samples[f"{name}/bare"].append(per_call_microseconds(call, calls))
            instrumentor.instrument(**providers)
            gc.collect()
            samples[f"{name}/ours"].append(per_call_microseconds(call, calls))
            instrumentor.uninstrument()
            if floors is not None:
                gc.collect()
                samples[f"{name}/floor"].append(per_call_microseconds(floors(call), calls))
            if loop_span is not None:
                gc.collect()
                samples["loop_span"].append(per_call_microseconds(loop_span, calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=500)
    options = parser.parse_args(argv)

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DroppingExporter(), max_queue_size=65536))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    providers = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}

    from databricks.sdk.service.compute import ClusterSpec
    from databricks.sdk.service.jobs import NotebookTask, SubmitTask

    with Emulator() as workspace:
        client = workspace.workspace_client()
        run_id = client.jobs.submit(
            run_name="bench", tasks=[SubmitTask(task_key="main", notebook_task=NotebookTask(notebook_path="/bench"))]
        ).run_id
        end_to_end = measure(
            {"get_run": lambda: client.jobs.get_run(run_id)}, providers, max(options.rounds // 4, 3), options.calls // 5
        )

        offline = workspace.workspace_client()
        offline.api_client._api_client.do = canned_response
        task = SubmitTask(
            task_key="main",
            notebook_task=NotebookTask(notebook_path="/bench"),
            new_cluster=ClusterSpec.from_dict(_NEW_CLUSTER),
        )
        tracer = tracer_provider.get_tracer("floor")
        floor_attributes = {f"attribute.{i}": "value" for i in range(8)}

        def loop_span() -> None:
            tracer.start_span("floor", kind=trace.SpanKind.CLIENT, attributes=floor_attributes).end()

        def floors(call: Callable[[], object]) -> Callable[[], object]:
            def floor() -> None:
                span = tracer.start_span("floor", kind=trace.SpanKind.CLIENT, attributes=floor_attributes)
                call()
                span.end()

            return floor

        client_side = measure(
            {
                "unrouted": lambda: offline.current_user.me(),
                "get_run": lambda: offline.jobs.get_run(7),
                "submit": lambda: offline.jobs.submit(run_name="bench", tasks=[task]),
            },
            providers,
            options.rounds,
            options.calls,
            floors,
            loop_span,
        )
        loop_span_us = client_side.pop("loop_span")
    tracer_provider.shutdown()

    routes = ("unrouted", "get_run", "submit")
    overhead = {name: client_side[f"{name}/ours"] - client_side[f"{name}/bare"] for name in routes}
    floor_us = {name: client_side[f"{name}/floor"] - client_side[f"{name}/bare"] for name in routes}
    results = {
        "python": sys.version.split()[0],
        "client_side_us": client_side,
        "overhead_us": overhead,
        "floor_us": floor_us,
        "loop_span_us": loop_span_us,
        "overhead_over_floor": {name: overhead[name] / floor_us[name] for name in routes},
        "overhead_over_loop_span": {name: value / loop_span_us for name, value in overhead.items()},
        "end_to_end_us": end_to_end,
        "end_to_end_overhead_us": end_to_end["get_run/ours"] - end_to_end["get_run/bare"],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"client side, per call (median of {options.rounds} interleaved rounds); a span in a tight loop:"
        f" {loop_span_us:.1f} us"
    )
    for name, value in overhead.items():
        print(
            f"  {name:10} bare {client_side[f'{name}/bare']:7.1f} us  instrumented {client_side[f'{name}/ours']:7.1f}"
            f" us  overhead {value:6.1f} us = {value / floor_us[name]:.2f} x its floor ({floor_us[name]:.1f} us:"
            f" one span around the call), {value / loop_span_us:.2f} x the loop span"
        )
    print(
        f"end to end, jobs.get_run against the emulator: bare {end_to_end['get_run/bare']:.0f} us, instrumented"
        f" {end_to_end['get_run/ours']:.0f} us, overhead {results['end_to_end_overhead_us']:.0f} us"
    )
    print(f"written to {RESULTS}")
    return results


if __name__ == "__main__":
    main()
