"""A finished pipeline update's end event is read off the user's thread: a hanging or failing event log never holds
the user's poll, and the span is never lost (drained at uninstrument, provider flush and exit; emitted at once when
too many reads are pending). The real databricks-sdk against an emulator whose events endpoint is held or failing;
nothing sleeps: a held request waits until the test releases it."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest
from databricks.sdk.service import pipelines

from databricks_emulator import Clock, Emulator, Fault
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor
from opentelemetry_instrumentation_databricks.workspace import pipeline_end_reads
from opentelemetry_instrumentation_databricks.workspace.pipeline_end_reads import THREAD_NAME, PipelineEndReads

EVENTS = r"^/api/2\.0/pipelines/[^/]+/events$"
DONE = (pipelines.UpdateInfoState.COMPLETED, pipelines.UpdateInfoState.FAILED, pipelines.UpdateInfoState.CANCELED)
WAIT_SECONDS = 30.0
"""Upper bound of a wait for something that happens at once (a worker reaching the held request)."""
_names = itertools.count()


@pytest.fixture(scope="module")
def ws() -> Iterator[Emulator]:
    with Emulator(clock=Clock(frozen=True)) as running:
        running.auto_advance_on_poll = "settle"
        yield running


@pytest.fixture
def held(ws) -> Iterator[Fault]:
    """The events endpoint hangs until the test (or the teardown) releases it; no reader thread outlives the test."""
    fault = Fault(hold=True)
    ws.faults.add(EVENTS, fault)
    yield fault
    fault.release()
    ws.faults.clear()
    for thread in threading.enumerate():
        if thread.name == THREAD_NAME:
            thread.join(WAIT_SECONDS)


def _tracker():
    return DatabricksInstrumentor._workspace.tracker


def _run_update(w) -> tuple[str, str]:
    """Create a pipeline, start an update and poll ``get_update`` until it is terminal; the pipeline and update ids."""
    name = f"dlt-{next(_names)}"
    created = w.pipelines.create(
        name=name,
        edition="PRO",
        clusters=[pipelines.PipelineCluster(label="default", node_type_id="i3.xlarge", num_workers=2)],
        libraries=[pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path=f"/dlt/{name}"))],
    )
    update_id = w.pipelines.start_update(created.pipeline_id).update_id
    for _ in range(50):
        if w.pipelines.get_update(created.pipeline_id, update_id).update.state in DONE:
            return created.pipeline_id, update_id
    raise AssertionError("the update never ended")


def _update_spans(telemetry, update_id: str) -> list:
    return [
        span
        for span in telemetry.spans()
        if span.name == "databricks.pipelines.update" and span.attributes["databricks.pipeline.update_id"] == update_id
    ]


def test_a_hanging_event_log_does_not_hold_the_users_poll_and_the_span_arrives_observed(ws, instrument, held):
    telemetry = instrument()
    _, update_id = _run_update(ws.workspace_client())
    assert held.reached.wait(WAIT_SECONDS), "the end event is read in the background"
    assert not held.released.is_set(), "the poll returned while the event log still hangs"
    assert _update_spans(telemetry, update_id) == []
    assert _tracker().pipeline_end_reads.drain(0) is False
    (span,) = _update_spans(telemetry, update_id)
    assert span.attributes["databricks.run.timing"] == "observed"
    assert span.attributes["databricks.dbu.estimated"] > 0


def test_a_failing_event_log_still_gives_the_span_timed_observed(ws, instrument):
    telemetry = instrument()
    ws.faults.add(EVENTS, Fault(status=503))
    try:
        _, update_id = _run_update(ws.workspace_client())
        assert _tracker().pipeline_end_reads.drain() is True
    finally:
        ws.faults.clear()
    (span,) = _update_spans(telemetry, update_id)
    assert span.attributes["databricks.run.timing"] == "observed"


def test_a_readable_event_log_times_the_span_from_databricks_once_drained(ws, instrument):
    telemetry = instrument()
    _, update_id = _run_update(ws.workspace_client())
    assert _tracker().pipeline_end_reads.drain() is True
    (span,) = _update_spans(telemetry, update_id)
    assert span.attributes["databricks.run.timing"] == "databricks"


def test_uninstrument_drains_a_pending_read_and_exports_the_span(ws, telemetry, held, monkeypatch):
    monkeypatch.setattr(pipeline_end_reads, "DRAIN_TIMEOUT_SECONDS", 0.0)
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        _, update_id = _run_update(ws.workspace_client())
        assert held.reached.wait(WAIT_SECONDS)
        assert _update_spans(telemetry, update_id) == []
    finally:
        instrumentor.uninstrument()
    (span,) = _update_spans(telemetry, update_id)
    assert span.attributes["databricks.run.timing"] == "observed"


def test_force_flush_of_the_tracer_provider_emits_a_pending_span_within_its_timeout(ws, instrument, held):
    telemetry = instrument()
    _, update_id = _run_update(ws.workspace_client())
    assert held.reached.wait(WAIT_SECONDS)
    telemetry.tracer_provider.force_flush(timeout_millis=0)
    (span,) = _update_spans(telemetry, update_id)
    assert span.attributes["databricks.run.timing"] == "observed"


def test_when_the_pending_reads_are_full_the_next_span_is_emitted_at_once_and_none_is_lost(ws, instrument, held):
    telemetry = instrument()
    tracker = _tracker()
    tracker.pipeline_end_reads = reads = PipelineEndReads(tracker, max_pending=1)
    w = ws.workspace_client()
    _, pending = _run_update(w)
    assert held.reached.wait(WAIT_SECONDS)
    _, at_once = _run_update(w)
    (span,) = _update_spans(telemetry, at_once)
    assert span.attributes["databricks.run.timing"] == "observed"
    assert reads.emitted_at_once == 1
    assert _update_spans(telemetry, pending) == []
    held.release()
    assert reads.drain() is True
    (span,) = _update_spans(telemetry, pending)
    assert span.attributes["databricks.run.timing"] == "databricks"


def test_the_span_is_emitted_exactly_once_however_often_the_update_is_polled(ws, instrument):
    telemetry = instrument()
    w = ws.workspace_client()
    pipeline_id, update_id = _run_update(w)
    assert w.pipelines.get_update(pipeline_id, update_id).update.state in DONE
    assert [u.update_id for u in w.pipelines.list_updates(pipeline_id).updates] == [update_id]
    assert w.pipelines.get(pipeline_id).latest_updates[0].update_id == update_id
    assert _tracker().pipeline_end_reads.drain() is True
    assert len(_update_spans(telemetry, update_id)) == 1


EXIT_CHILD = textwrap.dedent(
    """
    import json, sys
    from databricks.sdk.service import pipelines
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from databricks_emulator import Clock, Emulator, Fault
    from opentelemetry_instrumentation_databricks import DatabricksInstrumentor
    from opentelemetry_instrumentation_databricks.workspace import pipeline_end_reads

    class Printer(SpanExporter):
        def export(self, spans):
            for span in spans:
                if span.name == "databricks.pipelines.update":
                    print(json.dumps({"timing": span.attributes["databricks.run.timing"]}), flush=True)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Printer(), schedule_delay_millis=3_600_000))
    pipeline_end_reads.DRAIN_TIMEOUT_SECONDS = 0.0
    ws = Emulator(clock=Clock(frozen=True)).start()
    ws.auto_advance_on_poll = "settle"
    fault = Fault(hold=True)
    ws.faults.add(sys.argv[1], fault)
    DatabricksInstrumentor().instrument(tracer_provider=provider)
    w = ws.workspace_client()
    pipeline_id = w.pipelines.create(
        name="exit",
        clusters=[pipelines.PipelineCluster(label="default", node_type_id="i3.xlarge", num_workers=1)],
        libraries=[pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path="/dlt/exit"))],
    ).pipeline_id
    update_id = w.pipelines.start_update(pipeline_id).update_id
    while w.pipelines.get_update(pipeline_id, update_id).update.state.value not in ("COMPLETED", "FAILED"):
        pass
    assert fault.reached.wait(30)
    print(json.dumps({"exiting": True}), flush=True)
    """
)


@pytest.mark.subprocess
def test_at_interpreter_exit_a_pending_span_is_exported_before_the_provider_shuts_down():
    child = subprocess.run(
        [sys.executable, "-c", EXIT_CHILD, EVENTS], capture_output=True, text=True, timeout=120, check=False
    )
    assert child.returncode == 0, child.stderr
    lines = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
    assert lines == [{"exiting": True}, {"timing": "observed"}]
