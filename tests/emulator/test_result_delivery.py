"""Large results, whole: EXTERNAL_LINKS and cloud-fetch result files served by the emulator itself, Arrow
streams, expiring links, a bounded file store; driven by the real SDK, the real connector and plain urllib."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pyarrow
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.core import Config
from databricks.sdk.service.sql import Disposition, Format, StatementState

from databricks_emulator.sql.delivery import ResultSettings
from databricks_emulator.sql.links import ResultFiles

MILLION = 1_000_000


def client(workspace) -> WorkspaceClient:
    config = Config(host=workspace.host, token=workspace.token, retry_timeout_seconds=5, http_timeout_seconds=30)
    return WorkspaceClient(config=config)


def download(url: str) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url), timeout=30) as response:
        return response.read()


def linked_chunks(w, response):
    """Every (chunk, file bytes) of an EXTERNAL_LINKS result, following next_chunk_index."""
    link = response.result.external_links[0]
    while True:
        yield link, download(link.external_link)
        if link.next_chunk_index is None:
            return
        link = w.statement_execution.get_statement_result_chunk_n(
            response.statement_id, link.next_chunk_index
        ).external_links[0]


def test_a_million_rows_by_external_links_through_the_sdk_arrive_complete(ws):
    w = client(ws)
    response = w.statement_execution.execute_statement(
        statement="SELECT id FROM range(1000000)",
        warehouse_id=ws.warehouse_id,
        disposition=Disposition.EXTERNAL_LINKS,
        format=Format.ARROW_STREAM,
    )
    assert response.status.state == StatementState.SUCCEEDED
    assert response.manifest.format == Format.ARROW_STREAM
    assert response.manifest.total_row_count == MILLION
    assert response.manifest.total_chunk_count == 10
    seen = 0
    for link, body in linked_chunks(w, response):
        assert link.row_offset == seen
        table = pyarrow.ipc.open_stream(body).read_all()
        assert table.num_rows == link.row_count
        assert table.column("id")[0].as_py() == seen
        seen += table.num_rows
    assert seen == MILLION


def test_a_million_rows_through_the_connector_arrive_complete(connect):
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id FROM range(1000000)")
        table = cursor.fetchall_arrow()
    assert table.num_rows == MILLION
    assert table.column("id").to_pylist()[-3:] == [MILLION - 3, MILLION - 2, MILLION - 1]


def test_json_and_csv_result_files_hold_rendered_values(ws):
    w = client(ws)
    as_json = w.statement_execution.execute_statement(
        statement="SELECT 1 AS one, 'a,b' AS text, NULL AS nothing",
        warehouse_id=ws.warehouse_id,
        disposition=Disposition.EXTERNAL_LINKS,
        format=Format.JSON_ARRAY,
    )
    ((_, body),) = linked_chunks(w, as_json)
    assert json.loads(body) == [["1", "a,b", None]]
    as_csv = w.statement_execution.execute_statement(
        statement="SELECT 1 AS one, 'a,b' AS text",
        warehouse_id=ws.warehouse_id,
        disposition=Disposition.EXTERNAL_LINKS,
        format=Format.CSV,
    )
    ((_, body),) = linked_chunks(w, as_csv)
    assert body.decode() == '1,"a,b"\n'


def test_inline_or_external_links_sends_a_small_arrow_result_as_an_attachment(ws):
    response = ws.workspace_client().api_client.do(
        "POST",
        "/api/2.0/sql/statements",
        body={
            "statement": "SELECT id FROM range(3)",
            "warehouse_id": ws.warehouse_id,
            "disposition": "INLINE_OR_EXTERNAL_LINKS",
            "format": "ARROW_STREAM",
        },
    )
    assert response["manifest"]["total_chunk_count"] == 1
    table = pyarrow.ipc.open_stream(base64.b64decode(response["result"]["attachment"])).read_all()
    assert table.column("id").to_pylist() == [0, 1, 2]


def test_inline_or_external_links_sends_a_large_result_by_link(ws, monkeypatch):
    monkeypatch.setattr(ws.result_delivery, "inline_limit_bytes", 100)
    response = ws.workspace_client().api_client.do(
        "POST",
        "/api/2.0/sql/statements",
        body={
            "statement": "SELECT id FROM range(1000)",
            "warehouse_id": ws.warehouse_id,
            "disposition": "INLINE_OR_EXTERNAL_LINKS",
            "format": "ARROW_STREAM",
        },
    )
    (link,) = response["result"]["external_links"]
    assert pyarrow.ipc.open_stream(download(link["external_link"])).read_all().num_rows == 1000


def test_a_link_needs_no_token_and_expires_by_the_emulator_clock(frozen_ws):
    w = client(frozen_ws)
    response = w.statement_execution.execute_statement(
        statement="SELECT 7 AS seven",
        warehouse_id=frozen_ws.warehouse_id,
        disposition=Disposition.EXTERNAL_LINKS,
        format=Format.ARROW_STREAM,
    )
    link = response.result.external_links[0]
    assert link.expiration.endswith("Z")
    assert pyarrow.ipc.open_stream(download(link.external_link)).read_all().column(0).to_pylist() == [7]
    frozen_ws.clock.advance(frozen_ws.result_files.lifetime_seconds + 1)
    with pytest.raises(urllib.error.HTTPError) as expired:
        download(link.external_link)
    assert expired.value.code == 403
    assert "expired" in expired.value.read().decode()
    fresh = w.statement_execution.get_statement_result_chunk_n(response.statement_id, 0).external_links[0]
    assert pyarrow.ipc.open_stream(download(fresh.external_link)).read_all().num_rows == 1


def test_an_unknown_link_is_a_404_naming_the_reason(ws):
    with pytest.raises(urllib.error.HTTPError) as unknown:
        download(f"{ws.host}/emulator/v1/result-files/not-a-token")
    assert unknown.value.code == 404
    assert "evicted" in unknown.value.read().decode()


def test_the_file_store_is_bounded_by_bytes_and_counts_what_it_evicts(ws):
    files = ResultFiles(ws.clock, ws.host, max_bytes=250)
    first = files.publish(b"x" * 100)
    second = files.publish(b"y" * 100)
    third = files.publish(b"z" * 100)
    assert files.evicted == 1
    assert files.stored_bytes == 200
    assert files.download(second.token) == b"y" * 100
    assert files.download(third.token) == b"z" * 100
    with pytest.raises(Exception, match="evicted"):
        files.download(first.token)


def test_chunk_rows_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="chunk_rows"):
        ResultSettings(chunk_rows=0)


def test_timestamps_carry_the_session_time_zone(ws):
    with (
        ws.sql_connect(session_configuration={"timezone": "Europe/Amsterdam"}) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT CAST('2022-03-02 12:54:56' AS TIMESTAMP) AS at")
        table = cursor.fetchall_arrow()
    assert table.schema.field("at").type == pyarrow.timestamp("us", tz="Europe/Amsterdam")
    assert str(table.column("at")[0].as_py().tzinfo) == "Europe/Amsterdam"
