"""Run-lifetime spans: once per run, parented to the starting call, timed by Databricks, bounded memory."""

import threading

from opentelemetry.trace import StatusCode

from opentelemetry_instrumentation_databricks.context import OrchestrationContext, orchestration_context
from opentelemetry_instrumentation_databricks.workspace.runs import RunTable, StartedRun

SUBMIT = "/api/2.2/jobs/runs/submit"
GET_RUN = "/api/2.2/jobs/runs/get"
HOUR_MS = 3_600_000
T0 = 1_780_000_000_000


def _cluster(**extra):
    return {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2, **extra}


def _run(run_id=7, result="SUCCESS", life_cycle="TERMINATED", tasks=None, **extra):
    return {
        "run_id": run_id,
        "job_id": 11,
        "run_name": "nightly",
        "run_type": "SUBMIT_RUN",
        "state": {"life_cycle_state": life_cycle, "result_state": result},
        "start_time": T0,
        "end_time": T0 + HOUR_MS,
        "tasks": tasks
        if tasks is not None
        else [
            {
                "task_key": "etl",
                "run_id": 70,
                "notebook_task": {"notebook_path": "/x"},
                "new_cluster": _cluster(),
                "start_time": T0,
                "end_time": T0 + HOUR_MS,
                "state": {"life_cycle_state": life_cycle, "result_state": result},
            }
        ],
        **extra,
    }


def _submit(fake, run_id=7):
    fake.call(
        "POST", SUBMIT, body={"tasks": [{"task_key": "etl", "new_cluster": _cluster()}]}, response={"run_id": run_id}
    )
    return fake.spans("databricks.jobs.submit")[-1]


def test_run_span_is_a_child_of_the_submit_span_timed_by_databricks(sdk):
    fake = sdk()
    with orchestration_context(job_name="nightly", asset_key="sales"):
        submit = _submit(fake)
    fake.call("GET", GET_RUN, query={"run_id": 7}, response=_run(life_cycle="RUNNING", result=None))
    assert fake.spans("databricks.jobs.run") == []
    fake.call("GET", GET_RUN, query={"run_id": 7}, response=_run())
    (run,) = fake.spans("databricks.jobs.run")
    assert run.parent.span_id == submit.context.span_id
    assert run.context.trace_id == submit.context.trace_id
    assert (run.start_time, run.end_time) == (T0 * 1_000_000, (T0 + HOUR_MS) * 1_000_000)
    attributes = run.attributes
    assert attributes["databricks.job.run_id"] == "7" and attributes["databricks.job.id"] == "11"
    assert attributes["databricks.job.task_keys"] == ("etl",)
    assert attributes["databricks.job.task_types"] == ("notebook_task",)
    assert attributes["databricks.run.result_state"] == "SUCCESS"
    assert attributes["databricks.compute.type"] == "jobs_classic"
    assert attributes["databricks.cluster.summary"] == ("i3.xlarge + 2 x i3.xlarge",)
    assert attributes["databricks.dbu.estimated"] == 3.0
    assert abs(attributes["databricks.cost.estimated_usd"] - 0.45) < 1e-9
    assert attributes["databricks.cost.estimate_method"] == "node_type_rates"
    assert attributes["dagster.job.name"] == "nightly"
    (task,) = fake.spans("databricks.jobs.task_run")
    assert task.parent.span_id == run.context.span_id
    assert task.attributes["databricks.job.task_key"] == "etl"
    (dbu,) = fake.telemetry.metric_points("databricks.dbu.estimated")
    assert dbu.value == 3.0 and dbu.attributes["db.operation.name"] == "job_run"
    assert "databricks.job.run_id" not in dbu.attributes


def test_submit_span_names_the_compute_its_tasks_share_and_none_when_they_differ(sdk):
    fake = sdk()
    classic = {"task_key": "a", "notebook_task": {"notebook_path": "/a"}, "new_cluster": _cluster()}
    pooled = {"task_key": "b", "job_cluster_key": "main", "notebook_task": {"notebook_path": "/b"}}
    serverless = {"task_key": "c", "spark_python_task": {"python_file": "c.py"}}
    job_clusters = [{"job_cluster_key": "main", "new_cluster": _cluster()}]
    for run_id, body in enumerate(
        [{"tasks": [classic, pooled], "job_clusters": job_clusters}, {"tasks": [classic, serverless]}, {}], start=1
    ):
        fake.call("POST", SUBMIT, body=body, response={"run_id": run_id})
    same, mixed, empty = fake.spans("databricks.jobs.submit")
    assert same.attributes["databricks.compute.type"] == "jobs_classic"
    assert "databricks.compute.type" not in mixed.attributes
    assert "databricks.compute.type" not in empty.attributes
    assert all("databricks.job.task_keys" not in span.attributes for span in (same, mixed, empty))


def test_many_polls_emit_one_run_span(sdk):
    fake = sdk()
    _submit(fake)
    for _ in range(5):
        fake.call("GET", GET_RUN, query={"run_id": 7}, response=_run())
    assert len(fake.spans("databricks.jobs.run")) == 1
    assert len(fake.spans("databricks.jobs.get_run")) == 5


def test_concurrent_polls_emit_one_run_span(sdk):
    fake = sdk()
    for run_id in range(20):
        _submit(fake, run_id)
    barrier = threading.Barrier(8)

    def poll():
        barrier.wait()
        for run_id in range(20):
            fake.call("GET", GET_RUN, query={"run_id": run_id}, response=_run(run_id=run_id))

    threads = [threading.Thread(target=poll) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = fake.spans("databricks.jobs.run")
    assert sorted(span.attributes["databricks.job.run_id"] for span in runs) == sorted(str(i) for i in range(20))


def test_failed_and_cancelled_runs_are_errors(sdk):
    fake = sdk()
    _submit(fake, 1)
    _submit(fake, 2)
    fake.call("GET", GET_RUN, query={"run_id": 1}, response=_run(run_id=1, result="FAILED"))
    fake.call("GET", GET_RUN, query={"run_id": 2}, response=_run(run_id=2, result="CANCELED"))
    failed, cancelled = fake.spans("databricks.jobs.run")
    assert failed.status.status_code is StatusCode.ERROR and failed.attributes["error.type"] == "FAILED"
    assert cancelled.attributes["error.type"] == "CANCELED"


def test_list_runs_observes_terminal_runs_and_falls_back_to_submitted_tasks(sdk):
    fake = sdk()
    _submit(fake, 3)
    page = {"runs": [_run(run_id=3, tasks=[]), _run(run_id=99, tasks=[])], "has_more": False}
    page["runs"][0].pop("tasks")
    fake.call("GET", "/api/2.2/jobs/runs/list", query={"job_id": 11}, response=page)
    (run,) = fake.spans("databricks.jobs.run")
    assert run.attributes["databricks.job.run_id"] == "3"
    assert run.attributes["databricks.dbu.estimated"] == 3.0
    assert fake.spans("databricks.jobs.task_run") == []


def test_untracked_runs_are_skipped_unless_opted_in_then_parented_by_their_tags(sdk):
    fake = sdk()
    fake.call("GET", GET_RUN, query={"run_id": 5}, response=_run(run_id=5))
    assert fake.spans("databricks.jobs.run") == []
    opted_in = sdk(trace_untracked_runs=True)
    trace_id, span_id = "ab" * 16, "cd" * 8
    tagged = _cluster(custom_tags={"otel_trace_id": trace_id, "otel_span_id": span_id})
    task = {"task_key": "t", "new_cluster": tagged, "start_time": T0, "end_time": T0 + HOUR_MS}
    opted_in.call("GET", GET_RUN, query={"run_id": 6}, response=_run(run_id=6, tasks=[task]))
    opted_in.call("GET", GET_RUN, query={"run_id": 8}, response=_run(run_id=8))
    tagged_run, root_run = opted_in.spans("databricks.jobs.run")
    assert f"{tagged_run.context.trace_id:032x}" == trace_id and f"{tagged_run.parent.span_id:016x}" == span_id
    assert tagged_run.attributes["databricks.run.tracked"] is False
    assert root_run.parent is None


def test_job_cluster_shared_by_tasks_is_charged_once_over_its_lifetime(sdk):
    fake = sdk()
    _submit(fake, 4)
    tasks = [
        {"task_key": "a", "job_cluster_key": "main", "start_time": T0, "end_time": T0 + HOUR_MS // 2},
        {"task_key": "b", "job_cluster_key": "main", "start_time": T0 + HOUR_MS // 2, "end_time": T0 + HOUR_MS},
        {"task_key": "c", "spark_python_task": {"python_file": "x.py"}, "start_time": T0, "end_time": T0 + HOUR_MS},
    ]
    run = _run(run_id=4, tasks=tasks, job_clusters=[{"job_cluster_key": "main", "new_cluster": _cluster()}])
    fake.call("GET", GET_RUN, query={"run_id": 4}, response=run)
    (span,) = fake.spans("databricks.jobs.run")
    assert span.attributes["databricks.dbu.estimated"] == 3.0 + 4.0  # jobs cluster 3 DBU/h + serverless 4 DBU/h
    assert len(fake.spans("databricks.jobs.task_run")) == 3
    serverless = [s for s in fake.spans("databricks.jobs.task_run") if s.attributes["databricks.job.task_key"] == "c"]
    assert serverless[0].attributes["databricks.compute.type"] == "jobs_serverless"
    assert serverless[0].attributes["databricks.cost.estimate_method"] == "serverless_rate"


def test_unknown_node_type_is_named_on_the_run_span(sdk):
    fake = sdk()
    _submit(fake, 5)
    task = {
        "task_key": "t",
        "new_cluster": _cluster(node_type_id="x9.mega"),
        "start_time": T0,
        "end_time": T0 + HOUR_MS,
    }
    fake.call("GET", GET_RUN, query={"run_id": 5}, response=_run(run_id=5, tasks=[task]))
    (span,) = fake.spans("databricks.jobs.run")
    assert span.attributes["databricks.cost.estimate_method"] == "unknown_node_type"
    assert span.attributes["databricks.cost.unknown_node_types"] == ("x9.mega",)
    assert span.attributes["databricks.dbu.estimated"] == 0.0


def test_autoscale_range_is_said_on_the_span(sdk):
    fake = sdk()
    _submit(fake, 6)
    spec = {"node_type_id": "i3.xlarge", "autoscale": {"min_workers": 2, "max_workers": 8}}
    task = {"task_key": "t", "new_cluster": spec, "start_time": T0, "end_time": T0 + HOUR_MS}
    fake.call("GET", GET_RUN, query={"run_id": 6}, response=_run(run_id=6, tasks=[task]))
    (span,) = fake.spans("databricks.jobs.run")
    assert span.attributes["databricks.cluster.workers_source"] == "autoscale_range"
    assert (span.attributes["databricks.dbu.estimated_min"], span.attributes["databricks.dbu.estimated_max"]) == (
        3.0,
        9.0,
    )
    assert span.attributes["databricks.dbu.estimated"] == 6.0


def test_existing_cluster_is_priced_as_all_purpose_once_its_spec_passed_through(sdk):
    fake = sdk()
    fake.call(
        "GET",
        "/api/2.1/clusters/get",
        query={"cluster_id": "c-1"},
        response={"cluster_id": "c-1", "state": "RUNNING", "node_type_id": "i3.xlarge", "num_workers": 1},
    )
    _submit(fake, 9)
    task = {"task_key": "t", "existing_cluster_id": "c-1", "start_time": T0, "end_time": T0 + HOUR_MS}
    fake.call("GET", GET_RUN, query={"run_id": 9}, response=_run(run_id=9, tasks=[task]))
    (span,) = fake.spans("databricks.jobs.run")
    assert span.attributes["databricks.compute.type"] == "all_purpose"
    assert span.attributes["databricks.dbu.estimated"] == 2.0
    assert abs(span.attributes["databricks.cost.estimated_usd"] - 2.0 * 0.55) < 1e-9


def test_repair_emits_the_run_again_after_the_repair(sdk):
    fake = sdk()
    _submit(fake, 12)
    fake.call("GET", GET_RUN, query={"run_id": 12}, response=_run(run_id=12, result="FAILED"))
    fake.call(
        "POST",
        "/api/2.2/jobs/runs/repair",
        body={"run_id": 12, "rerun_all_failed_tasks": True},
        response={"repair_id": 1},
    )
    fake.call("GET", GET_RUN, query={"run_id": 12}, response=_run(run_id=12))
    _, second = fake.spans("databricks.jobs.run")
    (repair,) = fake.spans("databricks.jobs.repair_run")
    assert second.parent.span_id == repair.context.span_id
    assert second.attributes["databricks.run.result_state"] == "SUCCESS"


def _started(number):
    from opentelemetry.trace import INVALID_SPAN_CONTEXT

    return StartedRun(INVALID_SPAN_CONTEXT, OrchestrationContext(), number)


def test_run_table_drops_the_oldest_when_full_and_counts_it():
    table = RunTable(max_runs=3)
    for number in range(5):
        table.start(("job_run", str(number)), _started(number))
    assert len(table) == 3 and table.dropped == 2
    assert table.claim(("job_run", "0")) == (True, None)
    claimed, started = table.claim(("job_run", "4"))
    assert claimed and started.start_ns == 4
    assert table.claim(("job_run", "4")) == (False, None)


def test_run_table_claims_are_bounded_too():
    table = RunTable(max_runs=2)
    for number in range(10):
        table.claim(("job_run", str(number)))
    assert len(table._claimed) == 2


def test_run_table_claim_is_exactly_once_across_threads():
    table = RunTable(max_runs=100)
    table.start(("job_run", "1"), _started(1))
    wins = []
    barrier = threading.Barrier(16)

    def claim():
        barrier.wait()
        claimed, started = table.claim(("job_run", "1"))
        if claimed:
            wins.append(started)

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1 and wins[0] is not None
