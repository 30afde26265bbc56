"""Bad resource settings fail as Dagster configuration errors naming the field, before any Databricks call; good ones
become the right connector and SDK keywords."""

import dagster as dg
import pytest

from opentelemetry_instrumentation_databricks.dagster import InsightsDatabricksResource
from opentelemetry_instrumentation_databricks.dagster.connection import ConnectionSettings, ResourceSettingError

UNREACHABLE = "https://adb-0000000000000000.0.azuredatabricks.net"


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({}, "workspace_url"),
        ({"workspace_url": UNREACHABLE}, "access_token"),
        ({"workspace_url": UNREACHABLE, "client_id": "sp"}, "client_secret"),
        ({"workspace_url": UNREACHABLE, "client_secret": "s"}, "client_id"),
        ({"workspace_url": UNREACHABLE, "access_token": "t", "client_id": "sp", "client_secret": "s"}, "access_token"),
        ({"workspace_url": UNREACHABLE, "access_token": "dapi123\n"}, "access_token"),
        ({"workspace_url": "ftp://example.com", "access_token": "t"}, "workspace_url"),
        ({"workspace_url": UNREACHABLE, "host": "https://other.cloud.databricks.com", "access_token": "t"}, "host"),
        (
            {
                "workspace_url": UNREACHABLE,
                "access_token": "t",
                "http_path": "/sql/1.0/warehouses/a",
                "warehouse_id": "b",
            },
            "warehouse_id",
        ),
        ({"workspace_url": UNREACHABLE, "access_token": "t", "http_path": "sql/1.0/warehouses/a"}, "http_path"),
    ],
)
def test_bad_settings_fail_the_run_naming_the_field(settings, field):
    calls = []

    @dg.asset
    def orders(databricks: InsightsDatabricksResource) -> None:
        calls.append("body")

    with pytest.raises(dg.DagsterInvalidConfigError, match=f"field '{field}'"):
        dg.materialize([orders], resources={"databricks": InsightsDatabricksResource(**settings)})
    assert calls == []


def test_sql_client_without_a_warehouse_names_http_path_before_connecting(ws):
    resource = InsightsDatabricksResource(workspace_url=ws.host, access_token=ws.token)
    statements = len(ws.query_history)
    with pytest.raises(dg.DagsterInvalidConfigError, match="field 'http_path'"), resource.get_sql_client():
        pass
    assert len(ws.query_history) == statements


def test_workspace_client_without_credentials_fails_before_any_call():
    resource = InsightsDatabricksResource(workspace_url=UNREACHABLE)
    with pytest.raises(dg.DagsterInvalidConfigError, match="no credentials"), resource.get_workspace_client():
        pass


def test_token_settings_become_connector_and_sdk_keywords():
    settings = ConnectionSettings.check(
        workspace_url=None,
        host="adb-1.7.azuredatabricks.net/",
        access_token="dapi-1",
        warehouse_id="abc123",
        sql_connect_kwargs={"query_tags": {"team": "data"}},
        workspace_client_kwargs={"retry_timeout_seconds": 30},
    )
    assert settings.sql_connect_kwargs() == {
        "server_hostname": "adb-1.7.azuredatabricks.net",
        "http_path": "/sql/1.0/warehouses/abc123",
        "access_token": "dapi-1",
        "query_tags": {"team": "data"},
    }
    assert settings.sdk_config_kwargs() == {
        "host": "https://adb-1.7.azuredatabricks.net",
        "token": "dapi-1",
        "auth_type": "pat",
        "retry_timeout_seconds": 30,
    }


def test_a_plain_http_workspace_is_a_local_server():
    settings = ConnectionSettings.check(
        workspace_url="http://127.0.0.1:8765", access_token="t", http_path="/sql/1.0/warehouses/w1"
    )
    kwargs = settings.sql_connect_kwargs()
    assert kwargs["_connection_uri"] == "http://127.0.0.1:8765/sql/1.0/warehouses/w1"
    assert kwargs["enable_telemetry"] is False


def test_service_principal_authenticates_the_connector_through_the_sdk():
    class FakeSdkConfig:
        def authenticate(self):
            return {"Authorization": "Bearer from-oauth"}

    settings = ConnectionSettings.check(
        workspace_url=UNREACHABLE, client_id="sp", client_secret="secret", warehouse_id="w1"
    )
    assert settings.sdk_config_kwargs() == {"host": UNREACHABLE, "client_id": "sp", "client_secret": "secret"}
    kwargs = settings.sql_connect_kwargs(FakeSdkConfig)
    assert "access_token" not in kwargs
    header_factory = kwargs["credentials_provider"]()
    assert header_factory() == {"Authorization": "Bearer from-oauth"}


def test_sdk_only_auth_needs_profile_or_auth_type():
    settings = ConnectionSettings.check(workspace_url=UNREACHABLE, profile="prod", auth_type="databricks-cli")
    assert settings.sdk_config_kwargs() == {"host": UNREACHABLE, "profile": "prod", "auth_type": "databricks-cli"}
    with pytest.raises(ResourceSettingError) as error:
        ConnectionSettings.check(workspace_url=UNREACHABLE, client_id="sp")
    assert error.value.field == "client_secret"
