import pytest

from opentelemetry_instrumentation_databricks.workspace import routes
from opentelemetry_instrumentation_databricks.workspace.routes import ROUTES, RouteTable, generic_name


@pytest.fixture(scope="module")
def table():
    return RouteTable(ROUTES)


@pytest.mark.parametrize(
    ("method", "path", "span_name", "template"),
    [
        ("POST", "/api/2.2/jobs/runs/submit", "databricks.jobs.submit", "/api/2.2/jobs/runs/submit"),
        ("POST", "/api/2.1/jobs/runs/submit", "databricks.jobs.submit", "/api/2.1/jobs/runs/submit"),
        ("POST", "/api/2.0/jobs/run-now", "databricks.jobs.run_now", "/api/2.0/jobs/run-now"),
        ("GET", "/api/2.2/jobs/runs/get", "databricks.jobs.get_run", "/api/2.2/jobs/runs/get"),
        ("GET", "/api/2.2/jobs/runs/list", "databricks.jobs.list_runs", "/api/2.2/jobs/runs/list"),
        ("POST", "/api/2.2/jobs/runs/repair", "databricks.jobs.repair_run", "/api/2.2/jobs/runs/repair"),
        ("GET", "/api/2.2/jobs/runs/get-output", "databricks.jobs.get_run_output", "/api/2.2/jobs/runs/get-output"),
        ("POST", "/api/2.0/pipelines", "databricks.pipelines.create", "/api/2.0/pipelines"),
        ("PUT", "/api/2.0/pipelines/p-1", "databricks.pipelines.update", "/api/2.0/pipelines/{pipeline_id}"),
        ("GET", "/api/2.0/pipelines/p-1", "databricks.pipelines.get", "/api/2.0/pipelines/{pipeline_id}"),
        (
            "POST",
            "/api/2.0/pipelines/p-1/updates",
            "databricks.pipelines.start_update",
            "/api/2.0/pipelines/{pipeline_id}/updates",
        ),
        (
            "GET",
            "/api/2.0/pipelines/p-1/updates/u-2",
            "databricks.pipelines.get_update",
            "/api/2.0/pipelines/{pipeline_id}/updates/{update_id}",
        ),
        ("POST", "/api/2.0/pipelines/p-1/stop", "databricks.pipelines.stop", "/api/2.0/pipelines/{pipeline_id}/stop"),
        (
            "POST",
            "/api/2.0/sql/statements",
            "databricks.statement_execution.execute_statement",
            "/api/2.0/sql/statements",
        ),
        (
            "GET",
            "/api/2.0/sql/statements/01ef",
            "databricks.statement_execution.get_statement",
            "/api/2.0/sql/statements/{statement_id}",
        ),
        ("POST", "/api/1.2/commands/execute", "databricks.command_execution.execute", "/api/1.2/commands/execute"),
        ("GET", "/api/1.2/commands/status", "databricks.command_execution.command_status", "/api/1.2/commands/status"),
        ("GET", "/api/2.1/clusters/get", "databricks.clusters.get", "/api/2.1/clusters/get"),
    ],
)
def test_known_routes(table, method, path, span_name, template):
    match = table.match(method, path)
    assert match.handler.span_name == span_name
    assert match.template == template


def test_path_parameters_are_extracted(table):
    match = table.match("GET", "/api/2.0/pipelines/abc-1/updates/def-2")
    assert dict(match.params) == {"pipeline_id": "abc-1", "update_id": "def-2"}


def test_method_is_part_of_the_route(table):
    assert table.match("DELETE", "/api/2.0/pipelines/p-1").handler.span_name == "databricks.pipelines.delete"
    assert table.match("GET", "/api/2.2/jobs/runs/submit").template is None


def test_unknown_routes_get_a_generic_low_cardinality_name(table):
    first = table.match("GET", "/api/2.0/permissions/jobs/123")
    second = table.match("GET", "/api/2.0/permissions/jobs/456")
    assert first.handler.span_name == second.handler.span_name == "databricks.permissions.get_jobs"
    assert first.template is None
    assert first.handler is second.handler


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/2.1/unity-catalog/tables/main.sales.orders", ("unity_catalog", "get_tables")),
        ("POST", "/api/2.0/workspace/get-status", ("workspace", "post_get_status")),
        ("GET", "/api/2.0/sql/warehouses", ("sql", "get_warehouses")),
        ("GET", "/not/an/api/path", ("api", "get")),
        ("GET", "", ("api", "get")),
    ],
)
def test_generic_names(method, path, expected):
    assert generic_name(method, path) == expected


def test_match_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(routes, "MAX_CACHED_PATHS", 8)
    table = RouteTable(ROUTES)
    for number in range(50):
        table.match("GET", f"/api/2.0/sql/statements/s{number}")
    assert len(table._cache) <= 8


def test_every_route_has_a_distinct_method_and_template():
    keys = [(route.method, route.template) for route in ROUTES]
    assert len(keys) == len(set(keys))
