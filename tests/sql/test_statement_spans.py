"""One CLIENT span per statement, with the Databricks ids and the stable database conventions."""

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from opentelemetry_instrumentation_databricks import orchestration_context

from .conftest import history_of


def test_execute_makes_one_client_span_with_databricks_ids(instrument, connect, emulator):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 41 + 1 AS answer")
        assert cursor.fetchall()[0][0] == 42
        statement_id = cursor.query_id
    (span,) = telemetry.spans()
    assert span.kind is SpanKind.CLIENT
    assert span.name == "SELECT"
    attributes = span.attributes
    assert attributes["db.system.name"] == "databricks"
    assert attributes["databricks.statement_id"] == statement_id
    assert attributes["databricks.warehouse.id"] == emulator.warehouse_id
    assert attributes["databricks.session_id"] == connection.get_session_id_hex()
    assert attributes["databricks.compute.type"] == "sql_warehouse"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["server.port"] == emulator.port
    assert attributes["db.operation.name"] == "SELECT"
    assert attributes["db.query.text"] == "SELECT ? + ? AS answer"
    assert len(attributes["dagster.opaque_id"]) == 32
    history_of(emulator, statement_id)


def test_fetching_adds_no_spans(instrument, connect):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT * FROM range(5000)")
        while cursor.fetchmany(100):
            pass
    assert len(telemetry.spans()) == 1


def test_span_names_the_table_and_namespace(instrument, connect):
    telemetry = instrument()
    with connect(catalog="main", schema="default") as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS span_names (id INT)")
        cursor.execute("INSERT INTO span_names VALUES (1), (2)")
    _create, insert = telemetry.spans()
    assert insert.name == "INSERT span_names"
    assert insert.attributes["db.collection.name"] == "span_names"
    assert insert.attributes["db.namespace"] == "main|default"


def test_orchestration_context_lands_on_the_span(instrument, connect):
    telemetry = instrument()
    context = orchestration_context(job_name="nightly", run_id="run-7", asset_key="sales/orders", partition_key="p1")
    with connect() as connection, connection.cursor() as cursor, context:
        cursor.execute("SELECT 1")
    attributes = telemetry.spans()[0].attributes
    assert attributes["dagster.job.name"] == "nightly"
    assert attributes["dagster.run.id"] == "run-7"
    assert attributes["dagster.asset.key"] == "sales/orders"
    assert attributes["dagster.partition.key"] == "p1"


def test_raw_query_text_only_when_asked(instrument, connect):
    telemetry = instrument(capture_query_text="raw")
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 'visible' AS v")
    assert telemetry.spans()[0].attributes["db.query.text"] == "SELECT 'visible' AS v"


def test_query_text_off(instrument, connect):
    telemetry = instrument(capture_query_text="off")
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 'hidden' AS v")
    assert "db.query.text" not in telemetry.spans()[0].attributes


def test_named_parameters_never_reach_the_span(instrument, connect):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT :who AS who", {"who": "top-secret-value"})
        assert cursor.fetchone()[0] == "top-secret-value"
    (span,) = telemetry.spans()
    assert "top-secret-value" not in str(dict(span.attributes))


def test_executemany_is_one_batch_span(instrument, connect):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("CREATE OR REPLACE TABLE batch_rows (id INT)")
        cursor.executemany("INSERT INTO batch_rows VALUES (:id)", [{"id": 1}, {"id": 2}, {"id": 3}])
        cursor.execute("SELECT count(*) FROM batch_rows")
        assert cursor.fetchone()[0] == 3
    _create, batch, _count = telemetry.spans()
    assert batch.name == "BATCH INSERT batch_rows"
    assert batch.attributes["db.operation.name"] == "BATCH INSERT"
    assert batch.attributes["db.operation.batch.size"] == 3


def test_metadata_calls_get_spans(instrument, connect):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.catalogs()
        assert "main" in [row[0] for row in cursor.fetchall()]
        cursor.schemas(catalog_name="main")
        cursor.fetchall()
    assert [span.name for span in telemetry.spans()] == ["GetCatalogs", "GetSchemas"]


def test_async_execution_is_one_span_covering_the_statement(instrument, connect):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.ASYNC_DEFAULT_POLLING_INTERVAL = 0.01
        cursor.execute_async("SELECT 7")
        assert telemetry.spans() == ()
        cursor.get_async_execution_result()
        assert cursor.fetchone()[0] == 7
        statement_id = cursor.query_id
    (span,) = telemetry.spans()
    assert span.attributes["databricks.statement_id"] == statement_id


def test_async_statement_never_collected_still_ends_its_span_at_close(instrument, connect):
    telemetry = instrument()
    with connect() as connection:
        cursor = connection.cursor()
        cursor.execute_async("SELECT 7")
        cursor.close()
    assert len(telemetry.spans()) == 1


def test_sql_error_keeps_the_users_exception_and_marks_the_span(instrument, connect):
    from databricks.sql.exc import DatabaseError

    instrument_telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor, pytest.raises(DatabaseError) as raised:
        cursor.execute("SELECT * FROM table_that_does_not_exist")
    assert "TABLE_OR_VIEW_NOT_FOUND" in str(raised.value)
    (span,) = instrument_telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "TABLE_OR_VIEW_NOT_FOUND"
    assert span.attributes["db.response.status_code"] == "42P01"
    assert "table_that_does_not_exist" not in (span.status.description or "")


def test_estimate_and_metrics(instrument, connect, emulator):
    telemetry = instrument(warehouse_sizes={emulator.warehouse_id: "Medium*2"}, sql_dollars_per_dbu=0.5)
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    (span,) = telemetry.spans()
    seconds = (span.end_time - span.start_time) / 1e9
    assert span.attributes["databricks.dbu.estimated"] == pytest.approx(48 * seconds / 3600)
    assert span.attributes["databricks.cost.estimated_usd"] == pytest.approx(0.5 * 48 * seconds / 3600)
    assert span.attributes["databricks.cost.estimate_method"] == "configured_size"
    (duration,) = telemetry.metric_points("db.client.operation.duration")
    assert duration.count == 1
    assert duration.attributes["databricks.warehouse.id"] == emulator.warehouse_id
    assert "databricks.statement_id" not in duration.attributes
    (dbu,) = telemetry.metric_points("databricks.dbu.estimated")
    assert dbu.value == pytest.approx(span.attributes["databricks.dbu.estimated"])
    (dollars,) = telemetry.metric_points("databricks.cost.estimated")
    assert dollars.value == pytest.approx(span.attributes["databricks.cost.estimated_usd"])


def test_unknown_warehouse_uses_the_default_size_and_says_so(instrument, connect):
    telemetry = instrument(default_warehouse_size="Large")
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    (span,) = telemetry.spans()
    seconds = (span.end_time - span.start_time) / 1e9
    assert span.attributes["databricks.cost.estimate_method"] == "default_size"
    assert span.attributes["databricks.dbu.estimated"] == pytest.approx(40 * seconds / 3600)


def test_returned_rows_when_the_result_arrived_whole(instrument, connect):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT * FROM range(42)")
        assert len(cursor.fetchall()) == 42
        cursor.execute("CREATE OR REPLACE TABLE returned_rows_ddl (id INT)")
    select, create = telemetry.spans()
    assert select.attributes["db.response.returned_rows"] == 42
    assert "db.response.returned_rows" not in create.attributes


def test_a_huge_in_list_gives_a_short_query_text_and_a_capped_raw_one(instrument, connect):
    telemetry = instrument(capture_query_text="raw", max_query_text_length=1000)
    statement = f"SELECT count(*) FROM range(10) WHERE id IN ({', '.join(str(n) for n in range(20_000))})"
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute(statement)
        assert cursor.fetchall()[0][0] == 10
    (span,) = telemetry.spans()
    assert span.attributes["db.query.text"] == statement[:1000]
    assert span.attributes["databricks.query.text_original_length"] == len(statement)


def test_sanitized_text_of_a_huge_in_list_is_collapsed(instrument, connect):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM range(10) WHERE id IN ({', '.join(str(n) for n in range(20_000))}) ORDER BY 1")
    (span,) = telemetry.spans()
    assert span.attributes["db.query.text"] == "SELECT id FROM range(?) WHERE id IN (?, ?, ?, ...) ORDER BY 1"
