from databricks.sql.utils import serialize_query_tags
from hypothesis import given
from hypothesis import strategies as st

from opentelemetry_instrumentation_databricks.sql.connection import parse_query_tags, warehouse_id_of
from opentelemetry_instrumentation_databricks.sql.errors import error_facts


def test_warehouse_id_from_http_path():
    assert warehouse_id_of("/sql/1.0/warehouses/abc123") == "abc123"
    assert warehouse_id_of("/sql/1.0/endpoints/abc123") == "abc123"
    assert warehouse_id_of("sql/protocolv1/o/123/0123-456789-abc") is None


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8).filter(lambda k: not set(k) & set(",:")),
        st.none() | st.text(max_size=8),
        max_size=6,
    )
)
def test_session_tags_round_trip_through_the_connectors_serializer(tags):
    assert parse_query_tags(serialize_query_tags(tags)) == tags


def test_error_class_and_sqlstate_come_from_the_databricks_message():
    error = RuntimeError("[TABLE_OR_VIEW_NOT_FOUND] The table or view `x` cannot be found. SQLSTATE: 42P01")
    assert error_facts(error) == ("TABLE_OR_VIEW_NOT_FOUND", "42P01")


def test_error_without_databricks_class_uses_the_exception_class():
    assert error_facts(ConnectionError("refused")) == ("ConnectionError", None)


@given(st.binary(min_size=16, max_size=16))
def test_statement_id_is_formatted_exactly_as_the_connector_formats_it(guid):
    from databricks.sql.backend.types import BackendType, CommandId

    from opentelemetry_instrumentation_databricks.sql.results import statement_id_of

    command = CommandId(BackendType.THRIFT, guid)
    assert statement_id_of(command) == command.to_hex_guid()


def test_statement_id_of_a_sea_command_is_its_string_id():
    from databricks.sql.backend.types import CommandId

    from opentelemetry_instrumentation_databricks.sql.results import statement_id_of

    command = CommandId.from_sea_statement_id("01f0a1b2-c3d4-e5f6-0718-293a4b5c6d7e")
    assert statement_id_of(command) == "01f0a1b2-c3d4-e5f6-0718-293a4b5c6d7e"
