import logging

import pytest

from opentelemetry_instrumentation_databricks.config import ConfigurationError, Settings
from opentelemetry_instrumentation_databricks.cost.rates import WarehouseShape


def test_defaults_without_options_or_environment():
    settings = Settings.load({}, {})
    assert settings.capture_query_text == "sanitized"
    assert settings.inject_tags is True
    assert settings.opaque_id_tag_key == "dagster_snowflake_opaque_id"
    assert settings.default_warehouse_size == "Small"
    assert settings.sql_dollars_per_dbu == 0.70


def test_keyword_argument_beats_environment_variable():
    environ = {"OTEL_INSTRUMENTATION_DATABRICKS_SQL_DOLLARS_PER_DBU": "0.5"}
    assert Settings.load({"sql_dollars_per_dbu": 0.3}, environ).sql_dollars_per_dbu == 0.3
    assert Settings.load({}, environ).sql_dollars_per_dbu == 0.5


def test_warehouse_sizes_from_environment_with_cluster_counts():
    environ = {"OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_SIZES": "abc=medium*2, def=2X-Small"}
    sizes = Settings.load({}, environ).warehouse_sizes
    assert sizes == {"abc": WarehouseShape("Medium", 2), "def": WarehouseShape("2X-Small", 1)}
    assert sizes["abc"].dbu_per_hour == 48


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("sql_dollars_per_dbu", -1, "sql_dollars_per_dbu=-1"),
        ("default_warehouse_size", "Huge", "Huge"),
        ("warehouse_sizes", {"abc": "Tiny"}, "warehouse 'abc'"),
        ("capture_query_text", "everything", "sanitized, raw, off"),
        ("opaque_id_tag_key", "my-key", "may not contain -"),
        ("request_hook", "not callable", "request_hook"),
    ],
)
def test_bad_keyword_argument_is_a_clear_error_naming_the_option(option, value, named):
    with pytest.raises(ConfigurationError) as raised:
        Settings.load({option: value}, {})
    assert option in str(raised.value)
    assert named in str(raised.value)


def test_bad_environment_variable_warns_and_keeps_the_default(caplog):
    environ = {"OTEL_INSTRUMENTATION_DATABRICKS_SQL_DOLLARS_PER_DBU": "cheap"}
    with caplog.at_level(logging.WARNING):
        settings = Settings.load({}, environ)
    assert settings.sql_dollars_per_dbu == 0.70
    assert "OTEL_INSTRUMENTATION_DATABRICKS_SQL_DOLLARS_PER_DBU" in caplog.text


def test_boolean_environment_variables():
    assert Settings.load({}, {"OTEL_INSTRUMENTATION_DATABRICKS_INJECT_TAGS": "false"}).inject_tags is False
    assert Settings.load({}, {"OTEL_INSTRUMENTATION_DATABRICKS_METRICS": "0"}).metrics is False


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("photon_dbu_multiplier", 10**400),
        ("sql_dollars_per_dbu", 10**400),
        ("node_type_dbu_rates", {"i3.xlarge": 10**400}),
        ("warehouse_sizes", {"abc": ("Small", float("inf"))}),
        ("serverless_dbu_per_hour", 10**5000),
    ],
    ids=["multiplier", "price", "node_rates", "cluster_count", "unprintable"],
)
def test_numbers_out_of_range_are_a_configuration_error_not_an_overflow(option, value):
    with pytest.raises(ConfigurationError, match=option):
        Settings.load({option: value}, {})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES", '{"i3.xlarge": 1' + "0" * 400 + "}"),
        ("OTEL_INSTRUMENTATION_DATABRICKS_DOLLARS_PER_DBU", "{" * 100_000),
    ],
    ids=["overflow", "nesting"],
)
def test_environment_variable_that_overflows_or_nests_too_deep_only_warns(caplog, variable, value):
    with caplog.at_level(logging.WARNING):
        settings = Settings.load({}, {variable: value})
    assert settings == Settings.load({}, {})
    assert variable in caplog.text


@pytest.mark.parametrize("key", ["cost<center>", "a%b", "k" * 128])
def test_opaque_id_tag_key_must_fit_cluster_and_job_tags_too(key):
    with pytest.raises(ConfigurationError, match="opaque_id_tag_key"):
        Settings.load({"opaque_id_tag_key": key}, {})
