"""The generated reference pages match their sources: change an option, a name or a benchmark, regenerate."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_TOOL = Path(__file__).resolve().parents[2] / "tools" / "generate_docs.py"


@pytest.fixture(scope="module")
def generate_docs():
    spec = importlib.util.spec_from_file_location("generate_docs", _TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", ["configuration.md", "telemetry.md", "performance.md"])
def test_committed_page_is_what_the_generator_writes(generate_docs, page):
    committed = generate_docs.DOCS / page
    assert committed.read_text() == generate_docs.PAGES[page](), f"docs/{page} is stale: run tools/generate_docs.py"


def test_every_option_and_reconcile_variable_is_on_the_configuration_page(generate_docs):
    from opentelemetry_instrumentation_databricks.config import OPTIONS
    from opentelemetry_instrumentation_databricks.reconcile.configurator import RECONCILE_OPTIONS

    page = generate_docs.configuration_page()
    for option in (*OPTIONS, *RECONCILE_OPTIONS):
        assert f"`{option.variable or option.name}`" in page


def test_settings_has_exactly_one_field_per_option():
    from dataclasses import fields

    from opentelemetry_instrumentation_databricks.config import OPTIONS, Settings

    assert [field.name for field in fields(Settings)] == [option.name for option in OPTIONS]


def test_metric_names_become_the_prometheus_series_the_dashboards_query(generate_docs):
    assert generate_docs.prometheus_names("db.client.operation.duration", "histogram", "s").startswith(
        "`db_client_operation_duration_seconds_bucket`"
    )
    assert generate_docs.prometheus_names("databricks.cost.estimated", "counter", "{USD}") == (
        "`databricks_cost_estimated_total`"
    )


def test_every_name_the_reconciler_emits_is_in_the_one_names_module():
    from opentelemetry_instrumentation_databricks import attributes
    from opentelemetry_instrumentation_databricks.reconcile import metrics, spans

    ours = {value for value in vars(attributes).values() if isinstance(value, str)}
    for module in (spans, metrics):
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and value.startswith("databricks."):
                assert value in ours, f"{module.__name__}.{name} = {value!r} is not in attributes.py"
