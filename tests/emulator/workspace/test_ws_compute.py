"""Clusters API 2.1 and command execution API 1.2 on the emulator, through the real SDK."""

from __future__ import annotations

import pytest
from databricks.sdk.errors import InvalidParameterValue, InvalidState, OperationFailed, ResourceDoesNotExist
from databricks.sdk.service import compute

NODE = "m5d.large"
SPARK = "16.4.x-scala2.12"


def test_cluster_life_cycle_tags_and_autoscale(ws, w, no_sleep):
    ws.auto_advance_on_poll = "settle"
    cluster = w.clusters.create_and_wait(
        cluster_name="analysts",
        spark_version=SPARK,
        node_type_id=NODE,
        autoscale=compute.AutoScale(min_workers=1, max_workers=4),
        custom_tags={"team": "bi"},
        autotermination_minutes=60,
    )
    assert cluster.state == compute.State.RUNNING
    assert cluster.custom_tags == {"team": "bi"}
    assert cluster.default_tags == {
        "Vendor": "Databricks",
        "Creator": "emulator-user@example.com",
        "ClusterName": "analysts",
        "ClusterId": cluster.cluster_id,
    }
    assert cluster.num_workers == 1 and cluster.cluster_source == compute.ClusterSource.API
    assert cluster.cluster_memory_mb == 2 * 8192

    ws.auto_advance_on_poll = None
    ws.clock.advance(ws.timing.autoscale_up_seconds)
    assert w.clusters.get(cluster.cluster_id).num_workers == 4

    ws.auto_advance_on_poll = "settle"
    terminated = w.clusters.delete_and_wait(cluster.cluster_id)
    assert terminated.state == compute.State.TERMINATED
    assert terminated.termination_reason.code == compute.TerminationReasonCode.USER_REQUEST
    assert w.clusters.start(cluster.cluster_id).result().state == compute.State.RUNNING

    record = next(c for c in ws.clusters if c.cluster_id == cluster.cluster_id)
    assert len(record.sessions) == 2
    assert record.sessions[0].termination_code == "USER_REQUEST"
    assert record.autoscale == {"min_workers": 1, "max_workers": 4}

    w.clusters.permanent_delete(cluster.cluster_id)
    with pytest.raises(ResourceDoesNotExist):
        w.clusters.get(cluster.cluster_id)


def test_edit_restarts_a_running_cluster(ws, w, no_sleep):
    cluster_id = ws.add_cluster("editable", num_workers=1)
    w.clusters.edit(cluster_id, spark_version=SPARK, node_type_id="m5d.xlarge", num_workers=3, cluster_name="edited")
    assert w.clusters.get(cluster_id).state == compute.State.RESTARTING
    ws.auto_advance_on_poll = "settle"
    edited = w.clusters.wait_get_cluster_running(cluster_id)
    assert (edited.node_type_id, edited.num_workers, edited.cluster_name) == ("m5d.xlarge", 3, "edited")
    assert edited.last_restarted_time > edited.start_time


def test_cluster_validation(ws, w):
    with pytest.raises(InvalidParameterValue, match="at most 45 custom tags"):
        w.clusters.create(spark_version=SPARK, node_type_id=NODE, custom_tags={f"k{i}": "v" for i in range(46)})
    with pytest.raises(InvalidParameterValue, match=r"Node type x9\.huge is not supported"):
        w.clusters.create(spark_version=SPARK, node_type_id="x9.huge")
    with pytest.raises(InvalidParameterValue, match="spark_version"):
        w.api_client.do("POST", "/api/2.1/clusters/create", body={"node_type_id": NODE})
    node_types = {n.node_type_id: n for n in w.clusters.list_node_types().node_types}
    assert node_types["m5d.xlarge"].memory_mb == 16384 and node_types["m5d.xlarge"].num_cores == 4
    assert w.clusters.select_spark_version(long_term_support=True)


def test_list_clusters_by_source(ws, w):
    cluster_id = ws.add_cluster("listed")
    listed = {
        c.cluster_id: c
        for c in w.clusters.list(filter_by=compute.ListClustersFilterBy(cluster_sources=[compute.ClusterSource.UI]))
    }
    assert cluster_id in listed
    assert all(c.cluster_source == compute.ClusterSource.UI for c in listed.values())


def test_commands_run_on_a_running_cluster(ws, w, no_sleep):
    cluster_id = ws.add_cluster("notebooks")
    ws.outcomes.command(output="42", contains="6 * 7")
    ws.outcomes.command(error="ZeroDivisionError: division by zero", contains="1/0")
    ws.auto_advance_on_poll = "settle"

    context = w.command_execution.create_and_wait(cluster_id=cluster_id, language=compute.Language.PYTHON)
    assert context.status == compute.ContextStatus.RUNNING

    answer = w.command_execution.execute_and_wait(cluster_id=cluster_id, context_id=context.id, command="print(6 * 7)")
    assert answer.status == compute.CommandStatus.FINISHED
    assert (answer.results.result_type, answer.results.data) == (compute.ResultType.TEXT, "42")

    failed = w.command_execution.execute_and_wait(cluster_id=cluster_id, context_id=context.id, command="1/0")
    assert failed.status == compute.CommandStatus.FINISHED
    assert failed.results.result_type == compute.ResultType.ERROR
    assert "ZeroDivisionError" in failed.results.cause

    recorded = [c for c in ws.commands if c.context_id == context.id]
    assert [c.status for c in recorded] == ["Finished", "Finished"]
    assert all(c.cluster_id == cluster_id and c.end_time > c.start_time for c in recorded)
    w.command_execution.destroy(cluster_id, context.id)


def test_cancel_a_command(ws, w, no_sleep):
    cluster_id = ws.add_cluster("cancel")
    ws.outcomes.command(seconds=3600)
    context = w.command_execution.create(cluster_id=cluster_id, language=compute.Language.SQL).result()
    command = w.command_execution.execute(cluster_id=cluster_id, context_id=context.id, command="SELECT 1").response
    ws.auto_advance_on_poll = "settle"
    cancelled = w.command_execution.cancel(cluster_id=cluster_id, context_id=context.id, command_id=command.id).result()
    assert cancelled.status == compute.CommandStatus.CANCELLED


def test_commands_need_a_running_cluster(ws, w, no_sleep):
    cluster_id = ws.add_cluster("stopped")
    w.clusters.delete(cluster_id)
    ws.clock.advance(60)
    with pytest.raises(InvalidState, match="not running"):
        w.command_execution.create(cluster_id=cluster_id, language=compute.Language.PYTHON)
    with pytest.raises(InvalidParameterValue, match="does not exist"):
        w.command_execution.create(cluster_id="0000-000000-missing0", language=compute.Language.PYTHON)


def test_a_starting_cluster_is_retried_by_the_sdk_on_emulator_time(ws, no_sleep):
    cluster_id = ws.add_cluster("starting")
    ws.clock.advance(1)
    client = ws.workspace_client(retry_timeout_seconds=3600)
    client.clusters.restart(cluster_id)
    before = ws.clock.time()

    context = client.command_execution.create(cluster_id=cluster_id, language=compute.Language.PYTHON)

    assert context.context_id
    assert ws.clock.time() - before >= ws.timing.cluster_start_seconds


def test_context_waiter_fails_when_the_cluster_goes_away(ws, w, no_sleep):
    cluster_id = ws.add_cluster("short lived")
    ws.timing.context_start_seconds = 30
    waiter = w.command_execution.create(cluster_id=cluster_id, language=compute.Language.PYTHON)
    w.clusters.delete(cluster_id)
    ws.clock.advance(60)
    with pytest.raises(OperationFailed, match="ERROR"):
        waiter.result()
