"""The benchmarks still run (tiny sizes): a broken benchmark is found by the test run, not by the next release."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def benchmarks() -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import memory_1m
        import reconcile_passthrough
        import sql_overhead

        yield {"memory_1m": memory_1m, "reconcile_passthrough": reconcile_passthrough, "sql_overhead": sql_overhead}
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_sql_overhead_measures_every_variant(benchmarks, workspace):
    providers = {"tracer_provider": TracerProvider(), "meter_provider": MeterProvider([InMemoryMetricReader()])}
    medians = benchmarks["sql_overhead"].client_side(workspace, providers, rounds=1, calls=20)
    assert set(medians) == {"bare", "ours", "dbapi", "floor"}
    assert all(value > 0 for value in medians.values())


def test_reconcile_passthrough_measures_every_kind(benchmarks):
    results = benchmarks["reconcile_passthrough"].measure(rounds=1, spans_per_round=200)
    assert set(results["overhead_us"]) == {"foreign", "unkeyed", "keyed"}


def test_memory_benchmark_holds_at_most_max_held(benchmarks):
    results = benchmarks["memory_1m"].held(benchmarks["memory_1m"].MAX_HELD + 500)
    assert results["held_at_end"] == benchmarks["memory_1m"].MAX_HELD
    assert results["released_early"] == 500
