"""Tags and trace context written into request bodies: within limits, never over the user's keys, never into the
user's own objects, and not at all when ``inject_tags`` is off."""

import copy

from opentelemetry_instrumentation_databricks.context import orchestration_context

SUBMIT = "/api/2.2/jobs/runs/submit"


def _submit_body(**cluster):
    return {
        "tasks": [
            {
                "task_key": "etl",
                "notebook_task": {"notebook_path": "/Repos/etl"},
                "new_cluster": {
                    "spark_version": "15.4.x-scala2.12",
                    "node_type_id": "i3.xlarge",
                    "num_workers": 2,
                    **cluster,
                },
            },
            {"task_key": "report", "sql_task": {"warehouse_id": "wh1", "query": {"query_id": "q"}}},
        ]
    }


def test_submit_tags_each_new_cluster_and_names_the_run(sdk):
    fake = sdk()
    user = _submit_body(custom_tags={"team": "data"})
    before = copy.deepcopy(user)
    with orchestration_context(job_name="nightly", run_id="r-1"):
        fake.call("POST", SUBMIT, body=user, response={"run_id": 5})
    assert user == before
    sent = fake.sent[0]["body"]
    cluster = sent["tasks"][0]["new_cluster"]
    (span,) = fake.spans("databricks.jobs.submit")
    context = span.get_span_context()
    assert cluster["custom_tags"]["team"] == "data"
    assert cluster["custom_tags"]["dagster_job_name"] == "nightly"
    assert cluster["custom_tags"]["dagster_run_id"] == "r-1"
    assert cluster["custom_tags"]["otel_trace_id"] == f"{context.trace_id:032x}"
    assert cluster["custom_tags"]["dagster_snowflake_opaque_id"] == span.attributes["dagster.opaque_id"]
    assert cluster["spark_env_vars"]["TRACEPARENT"].startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
    assert "new_cluster" not in sent["tasks"][1]
    assert "dagster_job_name=nightly" in sent["run_name"]
    assert "tags" not in sent
    assert span.attributes["databricks.job.run_id"] == "5"


def test_user_keys_and_variables_are_never_overwritten(sdk):
    fake = sdk()
    user = _submit_body(
        custom_tags={"dagster_job_name": "mine", "otel_trace_id": "theirs"}, spark_env_vars={"TRACEPARENT": "keep"}
    )
    user["run_name"] = "my run"
    with orchestration_context(job_name="nightly"):
        fake.call("POST", SUBMIT, body=user, response={"run_id": 5})
    sent = fake.sent[0]["body"]
    cluster = sent["tasks"][0]["new_cluster"]
    assert cluster["custom_tags"]["dagster_job_name"] == "mine"
    assert cluster["custom_tags"]["otel_trace_id"] == "theirs"
    assert cluster["spark_env_vars"] == {"TRACEPARENT": "keep"}
    assert sent["run_name"] == "my run"


def test_full_cluster_tags_keep_the_users_and_report_ours_dropped(sdk):
    fake = sdk()
    user_tags = {f"k{i}": "v" for i in range(44)}
    fake.call("POST", SUBMIT, body=_submit_body(custom_tags=user_tags), response={"run_id": 5})
    tags = fake.sent[0]["body"]["tasks"][0]["new_cluster"]["custom_tags"]
    assert len(tags) == 45
    assert all(tags[key] == "v" for key in user_tags)
    assert "dagster_snowflake_opaque_id" in tags
    (span,) = fake.spans("databricks.jobs.submit")
    assert "otel_trace_id" in span.attributes["databricks.tags.dropped"]


def test_inject_tags_off_sends_the_users_body_object_untouched(sdk):
    fake = sdk(inject_tags=False)
    user = _submit_body()
    before = copy.deepcopy(user)
    fake.call("POST", SUBMIT, body=user, response={"run_id": 5})
    assert fake.sent[0]["body"] is user
    assert user == before
    (span,) = fake.spans("databricks.jobs.submit")
    assert span.attributes["databricks.job.run_id"] == "5"


def test_job_create_tags_the_job_and_its_job_clusters(sdk):
    fake = sdk()
    body = {
        "name": "bundle job",
        "tags": {"env": "prod"},
        "job_clusters": [{"job_cluster_key": "main", "new_cluster": {"node_type_id": "m5d.large", "num_workers": 1}}],
        "tasks": [{"task_key": "a", "job_cluster_key": "main", "spark_python_task": {"python_file": "x.py"}}],
    }
    with orchestration_context(job_name="deploy"):
        fake.call("POST", "/api/2.2/jobs/create", body=body, response={"job_id": 9})
    sent = fake.sent[0]["body"]
    assert sent["tags"]["env"] == "prod" and sent["tags"]["dagster_job_name"] == "deploy"
    assert sent["job_clusters"][0]["new_cluster"]["custom_tags"]["dagster_job_name"] == "deploy"
    assert "spark_env_vars" not in sent["job_clusters"][0]["new_cluster"]
    assert "run_name" not in sent
    (span,) = fake.spans("databricks.jobs.create")
    assert span.attributes["databricks.job.id"] == "9"


def test_job_tags_respect_the_limit_of_25(sdk):
    fake = sdk()
    tags = {f"k{i}": "v" for i in range(24)}
    fake.call("POST", "/api/2.2/jobs/reset", body={"job_id": 1, "new_settings": {"tags": tags}})
    sent = fake.sent[0]["body"]["new_settings"]["tags"]
    assert len(sent) == 25 and all(sent[key] == "v" for key in tags)


def test_update_without_tags_does_not_add_a_tags_field(sdk):
    fake = sdk()
    fake.call("POST", "/api/2.2/jobs/update", body={"job_id": 1, "new_settings": {"max_concurrent_runs": 2}})
    assert "tags" not in fake.sent[0]["body"]["new_settings"]
    fake.call("POST", "/api/2.2/jobs/update", body={"job_id": 1, "new_settings": {"tags": {"a": "b"}}})
    assert "otel_trace_id" in fake.sent[1]["body"]["new_settings"]["tags"]


def test_trace_context_parameters_only_when_opted_in(sdk):
    body = {
        "tasks": [
            {"task_key": "nb", "notebook_task": {"notebook_path": "/x", "base_parameters": {"a": "1"}}},
            {"task_key": "whl", "python_wheel_task": {"package_name": "p", "entry_point": "main"}},
            {"task_key": "pos", "python_wheel_task": {"package_name": "p", "entry_point": "m", "parameters": ["x"]}},
        ]
    }
    off = sdk()
    off.call("POST", SUBMIT, body=body, response={"run_id": 1})
    assert "traceparent" not in off.sent[0]["body"]["tasks"][0]["notebook_task"]["base_parameters"]
    on = sdk(trace_context_parameters=True)
    on.call("POST", SUBMIT, body=body, response={"run_id": 1})
    tasks = on.sent[0]["body"]["tasks"]
    assert tasks[0]["notebook_task"]["base_parameters"]["traceparent"].startswith("00-")
    assert tasks[0]["notebook_task"]["base_parameters"]["a"] == "1"
    assert tasks[1]["python_wheel_task"]["named_parameters"]["traceparent"].startswith("00-")
    assert "named_parameters" not in tasks[2]["python_wheel_task"]
    on.call("POST", "/api/2.2/jobs/run-now", body={"job_id": 3, "job_parameters": {"traceparent": "mine"}})
    assert on.sent[1]["body"]["job_parameters"] == {"traceparent": "mine"}
    on.call("POST", "/api/2.2/jobs/run-now", body={"job_id": 3})
    assert on.sent[2]["body"]["job_parameters"]["traceparent"].startswith("00-")
    off.call("POST", "/api/2.2/jobs/run-now", body={"job_id": 3})
    assert off.sent[1]["body"] == {"job_id": 3}


def test_pipeline_create_tags_pipeline_and_clusters(sdk):
    fake = sdk()
    body = {"name": "dlt", "tags": {"owner": "me"}, "clusters": [{"label": "default", "num_workers": 1}]}
    before = copy.deepcopy(body)
    fake.call("POST", "/api/2.0/pipelines", body=body, response={"pipeline_id": "p-1"})
    sent = fake.sent[0]["body"]
    assert body == before
    assert sent["tags"]["owner"] == "me" and "otel_trace_id" in sent["tags"]
    assert "otel_trace_id" in sent["clusters"][0]["custom_tags"]
    (span,) = fake.spans("databricks.pipelines.create")
    assert span.attributes["databricks.pipeline.id"] == "p-1"


def test_statement_query_tags_are_appended_as_key_value_entries(sdk):
    fake = sdk()
    body = {"statement": "SELECT 1", "warehouse_id": "wh1", "query_tags": [{"key": "team", "value": "x"}]}
    fake.call(
        "POST", "/api/2.0/sql/statements", body=body, response={"statement_id": "s1", "status": {"state": "SUCCEEDED"}}
    )
    tags = fake.sent[0]["body"]["query_tags"]
    assert tags[0] == {"key": "team", "value": "x"}
    keys = [tag["key"] for tag in tags]
    assert "otel_trace_id" in keys and len(keys) == len(set(keys)) <= 20
    assert body["query_tags"] == [{"key": "team", "value": "x"}]
