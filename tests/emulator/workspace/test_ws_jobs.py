"""Jobs API 2.2 on the emulator, through the real SDK: run-now, one-time runs, waiters, failures, cancel, paging."""

from __future__ import annotations

import threading

import pytest
from databricks.sdk.errors import InvalidParameterValue, OperationFailed, ResourceDoesNotExist
from databricks.sdk.service import compute, jobs

from databricks_emulator import Clock, Emulator
from databricks_emulator.runs import runs

NODE = "m5d.large"
SPARK = "16.4.x-scala2.12"
CLUSTER = compute.ClusterSpec(spark_version=SPARK, node_type_id=NODE, num_workers=2)


def notebook(key: str = "main", path: str = "/Repos/etl/daily", **settings) -> jobs.SubmitTask:
    return jobs.SubmitTask(task_key=key, notebook_task=jobs.NotebookTask(notebook_path=path), **settings)


def record_of(ws, run_id: int):
    return next(r for r in ws.job_runs if r.run_id == run_id)


def test_run_now_runs_the_job_and_keeps_its_tags(ws, w, no_sleep):
    job = w.jobs.create(
        name="nightly",
        tags={"team": "data", "cost_center": "42"},
        tasks=[jobs.Task(task_key="etl", notebook_task=jobs.NotebookTask(notebook_path="/etl"), new_cluster=CLUSTER)],
    )
    assert w.jobs.get(job.job_id).settings.tags == {"team": "data", "cost_center": "42"}
    ws.auto_advance_on_poll = "settle"

    run = w.jobs.run_now(job.job_id, job_parameters={"day": "2024-01-01"}).result()

    assert run.job_id == job.job_id
    assert run.run_type == jobs.RunType.JOB_RUN
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.status.state == jobs.RunLifecycleStateV2State.TERMINATED
    assert run.run_page_url.endswith(f"#job/{job.job_id}/run/{run.run_id}")
    assert [(p.name, p.value) for p in run.job_parameters] == [("day", "2024-01-01")]
    task = run.tasks[0]
    assert task.setup_duration == ws.timing.cluster_start_seconds * 1000
    assert task.execution_duration == ws.timing.task_seconds["notebook_task"] * 1000
    assert run.end_time - run.start_time == run.run_duration
    record = record_of(ws, run.run_id)
    assert record.job_tags == {"team": "data", "cost_center": "42"}
    assert record.tasks[0].custom_tags == {"team": "data", "cost_center": "42"}
    cluster = w.clusters.get(task.cluster_instance.cluster_id)
    assert cluster.cluster_source == compute.ClusterSource.JOB
    assert cluster.state == compute.State.TERMINATED
    assert cluster.default_tags["JobId"] == str(job.job_id)


@pytest.mark.parametrize(
    ("task", "compute_type"),
    [
        (notebook(new_cluster=CLUSTER), "jobs_classic"),
        (
            jobs.SubmitTask(
                task_key="py", spark_python_task=jobs.SparkPythonTask(python_file="/jobs/main.py"), new_cluster=CLUSTER
            ),
            "jobs_classic",
        ),
        (
            jobs.SubmitTask(
                task_key="whl",
                python_wheel_task=jobs.PythonWheelTask(package_name="pkg", entry_point="main"),
                environment_key="default",
            ),
            "jobs_serverless",
        ),
        (
            jobs.SubmitTask(
                task_key="jar", spark_jar_task=jobs.SparkJarTask(main_class_name="com.acme.Main"), new_cluster=CLUSTER
            ),
            "jobs_classic",
        ),
        (
            jobs.SubmitTask(
                task_key="submit",
                spark_submit_task=jobs.SparkSubmitTask(parameters=["--class", "Main", "app.jar"]),
                new_cluster=CLUSTER,
            ),
            "jobs_classic",
        ),
        (
            jobs.SubmitTask(task_key="nb", notebook_task=jobs.NotebookTask(notebook_path="/serverless")),
            "jobs_serverless",
        ),
    ],
    ids=["notebook", "python", "wheel", "jar", "spark_submit", "serverless_notebook"],
)
def test_submit_runs_each_task_type(ws, w, no_sleep, task, compute_type):
    ws.auto_advance_on_poll = "settle"
    environments = [jobs.JobEnvironment(environment_key="default", spec=compute.Environment(client="2"))]

    run = w.jobs.submit(run_name=f"one-time {task.task_key}", tasks=[task], environments=environments).result()

    assert run.run_type == jobs.RunType.SUBMIT_RUN
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert run.job_id
    record = record_of(ws, run.run_id)
    assert record.tasks[0].compute_type == compute_type
    assert (record.tasks[0].cluster_id is not None) == (compute_type == "jobs_classic")
    if compute_type == "jobs_serverless":
        assert run.tasks[0].setup_duration == ws.timing.serverless_start_seconds * 1000


def test_sql_task_runs_on_a_warehouse(ws, w, no_sleep):
    ws.auto_advance_on_poll = "settle"
    task = jobs.SubmitTask(
        task_key="report",
        sql_task=jobs.SqlTask(warehouse_id=ws.warehouse_id, query=jobs.SqlTaskQuery(query_id="q1")),
    )
    run = w.jobs.submit(run_name="sql", tasks=[task]).result()
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert record_of(ws, run.run_id).tasks[0].warehouse_id == ws.warehouse_id

    task.sql_task.warehouse_id = "nope"
    with pytest.raises(InvalidParameterValue, match="warehouse nope does not exist"):
        w.jobs.submit(run_name="sql", tasks=[task])


def test_multi_task_job_shares_a_job_cluster_and_follows_dependencies(ws, w, no_sleep):
    job = w.jobs.create(
        name="pipeline",
        job_clusters=[jobs.JobCluster(job_cluster_key="shared", new_cluster=CLUSTER)],
        tasks=[
            jobs.Task(
                task_key="extract", notebook_task=jobs.NotebookTask(notebook_path="/e"), job_cluster_key="shared"
            ),
            jobs.Task(
                task_key="load",
                depends_on=[jobs.TaskDependency(task_key="extract")],
                spark_python_task=jobs.SparkPythonTask(python_file="/l.py"),
                job_cluster_key="shared",
            ),
        ],
    )
    run_id = w.jobs.run_now(job.job_id).run_id
    ws.clock.advance(10)
    waiting = w.jobs.get_run(run_id)
    assert waiting.state.life_cycle_state == jobs.RunLifeCycleState.PENDING
    assert {t.task_key: t.state.life_cycle_state for t in waiting.tasks} == {
        "extract": jobs.RunLifeCycleState.PENDING,
        "load": jobs.RunLifeCycleState.BLOCKED,
    }

    ws.auto_advance_on_poll = "settle"
    run = w.jobs.wait_get_run_job_terminated_or_skipped(run_id)

    extract, load = sorted(run.tasks, key=lambda t: t.start_time)
    assert (extract.task_key, load.task_key) == ("extract", "load")
    assert load.start_time >= extract.end_time
    assert extract.cluster_instance.cluster_id == load.cluster_instance.cluster_id
    assert load.setup_duration == ws.timing.task_setup_seconds * 1000
    assert [c.job_cluster_key for c in run.job_clusters] == ["shared"]
    ws.clock.advance(ws.timing.cluster_terminate_seconds)
    cluster = next(c for c in ws.clusters if c.cluster_id == load.cluster_instance.cluster_id)
    assert len(cluster.sessions) == 1
    assert cluster.sessions[0].requested_time == extract.start_time
    assert cluster.sessions[0].terminated_time >= load.end_time


def test_submit_accepts_job_clusters_and_drops_tags_it_does_not_have(ws, w, no_sleep):
    body = {
        "run_name": "raw",
        "tags": {"ignored": "yes"},
        "job_clusters": [{"job_cluster_key": "c", "new_cluster": CLUSTER.as_dict()}],
        "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/n"}, "job_cluster_key": "c"}],
    }
    run_id = w.api_client.do("POST", "/api/2.2/jobs/runs/submit", body=body)["run_id"]
    ws.auto_advance_on_poll = "settle"
    run = w.jobs.wait_get_run_job_terminated_or_skipped(run_id)
    assert run.state.result_state == jobs.RunResultState.SUCCESS
    assert record_of(ws, run_id).job_tags == {}
    assert record_of(ws, run_id).tasks[0].custom_tags == {}


def test_result_returns_at_once_when_the_clock_was_advanced(ws, w, no_sleep):
    waiter = w.jobs.submit(run_name="advance", tasks=[notebook(new_cluster=CLUSTER)])
    ws.clock.advance(3600)
    assert waiter.result().state.result_state == jobs.RunResultState.SUCCESS


def test_auto_advance_by_seconds_moves_time_on_each_poll(ws, w):
    run_id = w.jobs.submit(run_name="steps", tasks=[notebook(environment_key=None)]).run_id
    ws.auto_advance_on_poll = 5
    states = [w.jobs.get_run(run_id).state.life_cycle_state for _ in range(2)]
    assert states == [jobs.RunLifeCycleState.PENDING, jobs.RunLifeCycleState.RUNNING]


def test_a_failed_task_ends_the_run_failed_and_result_returns_it(ws, w, no_sleep):
    ws.outcomes.task("FAILED", notebook_path="/Repos/etl/daily", seconds=30, message="ZeroDivisionError: 1/0")
    ws.auto_advance_on_poll = "settle"

    run = w.jobs.submit(run_name="fails", tasks=[notebook(new_cluster=CLUSTER)]).result()

    assert run.state.life_cycle_state == jobs.RunLifeCycleState.TERMINATED
    assert run.state.result_state == jobs.RunResultState.FAILED
    assert run.state.state_message == "ZeroDivisionError: 1/0"
    assert run.status.termination_details.code == jobs.TerminationCodeCode.RUN_EXECUTION_ERROR
    assert run.tasks[0].execution_duration == 30_000
    output = w.jobs.get_run_output(run.tasks[0].run_id)
    assert output.error == "ZeroDivisionError: 1/0"
    assert output.metadata.run_id == run.tasks[0].run_id


def test_an_internal_error_makes_result_raise_operation_failed(ws, w, no_sleep):
    ws.outcomes.task("INTERNAL_ERROR", task_key="main", message="Notebook not found: /Repos/etl/daily")
    ws.auto_advance_on_poll = "settle"
    waiter = w.jobs.submit(run_name="broken", tasks=[notebook(new_cluster=CLUSTER)])
    with pytest.raises(OperationFailed, match="INTERNAL_ERROR"):
        waiter.result()
    run = w.jobs.get_run(waiter.run_id)
    assert run.state.life_cycle_state == jobs.RunLifeCycleState.INTERNAL_ERROR
    assert run.state.result_state == jobs.RunResultState.FAILED


def test_upstream_failure_skips_dependents_and_repair_reruns_them(ws, w, no_sleep):
    ws.outcomes.task("FAILED", task_key="first", times=1)
    ws.auto_advance_on_poll = "settle"
    tasks = [
        notebook("first", new_cluster=CLUSTER),
        notebook("second", new_cluster=CLUSTER, depends_on=[jobs.TaskDependency(task_key="first")]),
    ]
    run = w.jobs.submit(run_name="repairable", tasks=tasks).result()
    states = {t.task_key: (t.state.life_cycle_state, t.state.result_state) for t in run.tasks}
    assert states["second"] == (jobs.RunLifeCycleState.SKIPPED, jobs.RunResultState.UPSTREAM_FAILED)
    assert run.state.result_state == jobs.RunResultState.FAILED

    repaired = w.jobs.repair_run(run.run_id, rerun_all_failed_tasks=True).result()

    assert repaired.state.result_state == jobs.RunResultState.SUCCESS
    assert {t.task_key: t.attempt_number for t in repaired.tasks} == {"first": 1, "second": 1}
    history = w.jobs.get_run(run.run_id, include_history=True).repair_history
    assert [h.type for h in history] == [jobs.RepairHistoryItemType.ORIGINAL, jobs.RepairHistoryItemType.REPAIR]


def test_task_timeout_ends_timedout(ws, w, no_sleep):
    ws.outcomes.task(seconds=600, task_key="slow")
    ws.auto_advance_on_poll = "settle"
    run = w.jobs.submit(run_name="slow", tasks=[notebook("slow", timeout_seconds=60)]).result()
    assert run.state.result_state == jobs.RunResultState.TIMEDOUT
    assert run.tasks[0].execution_duration == 60_000


def test_cancel_run(ws, w, no_sleep):
    ws.outcomes.task(seconds=3600, task_key="long")
    run_id = w.jobs.submit(run_name="long", tasks=[notebook("long", new_cluster=CLUSTER)]).run_id
    ws.clock.advance(600)
    assert w.jobs.get_run(run_id).state.life_cycle_state == jobs.RunLifeCycleState.RUNNING
    ws.auto_advance_on_poll = "settle"

    run = w.jobs.cancel_run(run_id).result()

    assert run.state.result_state == jobs.RunResultState.CANCELED
    assert run.state.user_cancelled_or_timedout
    assert run.tasks[0].execution_duration == (600 - ws.timing.cluster_start_seconds) * 1000
    cluster = w.clusters.get(run.tasks[0].cluster_instance.cluster_id)
    assert cluster.state == compute.State.TERMINATED


def test_cancel_all_runs_of_a_job_and_queueing(ws, w, no_sleep):
    job = w.jobs.create(
        name="queued", tasks=[jobs.Task(task_key="t", notebook_task=jobs.NotebookTask(notebook_path="/q"))]
    )
    first = w.jobs.run_now(job.job_id).run_id
    second = w.jobs.run_now(job.job_id).run_id
    assert w.jobs.get_run(second).state.life_cycle_state == jobs.RunLifeCycleState.QUEUED
    assert w.jobs.get_run(second).status.queue_details.code == jobs.QueueDetailsCodeCode.ACTIVE_RUNS_LIMIT_REACHED

    w.jobs.cancel_all_runs(job_id=job.job_id)
    assert w.jobs.get_run(second).state.result_state == jobs.RunResultState.CANCELED
    ws.auto_advance_on_poll = "settle"
    for run_id in (first, second):
        assert w.jobs.wait_get_run_job_terminated_or_skipped(run_id).state.result_state == jobs.RunResultState.CANCELED


def test_without_queue_a_second_run_is_skipped(ws, w, no_sleep):
    job = w.jobs.create(
        name="no queue",
        queue=jobs.QueueSettings(enabled=False),
        tasks=[jobs.Task(task_key="t", notebook_task=jobs.NotebookTask(notebook_path="/q"))],
    )
    w.jobs.run_now(job.job_id)
    skipped = w.jobs.run_now(job.job_id).result()
    assert skipped.state.life_cycle_state == jobs.RunLifeCycleState.SKIPPED
    assert skipped.state.result_state == jobs.RunResultState.MAXIMUM_CONCURRENT_RUNS_REACHED


def test_list_runs_pages_and_filters(ws, w):
    job = w.jobs.create(
        name="many",
        max_concurrent_runs=10,
        tasks=[jobs.Task(task_key="t", notebook_task=jobs.NotebookTask(notebook_path="/m"))],
    )
    run_ids = [w.jobs.run_now(job.job_id).run_id for _ in range(7)]

    listed = list(w.jobs.list_runs(job_id=job.job_id, limit=3))
    assert [r.run_id for r in listed] == sorted(run_ids, reverse=True)
    first_page = w.api_client.do("GET", "/api/2.2/jobs/runs/list", query={"job_id": job.job_id, "limit": 3})
    assert len(first_page["runs"]) == 3 and first_page["has_more"] and first_page["next_page_token"]
    assert len(list(w.jobs.list_runs(job_id=job.job_id, active_only=True))) == 7
    assert list(w.jobs.list_runs(job_id=job.job_id, completed_only=True)) == []

    ws.clock.advance(3600)
    done = list(w.jobs.list_runs(job_id=job.job_id, completed_only=True, expand_tasks=True))
    assert len(done) == 7
    assert all(r.state.result_state == jobs.RunResultState.SUCCESS and r.tasks for r in done)
    with pytest.raises(InvalidParameterValue):
        list(w.jobs.list_runs(job_id=job.job_id, active_only=True, completed_only=True))


def test_idempotent_submit_returns_the_same_run(ws, w):
    settings = {"run_name": "once", "tasks": [notebook()], "budget_policy_id": "policy-1"}
    first = w.jobs.submit(idempotency_token="dagster-run-123", **settings).run_id
    again = w.jobs.submit(idempotency_token="dagster-run-123", **settings).run_id
    assert first == again
    record = record_of(ws, first)
    assert (record.idempotency_token, record.budget_policy_id) == ("dagster-run-123", "policy-1")
    assert len([r for r in ws.job_runs if r.idempotency_token == "dagster-run-123"]) == 1
    with pytest.raises(InvalidParameterValue, match="idempotency_token"):
        w.jobs.submit(run_name="once", tasks=[notebook()], idempotency_token="x" * 65)


def test_concurrent_submits_from_threads_get_distinct_runs(ws, w):
    found: list[int] = []

    def submit() -> None:
        found.append(w.jobs.submit(run_name="threads", tasks=[notebook()]).run_id)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 8


def test_validation_catches_client_bugs(ws, w):
    with pytest.raises(InvalidParameterValue, match=r"^Job 123 does not exist\.$"):
        w.jobs.run_now(123)
    with pytest.raises(ResourceDoesNotExist, match=r"^Run 456 does not exist\.$"):
        w.jobs.get_run(456)
    with pytest.raises(InvalidParameterValue, match="task_key"):
        w.jobs.submit(run_name="x", tasks=[jobs.SubmitTask(task_key="", notebook_task=jobs.NotebookTask("/n"))])
    with pytest.raises(InvalidParameterValue, match="at most 25 tags"):
        w.jobs.create(name="tags", tags={f"k{i}": "v" for i in range(26)})
    too_many = compute.ClusterSpec(
        spark_version=SPARK, node_type_id=NODE, custom_tags={f"k{i}": "v" for i in range(46)}
    )
    with pytest.raises(InvalidParameterValue, match="at most 45 custom tags"):
        w.jobs.submit(run_name="x", tasks=[notebook(new_cluster=too_many)])
    near_limit = compute.ClusterSpec(
        spark_version=SPARK, node_type_id=NODE, custom_tags={f"c{i}": "v" for i in range(40)}
    )
    with pytest.raises(InvalidParameterValue, match="with the job tags"):
        w.jobs.create(
            name="merged",
            tags={f"j{i}": "v" for i in range(10)},
            tasks=[jobs.Task(task_key="t", notebook_task=jobs.NotebookTask("/n"), new_cluster=near_limit)],
        )
    with pytest.raises(InvalidParameterValue, match="spark_submit_task can only run on a new cluster"):
        w.jobs.submit(run_name="x", tasks=[jobs.SubmitTask(task_key="s", spark_submit_task=jobs.SparkSubmitTask())])
    with pytest.raises(InvalidParameterValue, match="cycle"):
        w.jobs.submit(
            run_name="x",
            tasks=[
                notebook("a", depends_on=[jobs.TaskDependency("b")]),
                notebook("b", depends_on=[jobs.TaskDependency("a")]),
            ],
        )
    with pytest.raises(InvalidParameterValue, match="multiple tasks"):
        run_id = w.jobs.submit(run_name="x", tasks=[notebook("a"), notebook("b")]).run_id
        w.jobs.get_run_output(run_id)


def test_update_merges_tasks_and_reset_replaces_settings(ws, w):
    job = w.jobs.create(
        name="edit me",
        tags={"a": "1"},
        tasks=[
            jobs.Task(task_key="x", notebook_task=jobs.NotebookTask("/x")),
            jobs.Task(task_key="y", notebook_task=jobs.NotebookTask("/y")),
        ],
    )
    w.jobs.update(
        job.job_id,
        new_settings=jobs.JobSettings(
            tags={"b": "2"}, tasks=[jobs.Task(task_key="y", notebook_task=jobs.NotebookTask("/y2"))]
        ),
        fields_to_remove=["tasks/x"],
    )
    settings = w.jobs.get(job.job_id).settings
    assert settings.tags == {"b": "2"}
    assert [(t.task_key, t.notebook_task.notebook_path) for t in settings.tasks] == [("y", "/y2")]

    w.jobs.reset(job.job_id, new_settings=jobs.JobSettings(name="renamed"))
    settings = w.jobs.get(job.job_id).settings
    assert settings.name == "renamed" and not settings.tasks and not settings.tags
    assert any(j.job_id == job.job_id for j in w.jobs.list(name="RENAMED"))
    w.jobs.delete(job.job_id)
    with pytest.raises(ResourceDoesNotExist, match=f"Job {job.job_id} does not exist."):
        w.jobs.get(job.job_id)


def test_notebook_output_and_delete_run(ws, w, no_sleep):
    ws.outcomes.task(output='{"rows": 42}', notebook_path="/out")
    ws.auto_advance_on_poll = "settle"
    run = w.jobs.submit(run_name="output", tasks=[notebook(path="/out")]).result()
    assert w.jobs.get_run_output(run.run_id).notebook_output.result == '{"rows": 42}'
    w.jobs.delete_run(run.run_id)
    with pytest.raises(ResourceDoesNotExist):
        w.jobs.get_run(run.run_id)


def test_recorded_runs_are_bounded_oldest_finished_first():
    with Emulator(clock=Clock(frozen=True)) as small:
        runs(small.workspace).table.limit = 3
        w = small.workspace_client()
        first = w.jobs.submit(run_name="old", tasks=[notebook()]).run_id
        small.clock.advance(3600)
        later = [w.jobs.submit(run_name="new", tasks=[notebook()]).run_id for _ in range(3)]

        assert [r.run_id for r in small.job_runs] == later
        assert runs(small.workspace).table.dropped == 1
        with pytest.raises(ResourceDoesNotExist):
            w.jobs.get_run(first)
