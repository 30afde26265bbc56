"""Pipelines API 2.0 (LakeFlow / DLT) on the emulator, through the real SDK."""

from __future__ import annotations

import pytest
from databricks.sdk.errors import InvalidParameterValue, NotFound, ResourceConflict
from databricks.sdk.service import jobs, pipelines

LIBRARIES = [pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path="/Repos/dlt/bronze"))]


def create(w, name: str, **settings) -> str:
    return w.pipelines.create(name=name, catalog="main", schema="sales", libraries=LIBRARIES, **settings).pipeline_id


def test_update_walks_its_states_to_completed(ws, w):
    pipeline_id = create(
        w,
        "classic",
        edition="pro",
        photon=True,
        tags={"team": "data"},
        clusters=[pipelines.PipelineCluster(label="default", num_workers=2, custom_tags={"owner": "etl"})],
    )
    spec = w.pipelines.get(pipeline_id).spec
    assert (spec.edition, spec.channel, spec.tags) == ("PRO", "CURRENT", {"team": "data"})

    update_id = w.pipelines.start_update(pipeline_id, full_refresh=True).update_id
    seen = []
    for _ in range(40):
        update = w.pipelines.get_update(pipeline_id, update_id).update
        if not seen or seen[-1] != update.state:
            seen.append(update.state)
        if update.state == pipelines.UpdateInfoState.COMPLETED:
            break
        ws.clock.advance(15)
    states = pipelines.UpdateInfoState
    assert seen == [
        states.QUEUED,
        states.WAITING_FOR_RESOURCES,
        states.INITIALIZING,
        states.SETTING_UP_TABLES,
        states.RUNNING,
        states.COMPLETED,
    ]
    assert update.full_refresh and update.cause == pipelines.UpdateInfoCause.API_CALL
    assert w.pipelines.get(pipeline_id).state == pipelines.PipelineState.IDLE

    ws.clock.advance(60)
    cluster = w.clusters.get(update.cluster_id)
    assert cluster.custom_tags == {"team": "data", "owner": "etl"}
    assert cluster.state.value == "TERMINATED"
    record = next(r for r in ws.pipeline_updates if r.update_id == update_id)
    assert (record.edition, record.photon, record.serverless) == ("PRO", True, False)
    assert record.pipeline_tags == {"team": "data"} and record.cluster_custom_tags == {"owner": "etl"}
    assert record.end_time is not None and record.start_time < record.end_time
    events = list(w.pipelines.list_pipeline_events(pipeline_id, filter=f"update_id = '{update_id}'"))
    assert events[0].message.endswith("is COMPLETED.")
    assert {e.event_type for e in events} == {"create_update", "update_progress"}


def test_settle_mode_finishes_an_update_in_one_poll(ws, w, no_sleep):
    pipeline_id = create(w, "serverless", serverless=True)
    ws.outcomes.update("FAILED", pipeline_id=pipeline_id, message="Table bronze: schema mismatch")
    update_id = w.pipelines.start_update(pipeline_id, refresh_selection=["bronze"]).update_id
    ws.auto_advance_on_poll = "settle"

    update = w.pipelines.get_update(pipeline_id, update_id).update

    assert update.state == pipelines.UpdateInfoState.FAILED
    assert update.refresh_selection == ["bronze"] and update.cluster_id is None
    assert w.pipelines.get(pipeline_id).health == pipelines.GetPipelineResponseHealth.UNHEALTHY
    errors = [e for e in w.pipelines.list_pipeline_events(pipeline_id) if e.level == pipelines.EventLevel.ERROR]
    assert errors[0].error.exceptions[0].message == "Table bronze: schema mismatch"


def test_stop_cancels_the_active_update(ws, w, no_sleep):
    pipeline_id = create(w, "stoppable", continuous=True, serverless=True)
    update_id = w.pipelines.start_update(pipeline_id).update_id
    ws.clock.advance(3600)
    assert w.pipelines.get(pipeline_id).state == pipelines.PipelineState.RUNNING
    with pytest.raises(ResourceConflict, match="active update"):
        w.pipelines.start_update(pipeline_id)
    ws.auto_advance_on_poll = "settle"

    stopped = w.pipelines.stop(pipeline_id).result()

    assert stopped.state == pipelines.PipelineState.IDLE
    assert w.pipelines.get_update(pipeline_id, update_id).update.state == pipelines.UpdateInfoState.CANCELED
    updates = w.pipelines.list_updates(pipeline_id).updates
    assert [u.update_id for u in updates] == [update_id]


def test_pipeline_task_starts_an_update_from_a_job(ws, w, no_sleep):
    pipeline_id = create(w, "from a job")
    ws.auto_advance_on_poll = "settle"
    task = jobs.SubmitTask(task_key="dlt", pipeline_task=jobs.PipelineTask(pipeline_id=pipeline_id, full_refresh=True))

    run = w.jobs.submit(run_name="dlt", tasks=[task]).result()

    assert run.state.result_state == jobs.RunResultState.SUCCESS
    record = next(r for r in ws.pipeline_updates if r.pipeline_id == pipeline_id)
    assert (record.cause, record.job_run_id, record.full_refresh, record.state) == (
        "JOB_TASK",
        run.run_id,
        True,
        "COMPLETED",
    )
    task_record = next(r for r in ws.job_runs if r.run_id == run.run_id).tasks[0]
    assert (task_record.compute_type, task_record.pipeline_update_id) == ("dlt", record.update_id)


def test_edit_list_delete_and_validation(ws, w):
    pipeline_id = create(w, "to edit")
    w.pipelines.update(
        pipeline_id, name="edited", catalog="main", schema="sales", libraries=LIBRARIES, development=True
    )
    assert w.pipelines.get(pipeline_id).spec.development
    assert [p.pipeline_id for p in w.pipelines.list_pipelines(filter="name LIKE 'edit%'")] == [pipeline_id]
    with pytest.raises(ResourceConflict, match="already exists"):
        create(w, "edited")
    with pytest.raises(InvalidParameterValue, match="full_refresh"):
        w.pipelines.start_update(pipeline_id, full_refresh=True, refresh_selection=["a"])
    with pytest.raises(InvalidParameterValue, match="serverless pipelines cannot set node_type_id"):
        create(w, "bad", serverless=True, clusters=[pipelines.PipelineCluster(node_type_id="m5d.large")])
    with pytest.raises(InvalidParameterValue, match="at most 25 tags"):
        create(w, "tags", tags={f"k{i}": "v" for i in range(26)})
    with pytest.raises(InvalidParameterValue, match="edition"):
        create(w, "edition", edition="gold")
    w.pipelines.delete(pipeline_id)
    with pytest.raises(NotFound):
        w.pipelines.get(pipeline_id)


def test_cancelling_a_job_before_its_pipeline_task_starts_plans_no_update(ws, w, no_sleep):
    pipeline_id = create(w, "never started")
    tasks = [
        jobs.SubmitTask(task_key="prepare", notebook_task=jobs.NotebookTask(notebook_path="/prepare")),
        jobs.SubmitTask(
            task_key="dlt",
            depends_on=[jobs.TaskDependency(task_key="prepare")],
            pipeline_task=jobs.PipelineTask(pipeline_id=pipeline_id),
        ),
    ]
    run_id = w.jobs.submit(run_name="cancel early", tasks=tasks).run_id
    ws.clock.advance(30)
    ws.auto_advance_on_poll = "settle"

    run = w.jobs.cancel_run(run_id).result()

    results = {t.task_key: t.state.result_state for t in run.tasks}
    assert results == {"prepare": jobs.RunResultState.CANCELED, "dlt": jobs.RunResultState.UPSTREAM_CANCELED}
    assert not w.pipelines.list_updates(pipeline_id).updates
    assert not [r for r in ws.pipeline_updates if r.pipeline_id == pipeline_id]


def test_run_timeout_stops_the_pipeline_update(ws, w, no_sleep):
    pipeline_id = create(w, "too slow")
    task = jobs.SubmitTask(task_key="dlt", pipeline_task=jobs.PipelineTask(pipeline_id=pipeline_id))
    ws.auto_advance_on_poll = "settle"

    run = w.jobs.submit(run_name="timeout", tasks=[task], timeout_seconds=200).result()

    assert run.state.result_state == jobs.RunResultState.TIMEDOUT and run.state.user_cancelled_or_timedout
    assert [u.state for u in w.pipelines.list_updates(pipeline_id).updates] == [pipelines.UpdateInfoState.CANCELED]
