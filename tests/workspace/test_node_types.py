import logging
from dataclasses import fields

import pytest

from opentelemetry_instrumentation_databricks.config import ConfigurationError, Settings
from opentelemetry_instrumentation_databricks.cost import clusters as clusters_module
from opentelemetry_instrumentation_databricks.cost.clusters import (
    MAX_CACHED_SUMMARIES,
    ClusterShape,
    cluster_rate,
    cluster_summary,
)
from opentelemetry_instrumentation_databricks.cost.compute import Compute, task_compute, task_compute_facts
from opentelemetry_instrumentation_databricks.cost.node_types import NODE_TYPE_DBU_PER_HOUR, NodeTypeRates


def _rate(spec, observed=None, overrides=None, photon=2.0):
    return cluster_rate(ClusterShape.from_spec(spec, observed), NodeTypeRates(overrides), photon)


def test_table_covers_the_common_families_of_each_cloud():
    for node_type in ("i3.xlarge", "m5d.large", "r5d.2xlarge", "c5d.4xlarge", "m6gd.xlarge"):
        assert node_type in NODE_TYPE_DBU_PER_HOUR
    for node_type in ("Standard_DS3_v2", "Standard_E8ds_v4", "Standard_F8s", "n2-standard-4", "n2-highmem-8"):
        assert node_type in NODE_TYPE_DBU_PER_HOUR
    assert NODE_TYPE_DBU_PER_HOUR["i3.xlarge"] == 1.0
    assert NODE_TYPE_DBU_PER_HOUR["i3.2xlarge"] == 2 * NODE_TYPE_DBU_PER_HOUR["i3.xlarge"]


def test_fixed_cluster_is_driver_plus_workers():
    rate = _rate({"node_type_id": "i3.xlarge", "num_workers": 3})
    assert rate.dbu_per_hour == 4.0
    assert rate.method == "node_type_rates"


def test_driver_node_type_is_priced_separately():
    rate = _rate({"node_type_id": "i3.xlarge", "driver_node_type_id": "i3.2xlarge", "num_workers": 2})
    assert rate.dbu_per_hour == 2.0 + 2 * 1.0


def test_autoscale_without_observation_gives_the_range_and_its_midpoint():
    spec = {"node_type_id": "i3.xlarge", "autoscale": {"min_workers": 2, "max_workers": 8}}
    shape = ClusterShape.from_spec(spec)
    rate = _rate(spec)
    assert shape.workers_source == "autoscale_range"
    assert (rate.min_dbu_per_hour, rate.max_dbu_per_hour, rate.dbu_per_hour) == (3.0, 9.0, 6.0)
    assert shape.summary() == "i3.xlarge + 2..8 x i3.xlarge"


def test_observed_worker_count_wins_over_the_range():
    spec = {"node_type_id": "i3.xlarge", "autoscale": {"min_workers": 2, "max_workers": 8}}
    rate = _rate(spec, observed=5)
    assert rate.dbu_per_hour == 6.0 and rate.min_dbu_per_hour is None
    assert ClusterShape.from_spec(spec, 5).workers_source == "observed"


@pytest.mark.parametrize(
    "spec",
    [
        {"node_type_id": "i3.xlarge", "num_workers": 1, "runtime_engine": "PHOTON"},
        {"node_type_id": "i3.xlarge", "num_workers": 1, "spark_version": "13.3.x-photon-scala2.12"},
    ],
)
def test_photon_multiplies_the_rate(spec):
    assert _rate(spec, photon=2.5).dbu_per_hour == 5.0


def test_single_node_cluster_is_the_driver_only():
    assert _rate({"node_type_id": "m5d.large", "num_workers": 0}).dbu_per_hour == NODE_TYPE_DBU_PER_HOUR["m5d.large"]


def test_unknown_node_type_gives_no_dbus_and_warns_once(caplog):
    rates = NodeTypeRates()
    shape = ClusterShape.from_spec({"node_type_id": "x9.mega", "num_workers": 2})
    with caplog.at_level(logging.WARNING):
        first = cluster_rate(shape, rates, 2.0)
        cluster_rate(shape, rates, 2.0)
    assert first.method == "unknown_node_type" and first.dbu_per_hour == 0.0
    assert first.unknown_node_types == ("x9.mega",)
    warnings = [record for record in caplog.records if "x9.mega" in record.getMessage()]
    assert len(warnings) == 1
    assert "node_type_dbu_rates" in warnings[0].getMessage()


def test_instance_pool_without_node_type_is_unknown():
    rate = _rate({"instance_pool_id": "pool-1", "num_workers": 2})
    assert rate.method == "unknown_node_type"
    assert rate.unknown_node_types == ("instance_pool:pool-1",)


def test_user_rates_extend_and_override_the_table():
    assert _rate({"node_type_id": "x9.mega", "num_workers": 1}, overrides={"x9.mega": 3.0}).dbu_per_hour == 6.0
    assert _rate({"node_type_id": "i3.xlarge", "num_workers": 0}, overrides={"i3.xlarge": 1.5}).dbu_per_hour == 1.5


def test_node_type_rates_from_env_json_and_kwargs():
    settings = Settings.load({}, {"OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES": '{"x9.mega": 3.5}'})
    assert settings.node_type_dbu_rates == {"x9.mega": 3.5}
    assert Settings.load({"node_type_dbu_rates": {"a.b": 1}}, {}).node_type_dbu_rates == {"a.b": 1.0}
    assert Settings.load(
        {}, {"OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES": "a.b=2,c.d=0.5"}
    ).node_type_dbu_rates == {
        "a.b": 2.0,
        "c.d": 0.5,
    }


def test_bad_options_name_the_option():
    with pytest.raises(ConfigurationError, match="node_type_dbu_rates"):
        Settings.load({"node_type_dbu_rates": {"a.b": "lots"}}, {})
    with pytest.raises(ConfigurationError, match=r"dollars_per_dbu.*unknown compute family"):
        Settings.load({"dollars_per_dbu": {"gold": 1.0}}, {})
    with pytest.raises(ConfigurationError, match="photon_dbu_multiplier"):
        Settings.load({"photon_dbu_multiplier": 0.5}, {})
    with pytest.raises(ConfigurationError, match="max_tracked_runs"):
        Settings.load({"max_tracked_runs": 0}, {})


def test_bad_environment_values_fall_back_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        settings = Settings.load({}, {"OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES": "{not json"})
    assert settings.node_type_dbu_rates == {}
    assert "OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES" in caplog.text


def test_dollars_per_dbu_overrides_one_family_and_keeps_the_rest():
    settings = Settings.load({}, {"OTEL_INSTRUMENTATION_DATABRICKS_DOLLARS_PER_DBU": '{"jobs_classic": 0.1}'})
    assert settings.dollars_per_dbu["jobs_classic"] == 0.1
    assert settings.dollars_per_dbu["all_purpose"] == 0.55


def test_cluster_summary_cache_tells_apart_shapes_that_differ_only_in_a_value_type() -> None:
    whole = {"node_type_id": "i3.xlarge", "num_workers": 1}
    flag = {"node_type_id": "i3.xlarge", "num_workers": True}
    assert cluster_summary(whole) == ClusterShape.from_spec(whole).summary() == "i3.xlarge + 1 x i3.xlarge"
    assert cluster_summary(flag) == ClusterShape.from_spec(flag).summary() == "i3.xlarge + 0 x i3.xlarge"
    assert cluster_summary(whole, observed_workers=5) == "i3.xlarge + 5 x i3.xlarge"


def test_cluster_summary_of_a_spec_with_an_unhashable_value_is_computed_uncached() -> None:
    spec = {"node_type_id": "i3.xlarge", "num_workers": 2, "spark_version": ["15.4.x-photon-scala2.12"]}
    assert cluster_summary(spec) == ClusterShape.from_spec(spec).summary()


def test_cluster_summary_cache_stays_bounded() -> None:
    for workers in range(MAX_CACHED_SUMMARIES * 2):
        assert cluster_summary({"node_type_id": "i3.xlarge", "num_workers": workers}).startswith("i3.xlarge + ")
    assert len(clusters_module._summaries) <= MAX_CACHED_SUMMARIES


@pytest.mark.parametrize(
    "task",
    [
        {"task_key": "a", "existing_cluster_id": "c-1"},
        {"task_key": "b", "new_cluster": {"node_type_id": "i3.xlarge"}, "cluster_instance": {"cluster_id": "c-2"}},
        {"task_key": "c", "job_cluster_key": "shared"},
        {"task_key": "d", "sql_task": {"warehouse_id": "w-1"}},
        {"task_key": "e", "pipeline_task": {"pipeline_id": "p"}},
        {"task_key": "f", "notebook_task": {"notebook_path": "/n"}},
    ],
)
def test_task_compute_facts_are_the_fields_of_task_compute_in_order(task: dict) -> None:
    clusters = {"shared": {"node_type_id": "m5.large"}}
    specs = {"c-1": {"node_type_id": "r5.large"}}
    assert task_compute_facts(task, clusters, specs) == astuple_of(task_compute(task, clusters, specs))


def astuple_of(compute: Compute) -> tuple:
    return tuple(getattr(compute, field.name) for field in fields(compute))
