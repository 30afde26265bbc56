from hypothesis import given
from hypothesis import strategies as st

from opentelemetry_instrumentation_databricks.context import OrchestrationContext
from opentelemetry_instrumentation_databricks.tags import QUERY_TAGS, merge_tags, orchestration_tags

_CONTEXT = OrchestrationContext(job_name="nightly", run_id="r-1", op_name="load", asset_key="sales/orders")


def _ours(context=_CONTEXT):
    return orchestration_tags(context, "opaque-1", "a" * 32, "b" * 16, "dagster_snowflake_opaque_id")


def test_origin_note_tag_names_come_first():
    keys = [key for key, _ in _ours()]
    assert keys[:3] == ["dagster_snowflake_opaque_id", "dagster_job_name", "dagster_run_id"]
    assert {"otel_trace_id", "otel_span_id", "dagster_asset_key", "dagster_op_name"} <= set(keys)


def test_missing_context_fields_make_no_tags():
    keys = [key for key, _ in _ours(OrchestrationContext())]
    assert keys == ["dagster_snowflake_opaque_id", "otel_trace_id", "otel_span_id"]


def test_user_tag_is_never_overwritten():
    merged, dropped = merge_tags({"dagster_job_name": "mine"}, _ours(), QUERY_TAGS)
    assert merged["dagster_job_name"] == "mine"
    assert dropped == []


def test_full_carrier_keeps_user_tags_and_drops_ours_from_the_end():
    user = {f"k{i}": "v" for i in range(18)}
    merged, dropped = merge_tags(user, _ours(), QUERY_TAGS)
    assert len(merged) == 20
    assert all(merged[key] == "v" for key in user)
    assert "dagster_snowflake_opaque_id" in merged and "dagster_job_name" in merged
    assert dropped == ["dagster_run_id", "otel_trace_id", "otel_span_id", "dagster_asset_key", "dagster_op_name"]


def test_long_values_are_cut_to_the_carrier_limit():
    context = OrchestrationContext(job_name="j" * 500)
    merged, _ = merge_tags(None, _ours(context), QUERY_TAGS)
    assert merged["dagster_job_name"] == "j" * 128


@given(
    user=st.dictionaries(st.text(min_size=1, max_size=10), st.none() | st.text(max_size=10), max_size=25),
    job=st.text(max_size=300),
)
def test_merged_tags_respect_limits_and_keep_every_user_tag(user, job):
    merged, dropped = merge_tags(user, _ours(OrchestrationContext(job_name=job or None)), QUERY_TAGS)
    assert all(merged[key] == value for key, value in user.items())
    assert len(merged) <= max(QUERY_TAGS.max_tags, len(user))
    ours = [key for key in merged if key not in user]
    assert all(len(merged[key]) <= 128 for key in ours)
    assert not set(dropped) & set(merged)


def test_our_keys_are_cleaned_to_the_carriers_key_rules():
    from opentelemetry_instrumentation_databricks.tags import CLUSTER_TAGS

    merged, dropped = merge_tags({}, [("team/cost<center>" + "k" * 200, "v")], CLUSTER_TAGS)
    (key,) = merged
    assert len(key) == CLUSTER_TAGS.max_key_length
    assert key.startswith("team_cost_center_")
    assert dropped == []


def test_a_cleaned_key_never_overwrites_the_users_key():
    from opentelemetry_instrumentation_databricks.tags import CLUSTER_TAGS

    merged, _ = merge_tags({"a_b": "mine"}, [("a/b", "ours")], CLUSTER_TAGS)
    assert merged == {"a_b": "mine"}
