"""The real databricks-sdk against the emulator, instrumented: spans, ids, tags as Databricks received them,
estimates, and the user's results and exceptions unchanged. No test sleeps: polls settle the emulator clock."""

from __future__ import annotations

import threading

import pytest
from databricks.sdk.errors import DatabricksError
from databricks.sdk.service import compute, jobs, pipelines, sql
from opentelemetry.trace import StatusCode

from opentelemetry_instrumentation_databricks import DatabricksInstrumentor, orchestration_context


@pytest.fixture
def ws(emulator):
    """The session emulator with polls that settle the clock (an SDK waiter returns on its first poll)."""
    previous = emulator.auto_advance_on_poll
    emulator.auto_advance_on_poll = "settle"
    yield emulator
    emulator.auto_advance_on_poll = previous


def _cluster(**extra):
    return compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=2, **extra)


def _notebook_task(key="etl", **extra):
    return jobs.SubmitTask(task_key=key, notebook_task=jobs.NotebookTask(notebook_path="/Repos/etl"), **extra)


def _record(ws, run_id):
    (record,) = [run for run in ws.job_runs if run.run_id == run_id]
    return record


def _one(spans, name, **attributes):
    found = [
        span for span in spans if span.name == name and all(span.attributes.get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, f"{len(found)} spans {name} {attributes}"
    return found[0]


def test_submit_and_wait_result(ws, instrument):
    telemetry = instrument()
    w = ws.workspace_client()
    with orchestration_context(job_name="nightly", run_id="dg-1", asset_key="sales/orders"):
        run = w.jobs.submit(tasks=[_notebook_task(new_cluster=_cluster(custom_tags={"team": "data"}))]).result()
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    spans = telemetry.spans()
    submit = _one(spans, "databricks.jobs.submit")
    run_span = _one(spans, "databricks.jobs.run", **{"databricks.job.run_id": str(run.run_id)})
    task_span = _one(spans, "databricks.jobs.task_run")
    assert run_span.parent.span_id == submit.context.span_id
    assert task_span.parent.span_id == run_span.context.span_id
    assert run_span.start_time == run.start_time * 1_000_000 and run_span.end_time == run.end_time * 1_000_000
    assert run_span.attributes["databricks.compute.type"] == "jobs_classic"
    assert run_span.attributes["databricks.dbu.estimated"] > 0
    assert run_span.attributes["databricks.cost.estimate_method"] == "node_type_rates"
    assert run_span.attributes["dagster.job.name"] == "nightly"
    assert submit.attributes["url.template"] == "/api/2.2/jobs/runs/submit"
    assert submit.attributes["databricks.compute.type"] == "jobs_classic"
    assert "databricks.job.task_keys" not in submit.attributes, "the run span describes the tasks, once"
    assert run_span.attributes["databricks.job.task_keys"] == ("etl",)
    assert run_span.attributes["databricks.cluster.summary"]
    assert any(span.name == "databricks.jobs.get_run" for span in spans)
    record = _record(ws, run.run_id)
    tags = record.tasks[0].custom_tags
    assert tags["team"] == "data"
    assert tags["dagster_job_name"] == "nightly" and tags["dagster_run_id"] == "dg-1"
    assert tags["otel_trace_id"] == f"{submit.context.trace_id:032x}"
    assert tags["dagster_snowflake_opaque_id"] == submit.attributes["dagster.opaque_id"]
    assert "dagster_job_name=nightly" in record.run_name
    assert record.tasks[0].new_cluster["spark_env_vars"]["TRACEPARENT"].startswith(f"00-{submit.context.trace_id:032x}")
    (dbu,) = telemetry.metric_points("databricks.dbu.estimated")
    assert dbu.value == run_span.attributes["databricks.dbu.estimated"]


def test_run_now_of_a_bundle_deployed_job(ws, instrument):
    telemetry = instrument()
    w = ws.workspace_client()
    with orchestration_context(job_name="deploy"):
        job = w.jobs.create(
            name="[dev] bundle job",
            tags={"bundle": "etl"},
            job_clusters=[jobs.JobCluster(job_cluster_key="main", new_cluster=_cluster())],
            tasks=[
                jobs.Task(
                    task_key="ingest", job_cluster_key="main", spark_python_task=jobs.SparkPythonTask("ingest.py")
                ),
                jobs.Task(
                    task_key="report",
                    depends_on=[jobs.TaskDependency("ingest")],
                    job_cluster_key="main",
                    notebook_task=jobs.NotebookTask("/report"),
                ),
            ],
        )
    with orchestration_context(job_name="nightly"):
        run = w.jobs.run_now(job_id=job.job_id).result()
    spans = telemetry.spans()
    run_now = _one(spans, "databricks.jobs.run_now")
    run_span = _one(spans, "databricks.jobs.run", **{"databricks.job.run_id": str(run.run_id)})
    assert run_span.parent.span_id == run_now.context.span_id
    assert run_span.attributes["databricks.job.id"] == str(job.job_id)
    assert set(run_span.attributes["databricks.job.task_keys"]) == {"ingest", "report"}
    assert run_span.attributes["databricks.dbu.estimated"] > 0
    assert len([span for span in spans if span.name == "databricks.jobs.task_run"]) == 2
    record = _record(ws, run.run_id)
    assert record.job_tags["bundle"] == "etl" and record.job_tags["dagster_job_name"] == "deploy"


def test_failing_run_is_an_error_and_the_user_sees_the_same_outcome(ws, instrument):
    w = ws.workspace_client()
    ws.outcomes.task("FAILED", task_key="doomed")

    def outcome():
        try:
            run = w.jobs.submit(tasks=[_notebook_task("doomed", new_cluster=_cluster())]).result()
            return "result", run.state.result_state, run.state.life_cycle_state
        except Exception as exc:  # compare whatever comes out
            return type(exc), str(exc).split("run_id")[0], None

    bare = outcome()
    telemetry = instrument()
    traced = outcome()
    assert traced == bare
    run_span = _one(telemetry.spans(), "databricks.jobs.run")
    assert run_span.status.status_code is StatusCode.ERROR
    assert run_span.attributes["error.type"] == "FAILED"
    assert run_span.attributes["databricks.run.result_state"] == "FAILED"


def test_cancelled_run(ws, instrument):
    telemetry = instrument()
    w = ws.workspace_client()
    waiter = w.jobs.submit(tasks=[_notebook_task("slow", new_cluster=_cluster())])
    w.jobs.cancel_run(run_id=waiter.run_id).result()
    spans = telemetry.spans()
    run_span = _one(spans, "databricks.jobs.run", **{"databricks.job.run_id": str(waiter.run_id)})
    assert run_span.attributes["error.type"] == "CANCELED"
    cancel = _one(spans, "databricks.jobs.cancel_run")
    assert cancel.attributes["databricks.job.run_id"] == str(waiter.run_id)


def test_run_polled_by_list_runs(ws, instrument):
    telemetry = instrument()
    w = ws.workspace_client()
    waiter = w.jobs.submit(tasks=[_notebook_task(new_cluster=_cluster())])
    ws.clock.advance(24 * 3600)
    listed = [run.run_id for run in w.jobs.list_runs(run_type=jobs.RunType.SUBMIT_RUN)]
    assert waiter.run_id in listed
    spans = telemetry.spans()
    run_span = _one(spans, "databricks.jobs.run", **{"databricks.job.run_id": str(waiter.run_id)})
    assert run_span.parent.span_id == _one(spans, "databricks.jobs.submit").context.span_id
    assert not any(span.name == "databricks.jobs.get_run" for span in spans)


def test_concurrent_submits_from_threads(ws, instrument):
    telemetry = instrument()
    w = ws.workspace_client()
    results: dict[int, int] = {}
    errors = []

    def submit(number: int) -> None:
        try:
            with orchestration_context(job_name=f"job-{number}"):
                results[number] = w.jobs.submit(tasks=[_notebook_task(new_cluster=_cluster())]).result().run_id
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    spans = telemetry.spans()
    submits = {span.context.span_id: span for span in spans if span.name == "databricks.jobs.submit"}
    runs = [span for span in spans if span.name == "databricks.jobs.run"]
    assert sorted(span.attributes["databricks.job.run_id"] for span in runs) == sorted(str(r) for r in results.values())
    for run_span in runs:
        parent = submits[run_span.parent.span_id]
        assert parent.attributes["databricks.job.run_id"] == run_span.attributes["databricks.job.run_id"]
        assert parent.attributes["dagster.job.name"] == run_span.attributes["dagster.job.name"]
        record = _record(ws, int(run_span.attributes["databricks.job.run_id"]))
        assert record.tasks[0].custom_tags["otel_span_id"] == f"{parent.context.span_id:016x}"


def test_pipeline_update_span(ws, instrument):
    telemetry = instrument()
    w = ws.workspace_client()
    with orchestration_context(job_name="dlt-refresh"):
        created = w.pipelines.create(
            name="sales dlt",
            edition="PRO",
            tags={"owner": "data"},
            clusters=[pipelines.PipelineCluster(label="default", node_type_id="i3.xlarge", num_workers=2)],
            libraries=[pipelines.PipelineLibrary(notebook=pipelines.NotebookLibrary(path="/dlt/sales"))],
        )
        started = w.pipelines.start_update(created.pipeline_id, full_refresh=True)
    for _ in range(20):
        update = w.pipelines.get_update(created.pipeline_id, started.update_id).update
        if update.state in (pipelines.UpdateInfoState.COMPLETED, pipelines.UpdateInfoState.FAILED):
            break
    assert update.state == pipelines.UpdateInfoState.COMPLETED
    telemetry.tracer_provider.force_flush()
    spans = telemetry.spans()
    span = _one(spans, "databricks.pipelines.update")
    assert span.parent.span_id == _one(spans, "databricks.pipelines.start_update").context.span_id
    assert span.attributes["databricks.pipeline.id"] == created.pipeline_id
    assert span.attributes["databricks.pipeline.update_id"] == started.update_id
    assert span.attributes["databricks.pipeline.edition"] == "pro"
    assert span.attributes["databricks.pipeline.full_refresh"] is True
    assert span.attributes["databricks.dbu.estimated"] > 0
    (record,) = [u for u in ws.pipeline_updates if u.update_id == started.update_id]
    assert record.pipeline_tags["owner"] == "data" and record.pipeline_tags["dagster_job_name"] == "dlt-refresh"
    assert record.cluster_custom_tags["dagster_job_name"] == "dlt-refresh"


def test_statement_execution(ws, instrument):
    telemetry = instrument()
    w = ws.workspace_client()
    response = w.statement_execution.execute_statement(
        "SELECT 42 AS answer", ws.warehouse_id, query_tags=[sql.QueryTag(key="team", value="data")]
    )
    assert response.status.state == sql.StatementState.SUCCEEDED
    span = _one(telemetry.spans(), "databricks.statement_execution.execute_statement")
    assert span.attributes["databricks.statement_id"] == response.statement_id
    assert span.attributes["db.query.text"] == "SELECT ? AS answer"
    assert span.attributes["databricks.warehouse.id"] == ws.warehouse_id
    assert span.attributes["databricks.cost.estimate_method"] == "default_size"
    (history,) = [record for record in ws.query_history if record.statement_id == response.statement_id]
    assert history.query_tags["team"] == "data"
    assert history.query_tags["otel_span_id"] == f"{span.context.span_id:016x}"


def test_command_execution_on_an_all_purpose_cluster(ws, instrument):
    telemetry = instrument()
    w = ws.workspace_client()
    cluster_id = ws.add_cluster(node_type_id="i3.xlarge", num_workers=1)
    w.clusters.get(cluster_id)
    context = w.command_execution.create(cluster_id=cluster_id, language=compute.Language.PYTHON).result()
    result = w.command_execution.execute(
        cluster_id=cluster_id, context_id=context.id, language=compute.Language.PYTHON, command="print(1 + 1)"
    ).result()
    assert result.status == compute.CommandStatus.FINISHED
    span = _one(telemetry.spans(), "databricks.commands.command")
    assert span.attributes["databricks.cluster.id"] == cluster_id
    assert span.attributes["databricks.command.id"] == result.id
    assert span.attributes["databricks.compute.type"] == "all_purpose"
    assert span.attributes["databricks.cost.estimate_method"] == "node_type_rates"


def test_inject_tags_off_leaves_what_databricks_receives_untouched(ws, instrument):
    telemetry = instrument(inject_tags=False)
    w = ws.workspace_client()
    run = w.jobs.submit(
        run_name="plain", tasks=[_notebook_task(new_cluster=_cluster(custom_tags={"team": "x"}))]
    ).result()
    record = _record(ws, run.run_id)
    assert dict(record.tasks[0].custom_tags) == {"team": "x"}
    assert record.run_name == "plain"
    assert "spark_env_vars" not in record.tasks[0].new_cluster or not record.tasks[0].new_cluster["spark_env_vars"]
    _one(telemetry.spans(), "databricks.jobs.run")


def test_results_and_errors_are_unchanged(ws, telemetry):
    w = ws.workspace_client()
    job = w.jobs.create(name="same", tasks=[jobs.Task(task_key="a", notebook_task=jobs.NotebookTask("/a"))])

    def outcomes():
        found = w.jobs.get(job.job_id).as_dict()
        try:
            w.jobs.get_run(run_id=987654321)
            error = None
        except DatabricksError as exc:
            error = (type(exc), str(exc), exc.error_code)
        return found, error

    bare = outcomes()
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        traced = outcomes()
    finally:
        instrumentor.uninstrument()
    assert traced == bare
    assert bare[1] is not None
    failed = _one(telemetry.spans(), "databricks.jobs.get_run")
    assert failed.attributes["error.type"] == bare[1][2]
    assert failed.status.status_code is StatusCode.ERROR


def test_connector_sea_statements_do_not_pass_through_the_sdk_patch(ws, instrument):
    telemetry = instrument()
    with ws.sql_connect(use_sea=True) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 AS one")
        assert cursor.fetchall()[0][0] == 1
    names = [span.name for span in telemetry.spans()]
    assert names == ["SELECT"]
