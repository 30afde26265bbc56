"""Traces a user can read: polls of a tracked run join its trace, costs sum once, pipeline updates timed by
Databricks. The real databricks-sdk against the emulator; each poll advances the emulator's clock, none sleeps."""

from __future__ import annotations

import pytest
from databricks.sdk.service import compute, jobs, pipelines

TERMINAL = (jobs.RunLifeCycleState.TERMINATED, jobs.RunLifeCycleState.INTERNAL_ERROR, jobs.RunLifeCycleState.SKIPPED)


@pytest.fixture
def polled(emulator):
    """The session emulator where every status poll moves its clock 30 s forward, as real polling time would."""
    previous = emulator.auto_advance_on_poll
    emulator.auto_advance_on_poll = 30.0
    yield emulator
    emulator.auto_advance_on_poll = previous


def _submit_and_poll(w) -> int:
    """What ``Wait.result()`` does, minus its real sleeps: ``runs/get`` until the run is terminal."""
    cluster = compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=2)
    task = jobs.SubmitTask(task_key="etl", notebook_task=jobs.NotebookTask(notebook_path="/etl"), new_cluster=cluster)
    run_id = w.jobs.submit(tasks=[task]).run_id
    for _ in range(200):
        if w.jobs.get_run(run_id).state.life_cycle_state in TERMINAL:
            return run_id
    raise AssertionError("the run never ended")


def test_polls_of_a_tracked_run_join_its_trace_instead_of_each_being_a_root(polled, instrument):
    telemetry = instrument()
    _submit_and_poll(polled.workspace_client())
    spans = telemetry.spans()
    (submit,) = [span for span in spans if span.name == "databricks.jobs.submit"]
    polls = [span for span in spans if span.name == "databricks.jobs.get_run"]
    assert len(polls) > 2
    assert {span.context.trace_id for span in polls} == {submit.context.trace_id}
    assert {span.parent.span_id for span in polls} == {submit.context.span_id}
    assert all(span.attributes["databricks.run.poll"] is True for span in polls)
    roots = [span for span in spans if span.parent is None and span.name.startswith("databricks.jobs")]
    assert roots == [submit]


def test_poll_spans_off_makes_no_poll_spans_but_still_the_run_span(polled, instrument):
    telemetry = instrument(run_poll_spans="off")
    run_id = _submit_and_poll(polled.workspace_client())
    names = [span.name for span in telemetry.spans()]
    assert "databricks.jobs.get_run" not in names
    (run_span,) = [span for span in telemetry.spans() if span.name == "databricks.jobs.run"]
    assert run_span.attributes["databricks.job.run_id"] == str(run_id)


def test_poll_spans_caller_keeps_each_poll_a_root_span(polled, instrument):
    telemetry = instrument(run_poll_spans="caller")
    _submit_and_poll(polled.workspace_client())
    polls = [span for span in telemetry.spans() if span.name == "databricks.jobs.get_run"]
    assert polls and all(span.parent is None for span in polls)


def test_a_single_task_run_counts_its_estimate_once_when_summing_summable_spans(polled, instrument):
    telemetry = instrument()
    _submit_and_poll(polled.workspace_client())
    spans = telemetry.spans()
    (run_span,) = [span for span in spans if span.name == "databricks.jobs.run"]
    (task_span,) = [span for span in spans if span.name == "databricks.jobs.task_run"]
    assert run_span.attributes["databricks.cost.estimated_usd"] == task_span.attributes["databricks.cost.estimated_usd"]
    assert run_span.attributes["databricks.cost.summable"] is True
    assert task_span.attributes["databricks.cost.summable"] is False
    summed = sum(
        span.attributes["databricks.cost.estimated_usd"]
        for span in spans
        if span.attributes.get("databricks.cost.summable") is True
    )
    assert summed == pytest.approx(run_span.attributes["databricks.cost.estimated_usd"]) and summed > 0


def test_pipeline_update_is_timed_by_its_events_not_by_when_a_poll_saw_it(polled, instrument):
    telemetry = instrument()
    w = polled.workspace_client()
    created = w.pipelines.create(
        name="timed dlt",
        edition="PRO",
        clusters=[pipelines.PipelineCluster(label="default", node_type_id="i3.xlarge", num_workers=2)],
        libraries=[pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path="/dlt/timed"))],
    )
    update_id = w.pipelines.start_update(created.pipeline_id).update_id
    done = (pipelines.UpdateInfoState.COMPLETED, pipelines.UpdateInfoState.FAILED, pipelines.UpdateInfoState.CANCELED)
    for _ in range(200):
        update = w.pipelines.get_update(created.pipeline_id, update_id).update
        if update.state in done:
            break
    events = [e for e in w.pipelines.list_pipeline_events(created.pipeline_id) if e.origin.update_id == update_id]
    (terminal,) = [e for e in events if e.event_type == "update_progress" and e.message.endswith("is COMPLETED.")]
    telemetry.tracer_provider.force_flush()
    (span,) = [s for s in telemetry.spans() if s.name == "databricks.pipelines.update"]
    assert span.attributes["databricks.run.timing"] == "databricks"
    assert span.start_time == update.creation_time * 1_000_000
    from datetime import datetime

    end = datetime.fromisoformat(terminal.timestamp.replace("Z", "+00:00"))
    assert span.end_time == int(end.timestamp() * 1_000_000) * 1_000
    assert (span.end_time - span.start_time) / 1e9 > 60
    assert span.attributes["databricks.dbu.estimated"] > 0


def test_wheel_task_with_positional_parameters_gets_the_traceparent_only_in_its_cluster_environment(polled, instrument):
    """A positional ``parameters`` list has no slot a wheel could read ``traceparent`` from: documented, not added."""
    telemetry = instrument(trace_context_parameters=True)
    w = polled.workspace_client()
    cluster = compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=1)
    wheel = jobs.PythonWheelTask(package_name="etl", entry_point="main", parameters=["--day", "2026-12-01"])
    run_id = w.jobs.submit(tasks=[jobs.SubmitTask(task_key="w", python_wheel_task=wheel, new_cluster=cluster)]).run_id
    (record,) = [run for run in polled.job_runs if run.run_id == run_id]
    (submit,) = [span for span in telemetry.spans() if span.name == "databricks.jobs.submit"]
    (task,) = w.jobs.get_run(run_id).tasks
    assert task.python_wheel_task.parameters == ["--day", "2026-12-01"]
    assert not task.python_wheel_task.named_parameters
    traceparent = record.tasks[0].new_cluster["spark_env_vars"]["TRACEPARENT"]
    assert traceparent.startswith(f"00-{submit.context.trace_id:032x}")
