"""The ids on the span are written into Databricks as query tags, merged with the user's own."""

from opentelemetry_instrumentation_databricks import orchestration_context

from .conftest import history_of


def _trace_ids(span):
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def test_query_tags_seen_by_databricks_equal_the_span(instrument, connect, emulator):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        with orchestration_context(job_name="nightly", run_id="run-9"):
            cursor.execute("SELECT 1")
        statement_id = cursor.query_id
    (span,) = telemetry.spans()
    tags = history_of(emulator, statement_id).query_tags
    trace_id, span_id = _trace_ids(span)
    assert tags["dagster_snowflake_opaque_id"] == span.attributes["dagster.opaque_id"]
    assert tags["dagster_job_name"] == "nightly"
    assert tags["dagster_run_id"] == "run-9"
    assert tags["otel_trace_id"] == trace_id
    assert tags["otel_span_id"] == span_id


def test_users_session_and_statement_tags_are_kept(instrument, connect, emulator):
    instrument()
    connection = connect(query_tags={"team": "finance", "dagster_job_name": "user-wins"})
    with connection.cursor() as cursor:
        with orchestration_context(job_name="ours"):
            cursor.execute("SELECT 1", query_tags={"purpose": "report"})
        statement_id = cursor.query_id
    tags = history_of(emulator, statement_id).query_tags
    assert tags["team"] == "finance"
    assert tags["purpose"] == "report"
    assert tags["dagster_job_name"] == "user-wins"
    assert "dagster_snowflake_opaque_id" in tags


def test_positional_query_tags_are_merged_too(instrument, connect, emulator):
    instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1", None, False, None, {"positional": "yes"})
        statement_id = cursor.query_id
    tags = history_of(emulator, statement_id).query_tags
    assert tags["positional"] == "yes"
    assert "otel_trace_id" in tags


def test_full_user_tags_win_and_the_span_says_what_was_left_out(instrument, connect, emulator):
    telemetry = instrument()
    user_tags = {f"user_{i}": str(i) for i in range(19)}
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1", query_tags=user_tags)
        statement_id = cursor.query_id
    tags = history_of(emulator, statement_id).query_tags
    assert len(tags) == 20
    assert all(tags[key] == value for key, value in user_tags.items())
    assert "dagster_snowflake_opaque_id" in tags
    assert "otel_trace_id" in telemetry.spans()[0].attributes["databricks.tags.dropped"]


def test_custom_opaque_id_key(instrument, connect, emulator):
    telemetry = instrument(opaque_id_tag_key="cost_opaque_id")
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        statement_id = cursor.query_id
    tags = history_of(emulator, statement_id).query_tags
    assert tags["cost_opaque_id"] == telemetry.spans()[0].attributes["dagster.opaque_id"]


def test_tag_injection_off_leaves_the_statement_untouched(instrument, connect, emulator):
    instrument(inject_tags=False)
    with connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1", query_tags={"only": "mine"})
        statement_id = cursor.query_id
    assert history_of(emulator, statement_id).query_tags == {"only": "mine"}


def test_executemany_tags_every_statement_of_the_batch(instrument, connect, emulator):
    telemetry = instrument()
    with connect() as connection, connection.cursor() as cursor:
        cursor.executemany("SELECT :x", [{"x": 1}, {"x": 2}])
    opaque_id = telemetry.spans()[0].attributes["dagster.opaque_id"]
    tagged = [r for r in emulator.query_history if r.query_tags.get("dagster_snowflake_opaque_id") == opaque_id]
    assert len(tagged) == 2
