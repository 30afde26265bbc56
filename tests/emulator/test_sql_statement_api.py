"""The Statement Execution and SQL warehouses REST APIs, driven by the real ``databricks-sdk``."""

from __future__ import annotations

import datetime as dt

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.service.sql import (
    ColumnInfoTypeName,
    Disposition,
    Format,
    QueryTag,
    ServiceErrorCode,
    State,
    StatementParameterListItem,
    StatementState,
)


def client(workspace) -> WorkspaceClient:
    config = Config(host=workspace.host, token=workspace.token, retry_timeout_seconds=5, http_timeout_seconds=10)
    return WorkspaceClient(config=config)


@pytest.fixture(scope="module")
def w(ws):
    return client(ws)


def record_of(workspace, statement_id):
    found = [record for record in workspace.query_history if record.statement_id == statement_id]
    assert len(found) == 1
    return found[0]


def test_execute_statement_with_parameters_and_query_tags(ws, w):
    response = w.statement_execution.execute_statement(
        statement="SELECT :x + 1 AS x, 'a' AS s, NULL AS n",
        warehouse_id=ws.warehouse_id,
        parameters=[StatementParameterListItem(name="x", value="41", type="INT")],
        query_tags=[QueryTag(key="team", value="data"), QueryTag(key="flag")],
        wait_timeout="10s",
    )
    assert response.status.state == StatementState.SUCCEEDED
    assert response.result.data_array == [["42", "a", None]]
    columns = response.manifest.schema.columns
    assert [(column.name, column.type_name) for column in columns] == [
        ("x", ColumnInfoTypeName.INT),
        ("s", ColumnInfoTypeName.STRING),
        ("n", ColumnInfoTypeName.NULL),
    ]
    record = record_of(ws, response.statement_id)
    assert record.query_tags == {"team": "data", "flag": None}
    assert record.protocol == "sea"
    assert record.client_application == "Databricks SDK for Python"


def test_catalog_and_schema_of_a_sessionless_statement(ws, w):
    response = w.statement_execution.execute_statement(
        statement="SELECT current_catalog(), current_schema()",
        warehouse_id=ws.warehouse_id,
        catalog="system",
        schema="billing",
    )
    assert response.result.data_array == [["system", "billing"]]


def test_failed_statement_is_a_200_with_failed_state(ws, w):
    response = w.statement_execution.execute_statement(statement="SELECT * FROM nope", warehouse_id=ws.warehouse_id)
    assert response.status.state == StatementState.FAILED
    assert response.status.error.error_code == ServiceErrorCode.BAD_REQUEST
    assert response.status.error.message.startswith("[TABLE_OR_VIEW_NOT_FOUND]")
    assert record_of(ws, response.statement_id).execution_status == "FAILED"


def test_results_come_in_chunks(ws, w, monkeypatch):
    monkeypatch.setattr(ws.result_delivery, "chunk_rows", 10)
    response = w.statement_execution.execute_statement(
        statement="SELECT id FROM range(25)", warehouse_id=ws.warehouse_id
    )
    assert response.manifest.total_row_count == 25
    assert response.manifest.total_chunk_count == 3
    assert response.result.next_chunk_index == 1
    rows = list(response.result.data_array)
    chunk_index = response.result.next_chunk_index
    while chunk_index is not None:
        chunk = w.statement_execution.get_statement_result_chunk_n(response.statement_id, chunk_index)
        assert chunk.row_offset == len(rows)
        rows.extend(chunk.data_array)
        chunk_index = chunk.next_chunk_index
    assert [int(row[0]) for row in rows] == list(range(25))


def test_inline_arrow_is_refused_like_databricks_does(ws, w):
    with pytest.raises(Exception, match="INLINE"):
        w.statement_execution.execute_statement(
            statement="SELECT 1",
            warehouse_id=ws.warehouse_id,
            disposition=Disposition.INLINE,
            format=Format.ARROW_STREAM,
        )


def test_async_statement_runs_until_the_clock_reaches_its_end_and_can_be_canceled(frozen_ws):
    w = client(frozen_ws)
    started = w.statement_execution.execute_statement(
        statement="SELECT 1", warehouse_id=frozen_ws.warehouse_id, wait_timeout="0s"
    )
    assert started.status.state == StatementState.PENDING
    assert w.statement_execution.get_statement(started.statement_id).status.state == StatementState.RUNNING
    frozen_ws.clock.advance(1)
    done = w.statement_execution.get_statement(started.statement_id)
    assert done.status.state == StatementState.SUCCEEDED
    assert done.result.data_array == [["1"]]

    other = w.statement_execution.execute_statement(
        statement="SELECT 2", warehouse_id=frozen_ws.warehouse_id, wait_timeout="0s"
    )
    w.statement_execution.cancel_execution(other.statement_id)
    assert w.statement_execution.get_statement(other.statement_id).status.state == StatementState.CANCELED
    assert record_of(frozen_ws, other.statement_id).execution_status == "CANCELED"


def test_bad_wait_timeout_is_rejected(ws, w):
    with pytest.raises(Exception, match="wait"):
        w.statement_execution.execute_statement(statement="SELECT 1", warehouse_id=ws.warehouse_id, wait_timeout="3s")


def test_get_and_list_warehouses(ws, w):
    warehouse = w.warehouses.get(ws.warehouse_id)
    assert warehouse.id == ws.warehouse_id
    assert warehouse.cluster_size == "Small"
    assert warehouse.state == State.RUNNING
    assert warehouse.num_clusters == 1
    assert warehouse.odbc_params.hostname == "127.0.0.1"
    assert warehouse.odbc_params.port == ws.port
    assert warehouse.odbc_params.path == ws.http_path
    assert warehouse.jdbc_url.startswith("jdbc:databricks://127.0.0.1:")
    assert warehouse.enable_serverless_compute is True
    assert warehouse.warehouse_type.value == "PRO"
    assert ws.warehouse_id in {listed.id for listed in w.warehouses.list()}


def test_edit_stop_and_start_a_warehouse(ws, w):
    created = w.warehouses.create(name="Edited", cluster_size="X-Small", max_num_clusters=2).response
    w.warehouses.edit(created.id, cluster_size="Medium", auto_stop_mins=5)
    assert (w.warehouses.get(created.id).cluster_size, w.warehouses.get(created.id).auto_stop_mins) == ("Medium", 5)
    w.warehouses.stop(created.id)
    stopped = w.warehouses.get(created.id)
    assert (stopped.state, stopped.num_clusters) == (State.STOPPED, 0)
    w.warehouses.start(created.id)
    assert w.warehouses.get(created.id).state == State.RUNNING
    w.warehouses.delete(created.id)


def test_json_timestamps_are_instants_with_the_session_offset_and_ntz_stays_naive(ws, w):
    query = (
        "SELECT TIMESTAMP('2021-09-30 11:27:35.123+04:00') AS ltz, CAST('2021-09-30 11:27:35' AS TIMESTAMP_NTZ) AS ntz"
    )
    response = w.statement_execution.execute_statement(statement=query, warehouse_id=ws.warehouse_id)
    assert response.result.data_array == [["2021-09-30T07:27:35.123Z", "2021-09-30 11:27:35"]]
    sea = {"use_sea": True, "use_cloud_fetch": False}
    with ws.sql_connect(**sea) as connection, connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Europe/Amsterdam'")
        cursor.execute("SELECT TIMESTAMP('2021-09-30 11:27:35.000001+04:00')")
        (moment,) = cursor.fetchone()
    assert moment.utcoffset() == dt.timedelta(hours=2)
    assert moment == dt.datetime(2021, 9, 30, 7, 27, 35, 1, tzinfo=dt.timezone.utc)
