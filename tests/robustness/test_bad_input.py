"""Property-based tests of what users and environments feed in: SQL text (nothing of a literal reaches
``db.query.text``, never an exception), tags (every carrier within Databricks' limits, the user's tags kept and
never overwritten, ours dropped first), and settings (a bad environment variable only warns and keeps the default;
a bad keyword argument raises ``ConfigurationError`` and nothing else). Complements tests/unit/test_statement.py,
test_tags.py and test_config.py, which pin examples and the query-tag merge."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from opentelemetry_instrumentation_databricks import DatabricksInstrumentor, orchestration_context
from opentelemetry_instrumentation_databricks import environment_variables as env
from opentelemetry_instrumentation_databricks.config import ConfigurationError, Settings
from opentelemetry_instrumentation_databricks.sql import statement
from opentelemetry_instrumentation_databricks.sql.statement import describe, sanitize, statement_info
from opentelemetry_instrumentation_databricks.tags import (
    CLUSTER_TAGS,
    JOB_TAGS,
    PIPELINE_TAGS,
    QUERY_TAGS,
    TagLimits,
    merge_tags,
)

from ..conftest import Telemetry

SHARED_FIXTURES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)

# SQL literals: the sanitized text must not depend on what is inside them.
_ANY_CHARACTER = st.characters(blacklist_categories=("Cs",))
_LITERAL_BODY = st.text(_ANY_CHARACTER, max_size=40)


def _single_quoted(body: str) -> str:
    return "'" + body.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _doubled_quote(body: str) -> str:
    return "'" + body.replace("\\", "\\\\").replace("'", "''") + "'"


def _double_quoted(body: str) -> str:
    return '"' + body.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dollar_quoted(body: str) -> str:
    return "$$" + body.replace("$", "") + "$$"


def _line_comment(body: str) -> str:
    return "-- " + body.replace("\n", " ") + "\n"


def _block_comment(body: str) -> str:
    return "/* " + body.replace("*/", "* /") + " */"


LITERAL_FORMS = {
    "single_quoted": _single_quoted,
    "doubled_quote_escape": _doubled_quote,
    "double_quoted": _double_quoted,
    "raw_string": lambda body: "r" + _doubled_quote(body),
    "typed_date": lambda body: "DATE " + _single_quoted(body),
    "dollar_quoted": _dollar_quoted,
    "line_comment": _line_comment,
    "block_comment": _block_comment,
}
TEMPLATES = (
    "SELECT * FROM main.sales.orders WHERE customer = {} AND id > 3",
    "INSERT INTO t (a, b) VALUES ({}, 'x')",
    "UPDATE t SET secret = {} WHERE id = 1",
    "SELECT {} AS a, `col {{1}}` FROM `cat`.`s`.`t`",
    "CREATE FUNCTION f() RETURNS STRING LANGUAGE PYTHON AS {}",
    "{}",
)
NUMBERS = st.one_of(
    st.integers(min_value=0, max_value=10**30).map(str),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(repr),
    st.integers(min_value=0, max_value=2**64).map(hex),
    st.tuples(st.integers(0, 10**9), st.sampled_from(["L", "S", "Y", "D", "F", "BD", "e7", "E-3"])).map(
        lambda pair: f"{pair[0]}{pair[1]}"
    ),
)


@pytest.mark.parametrize("form", list(LITERAL_FORMS))
@given(template=st.sampled_from(TEMPLATES), first=_LITERAL_BODY, second=_LITERAL_BODY)
def test_sanitized_text_does_not_depend_on_what_a_literal_holds(form, template, first, second):
    quote = LITERAL_FORMS[form]
    assert sanitize(template.format(quote(first))) == sanitize(template.format(quote(second)))


@given(template=st.sampled_from(TEMPLATES), first=NUMBERS, second=NUMBERS)
def test_sanitized_text_does_not_depend_on_a_number(template, first, second):
    assert sanitize(template.format(first)) == sanitize(template.format(second))


SQL_TOKENS = st.sampled_from(
    ["SELECT", "FROM", "t", " ", "\n", "'", '"', "`", "\\", "--", "/*", "*/", "$$", "1", "2.5e3", "0x1F", "x",
     "(", ")", ",", ";", "''", "r'", "X'", "é", "\x00", "WITH", "INSERT INTO"]
)  # fmt: skip


@settings(max_examples=300)
@given(st.lists(SQL_TOKENS, max_size=60).map("".join))
@example("SELECT * FROM t WHERE password = 'hunter2\\")
def test_no_quote_survives_outside_an_identifier_in_any_token_soup(text):
    sanitized = sanitize(text)
    outside_identifiers = re.sub(r"`(?:[^`]|``)*`", "", sanitized)
    assert "'" not in outside_identifiers
    assert '"' not in outside_identifiers
    assert "$$" not in outside_identifiers
    info = describe(text)
    assert info.sanitized == sanitized
    assert isinstance(info.summary, str) and info.summary


def test_statement_cache_stays_bounded_under_distinct_statements():
    for number in range(statement.MAX_CACHED_STATEMENTS * 2 + 7):
        statement_info(f"SELECT {number} FROM t{number}")
    assert len(statement._cache) <= statement.MAX_CACHED_STATEMENTS


# What reaches a span: the real cursor with its backend answered in-process.
@pytest.fixture(scope="module")
def captured_cursor(workspace) -> Iterator[tuple[Any, Telemetry, list[dict]]]:
    telemetry = Telemetry()
    sent: list[dict] = []
    connection = workspace.sql_connect()

    def capture(**kwargs: Any) -> None:
        sent.append(kwargs)

    connection.session.backend.execute_command = capture
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        yield connection.cursor(), telemetry, sent
    finally:
        instrumentor.uninstrument()
        del connection.session.backend.execute_command
        connection.close()


SECRET = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd")), min_size=8, max_size=30).map(
    lambda text: f"zq{text}"
)


@SHARED_FIXTURES
@given(secret=SECRET, form=st.sampled_from(list(LITERAL_FORMS)), template=st.sampled_from(TEMPLATES[:3]))
def test_no_literal_and_no_parameter_reaches_any_span_attribute(captured_cursor, secret, form, template):
    cursor, telemetry, _ = captured_cursor
    telemetry.exporter.clear()
    cursor.execute(template.format(LITERAL_FORMS[form](secret)))
    cursor.execute("SELECT * FROM t WHERE a = :value", {"value": secret})
    for span in telemetry.spans():
        assert secret not in span.name
        assert all(secret not in str(value) for value in span.attributes.values())


# Tags: every carrier, through the real request builders.
QUERY_TAG_TEXT = st.text(_ANY_CHARACTER, min_size=1, max_size=140)
CONTEXT_VALUE = st.none() | st.text(_ANY_CHARACTER, max_size=400)
OUR_TAG_KEYS = {
    "dagster_snowflake_opaque_id",
    "dagster_job_name",
    "dagster_run_id",
    "otel_trace_id",
    "otel_span_id",
    "dagster_asset_key",
    "dagster_op_name",
    "dagster_partition_key",
}


def _user_tags(limits: TagLimits) -> st.SearchStrategy[dict[str, str]]:
    keys = st.text(_ANY_CHARACTER, min_size=1, max_size=limits.max_key_length) | st.sampled_from(sorted(OUR_TAG_KEYS))
    values = st.text(_ANY_CHARACTER, max_size=limits.max_value_length)
    return st.dictionaries(keys, values, max_size=limits.max_tags + 3)


def _assert_within_limits_and_user_first(user: dict, merged: dict, limits: TagLimits, offered: set[str]) -> None:
    assert {key: merged.get(key) for key in user} == user, "every user tag is kept, none overwritten"
    ours = {key: value for key, value in merged.items() if key not in user}
    assert set(ours) <= offered
    assert len(merged) <= max(limits.max_tags, len(user))
    if not offered <= set(merged):
        assert len(merged) >= limits.max_tags, "ours are left out only when the user's tags fill the carrier"
    for key, value in ours.items():
        assert len(key) <= limits.max_key_length
        assert not set(key) & set(limits.forbidden_key_characters)
        assert value is not None and len(value) <= limits.max_value_length


@given(
    user=st.dictionaries(st.text(min_size=1), st.text(), max_size=50),
    ours=st.lists(st.tuples(st.text(min_size=1, max_size=300), st.text(max_size=600)), max_size=12),
    limits=st.sampled_from([QUERY_TAGS, CLUSTER_TAGS, JOB_TAGS, PIPELINE_TAGS]),
)
@example(user={}, ours=[("a/b<c>" + "k" * 200, "v")], limits=CLUSTER_TAGS)
def test_merged_tags_fit_every_carrier_whatever_keys_are_offered(user, ours, limits):
    merged, dropped = merge_tags(user, ours, limits)
    assert {key: merged.get(key) for key in user} == user
    assert len(merged) <= max(limits.max_tags, len(user))
    for key in set(merged) - set(user):
        assert len(key) <= limits.max_key_length
        assert not set(key) & set(limits.forbidden_key_characters)
        assert len(merged[key]) <= limits.max_value_length
    assert not set(dropped) & (set(merged) - set(user))


class CapturingHttp:
    """Stands in for the SDK's HTTP layer: records each body sent and answers like Databricks would."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []

    def __call__(self, method: str, url: str, query: Any = None, headers: Any = None, body: Any = None, **_: Any):
        self.bodies.append(body)
        return {"run_id": 1, "job_id": 1, "pipeline_id": "p-1", "statement_id": "s-1", "status": {"state": "PENDING"}}


@pytest.fixture(scope="module")
def captured_sdk(workspace) -> Iterator[tuple[Any, CapturingHttp]]:
    http = CapturingHttp()
    client = workspace.workspace_client()
    client.api_client._api_client.do = http
    telemetry = Telemetry()
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        yield client.api_client, http
    finally:
        instrumentor.uninstrument()


CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 1}


@SHARED_FIXTURES
@given(
    job_tags=_user_tags(JOB_TAGS),
    cluster_tags=_user_tags(CLUSTER_TAGS),
    pipeline_tags=_user_tags(PIPELINE_TAGS),
    query_tags=st.dictionaries(QUERY_TAG_TEXT, QUERY_TAG_TEXT, max_size=QUERY_TAGS.max_tags + 3),
    job_name=CONTEXT_VALUE,
    run_id=CONTEXT_VALUE,
    asset_key=CONTEXT_VALUE,
    partition_key=CONTEXT_VALUE,
)
def test_every_workspace_carrier_keeps_user_tags_and_stays_within_limits(
    captured_sdk, job_tags, cluster_tags, pipeline_tags, query_tags, job_name, run_id, asset_key, partition_key
):
    api, http = captured_sdk
    http.bodies.clear()
    cluster = {**CLUSTER, "custom_tags": cluster_tags}
    task = {"task_key": "t", "notebook_task": {"notebook_path": "/n"}}
    with orchestration_context(job_name=job_name, run_id=run_id, asset_key=asset_key, partition_key=partition_key):
        api.do("POST", "/api/2.2/jobs/runs/submit", body={"run_name": "r", "tasks": [{**task, "new_cluster": cluster}]})
        api.do(
            "POST",
            "/api/2.2/jobs/create",
            body={
                "name": "j",
                "tags": job_tags,
                "job_clusters": [{"job_cluster_key": "c", "new_cluster": cluster}],
                "tasks": [{**task, "job_cluster_key": "c"}],
            },
        )
        api.do("POST", "/api/2.0/pipelines", body={"name": "p", "tags": pipeline_tags, "clusters": [cluster]})
        api.do(
            "POST",
            "/api/2.0/sql/statements/",
            body={
                "statement": "SELECT 1",
                "warehouse_id": "w",
                "query_tags": [{"key": key, "value": value} for key, value in query_tags.items()],
            },
        )
    submit, create, pipeline, statement_body = http.bodies
    context_keys = {
        key
        for key, value in (
            ("dagster_job_name", job_name),
            ("dagster_run_id", run_id),
            ("dagster_asset_key", asset_key),
            ("dagster_partition_key", partition_key),
        )
        if value is not None
    }
    without = {"otel_trace_id", "otel_span_id", *context_keys}
    with_opaque_id = {*without, "dagster_snowflake_opaque_id"}  # calls that start work also carry an opaque id
    submitted_cluster = submit["tasks"][0]["new_cluster"]["custom_tags"]
    _assert_within_limits_and_user_first(cluster_tags, submitted_cluster, CLUSTER_TAGS, with_opaque_id)
    _assert_within_limits_and_user_first(job_tags, create["tags"], JOB_TAGS, without)
    job_cluster = create["job_clusters"][0]["new_cluster"]["custom_tags"]
    _assert_within_limits_and_user_first(cluster_tags, job_cluster, CLUSTER_TAGS, without)
    _assert_within_limits_and_user_first(pipeline_tags, pipeline["tags"], PIPELINE_TAGS, without)
    pipeline_cluster = pipeline["clusters"][0]["custom_tags"]
    _assert_within_limits_and_user_first(cluster_tags, pipeline_cluster, CLUSTER_TAGS, without)
    sent_query_tags = {tag["key"]: tag["value"] for tag in statement_body["query_tags"]}
    _assert_within_limits_and_user_first(query_tags, sent_query_tags, QUERY_TAGS, with_opaque_id)
    assert cluster["custom_tags"] is cluster_tags, "the user's own dicts are not changed"


@SHARED_FIXTURES
@given(
    user=st.dictionaries(QUERY_TAG_TEXT, st.none() | QUERY_TAG_TEXT, max_size=QUERY_TAGS.max_tags + 3),
    job_name=CONTEXT_VALUE,
)
def test_connector_query_tags_keep_user_tags_and_stay_within_limits(captured_cursor, user, job_name):
    cursor, _, sent = captured_cursor
    sent.clear()
    with orchestration_context(job_name=job_name):
        cursor.execute("SELECT 1", query_tags=dict(user))
    merged = sent[0]["query_tags"]
    offered = {"dagster_snowflake_opaque_id", "otel_trace_id", "otel_span_id"}
    if job_name is not None:
        offered.add("dagster_job_name")
    _assert_within_limits_and_user_first(user, merged, QUERY_TAGS, offered)


# Settings: environment variables warn, keyword arguments raise ConfigurationError, nothing else escapes.
VARIABLES = {name: getattr(env, name) for name in dir(env) if name.startswith("OTEL_INSTRUMENTATION_DATABRICKS_")}
OPTIONS = (
    "capture_query_text", "inject_tags", "opaque_id_tag_key", "warehouse_sizes", "default_warehouse_size",
    "warehouse_lookup", "sql_dollars_per_dbu", "metrics", "node_type_dbu_rates", "dollars_per_dbu",
    "photon_dbu_multiplier", "serverless_dbu_per_hour", "trace_context_parameters", "trace_untracked_runs",
    "max_tracked_runs",
)  # fmt: skip
ENVIRONMENT_TEXT = st.one_of(
    st.text(_ANY_CHARACTER, max_size=80),
    st.sampled_from(["{", "[]", "{}", '{"a": 1e999}', '{"a": -1}', "a=1,b", "1e999", "nan", "-0", "x*0"]),
    st.integers().map(str),
    st.builds(lambda key, digits: f'{{"{key}": 1{"0" * digits}}}', st.sampled_from(["i3.xlarge", "jobs_classic"]),
              st.integers(300, 400)),
    st.builds(lambda depth: "{" * depth, st.integers(1000, 5000)),
    st.builds(lambda depth: '{"a":' * depth, st.integers(1000, 5000)),
)  # fmt: skip
ANY_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(10**300, 10**400) | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=6,
)


@SHARED_FIXTURES
@given(variable=st.sampled_from(sorted(VARIABLES.values())), value=ENVIRONMENT_TEXT)
@example(variable=env.OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES, value='{"i3.xlarge": 1' + "0" * 400 + "}")
@example(variable=env.OTEL_INSTRUMENTATION_DATABRICKS_DOLLARS_PER_DBU, value="{" * 100_000)
def test_any_environment_variable_value_only_warns_and_keeps_the_default(caplog, variable, value):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="opentelemetry_instrumentation_databricks"):
        loaded = Settings.load({}, environ={variable: value})
    defaults = Settings.load({}, environ={})
    if caplog.records:
        assert variable in caplog.records[0].getMessage()
        assert loaded == defaults
    for number in (loaded.sql_dollars_per_dbu, loaded.photon_dbu_multiplier, loaded.serverless_dbu_per_hour):
        assert math.isfinite(number) and number >= 0


@given(option=st.sampled_from(OPTIONS), value=ANY_VALUE)
@example(option="warehouse_sizes", value={"w": ("Small", float("inf"))})
@example(option="photon_dbu_multiplier", value=10**400)
@example(option="sql_dollars_per_dbu", value=10**400)
@example(option="node_type_dbu_rates", value={"i3.xlarge": 10**400})
def test_any_keyword_argument_value_is_accepted_or_a_configuration_error(option, value):
    try:
        Settings.load({option: value}, environ={})
    except ConfigurationError as error:
        assert option in str(error)
