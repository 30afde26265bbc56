from __future__ import annotations

import threading

import pytest

from opentelemetry_instrumentation_databricks.reconcile.processor import CostReconcilingSpanProcessor

from .helpers import MemorySource, RecordingProcessor, billed, finished_span


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run_span(run_id: str, estimate_usd: float = 1.0, span_id: int = 0xDEF):
    return finished_span(
        "databricks.jobs.run",
        {
            "databricks.compute.type": "jobs_classic",
            "databricks.job.run_id": run_id,
            "databricks.dbu.estimated": 2.0,
            "databricks.cost.estimated_usd": estimate_usd,
        },
        span_id=span_id,
    )


@pytest.fixture
def setup():
    wrapped, source, clock = RecordingProcessor(), MemorySource(), Clock()
    processor = CostReconcilingSpanProcessor(
        wrapped,
        source=source,
        hold_seconds=60,
        max_held=3,
        batch_size=2,
        lookup_interval_seconds=3600,
        clock=clock,
    )
    yield processor, wrapped, source, clock
    processor.shutdown()


def one_round(processor):
    processor.lookups_done.clear()
    processor.lookup_now()
    assert processor.lookups_done.wait(5)


def test_spans_without_key_pass_straight_through_unchanged(setup):
    processor, wrapped, _, _ = setup
    span = finished_span("GET /", {"http.request.method": "GET"})
    processor.on_end(span)
    assert wrapped.ended == [span]
    assert processor.held == 0


def test_billed_span_is_forwarded_as_a_new_span_with_the_same_identity(setup):
    processor, wrapped, source, _ = setup
    source.costs[("job_run", "1")] = billed("job_run", "1", dbu=4.0, usd=0.8)
    span = run_span("1", estimate_usd=1.0)
    processor.on_end(span)
    assert wrapped.ended == [] and processor.held == 1
    one_round(processor)
    (out,) = wrapped.ended
    assert out is not span
    assert (out.context, out.parent, out.start_time, out.end_time, out.name, out.kind, out.resource) == (
        span.context,
        span.parent,
        span.start_time,
        span.end_time,
        span.name,
        span.kind,
        span.resource,
    )
    assert out.instrumentation_scope == span.instrumentation_scope and out.events == span.events
    assert out.attributes["databricks.dbu.billed"] == 4.0
    assert out.attributes["databricks.cost.billed_usd"] == 0.8
    assert out.attributes["databricks.cost.source"] == "billing"
    assert out.attributes["databricks.cost.estimate_error"] == pytest.approx(0.25)
    assert out.attributes["databricks.job.run_id"] == "1"


def test_unbilled_span_waits_then_leaves_pending(setup):
    processor, wrapped, _, clock = setup
    processor.on_end(run_span("2"))
    one_round(processor)
    assert wrapped.ended == [] and processor.held == 1
    clock.now += 61
    one_round(processor)
    (out,) = wrapped.ended
    assert out.attributes["databricks.cost.status"] == "pending"
    assert "databricks.dbu.billed" not in out.attributes


def test_full_buffer_releases_the_oldest_as_pending_never_drops(setup):
    processor, wrapped, _, _ = setup
    spans = [run_span(str(i), span_id=i + 1) for i in range(5)]
    for span in spans:
        processor.on_end(span)
    assert processor.held == 3 and processor.released_early == 2
    assert [s.context.span_id for s in wrapped.ended] == [1, 2]
    assert all(s.attributes["databricks.cost.status"] == "pending" for s in wrapped.ended)


def test_force_flush_releases_every_held_span_and_flushes_the_wrapped_processor(setup):
    processor, wrapped, _, _ = setup
    for i in range(3):
        processor.on_end(run_span(str(i), span_id=i + 1))
    assert processor.force_flush()
    assert len(wrapped.ended) == 3 and processor.held == 0 and wrapped.flushed == 1


def test_shutdown_releases_held_spans_and_shuts_the_wrapped_processor():
    wrapped = RecordingProcessor()
    processor = CostReconcilingSpanProcessor(wrapped, source=MemorySource(), lookup_interval_seconds=3600)
    processor.on_end(run_span("9"))
    processor.shutdown()
    assert len(wrapped.ended) == 1 and wrapped.shut
    processor.on_end(run_span("10"))
    assert wrapped.ended[-1].attributes["databricks.cost.status"] == "pending"


def test_failing_source_loses_nothing_and_is_counted(setup):
    processor, wrapped, source, clock = setup
    source.fail = True
    processor.on_end(run_span("3"))
    one_round(processor)
    assert processor.lookup_failures == 1 and processor.held == 1
    clock.now += 61
    one_round(processor)
    assert wrapped.ended[0].attributes["databricks.cost.status"] == "pending"


def test_a_hanging_source_never_blocks_on_end_and_expired_spans_still_leave(setup):
    processor, wrapped, source, clock = setup
    source.block = threading.Event()
    processor.on_end(run_span("4", span_id=1))
    processor.lookup_now()
    clock.now += 61
    processor.on_end(run_span("5", span_id=2))  # releases the expired one from the caller's thread
    assert [s.context.span_id for s in wrapped.ended] == [1]
    processor.force_flush()
    source.block.set()
    assert {s.context.span_id for s in wrapped.ended} == {1, 2}


def test_lookups_are_batched(setup):
    processor, _, source, _ = setup
    for i in range(3):
        processor.on_end(run_span(str(i), span_id=i + 1))
    one_round(processor)
    assert all(len(call) <= 2 for call in source.calls)
    assert [len(call) for call in source.calls[-2:]] == [2, 1]


def test_a_span_released_during_a_lookup_is_not_forwarded_twice(setup):
    processor, wrapped, source, _ = setup
    source.costs[("job_run", "6")] = billed("job_run", "6", dbu=1.0)
    source.block = threading.Event()
    processor.on_end(run_span("6"))
    processor.lookups_done.clear()
    processor.lookup_now()
    while not source.calls:
        threading.Event().wait(0.001)
    processor.force_flush()
    source.block.set()
    assert processor.lookups_done.wait(5)
    assert len(wrapped.ended) == 1


def test_force_flush_looks_held_spans_up_once_more_before_releasing_them(setup):
    _, _, source, clock = setup
    wrapped = RecordingProcessor()
    processor = CostReconcilingSpanProcessor(
        wrapped, source=source, hold_seconds=60, lookup_interval_seconds=3600, flush_lookup_seconds=5, clock=clock
    )
    try:
        processor.on_end(run_span("7", span_id=1))
        processor.on_end(run_span("8", span_id=2))
        source.costs[("job_run", "7")] = billed("job_run", "7", dbu=3.0)
        assert processor.force_flush()
    finally:
        processor.shutdown()
    status = {s.context.span_id: s.attributes.get("databricks.cost.source", "pending") for s in wrapped.ended}
    assert status == {1: "billing", 2: "pending"} and wrapped.flushed == 1


def test_the_last_lookup_is_bounded_by_the_flush_timeout(setup):
    _, _, source, clock = setup
    source.block = threading.Event()
    wrapped = RecordingProcessor()
    processor = CostReconcilingSpanProcessor(
        wrapped, source=source, hold_seconds=60, lookup_interval_seconds=3600, flush_lookup_seconds=30, clock=clock
    )
    try:
        processor.on_end(run_span("9"))
        assert processor.force_flush(timeout_millis=50)
        assert wrapped.ended[0].attributes["databricks.cost.status"] == "pending" and processor.held == 0
    finally:
        source.block.set()
        processor.shutdown()
    assert len(wrapped.ended) == 1


def test_a_held_span_is_looked_up_once_not_again_for_every_span_that_arrives_after_it():
    source = MemorySource()
    processor = CostReconcilingSpanProcessor(
        RecordingProcessor(),
        source=source,
        hold_seconds=3600,
        max_held=5000,
        batch_size=100,
        lookup_interval_seconds=3600,
        clock=Clock(),
    )
    try:
        for index in range(2000):
            processor.on_end(run_span(str(index), span_id=index + 1))
            if index % 100 == 99:
                assert processor.lookups_done.wait(5)
                processor.lookups_done.clear()
        looked_up = [key.unit for call in source.calls for key in call]
    finally:
        processor.shutdown()
    assert len(looked_up) == len(set(looked_up))
    assert 2000 - 100 <= len(looked_up) <= 2000
