"""Dagster Pipes: work in an external process carries the launching run's ids, read from the Pipes context."""

import json
import sys
import textwrap

import dagster as dg
import pytest
from dagster_pipes import (
    DAGSTER_PIPES_CONTEXT_ENV_VAR,
    DAGSTER_PIPES_MESSAGES_ENV_VAR,
    PipesContext,
    PipesDefaultContextLoader,
    PipesDefaultMessageWriter,
    PipesMappingParamsLoader,
    encode_param,
)

from .conftest import history_of


@pytest.fixture
def pipes_session(tmp_path):
    """A real ``PipesContext``, opened in this process as ``open_dagster_pipes()`` would in an external one."""
    data = {
        "asset_keys": ["sales/orders"],
        "code_version_by_asset_key": None,
        "provenance_by_asset_key": None,
        "partition_key": "2026-11-20",
        "partition_key_range": {"start": "2026-11-20", "end": "2026-11-20"},
        "partition_time_window": None,
        "run_id": "launching-run-1",
        "job_name": "nightly",
        "retry_number": 0,
        "extras": {},
    }
    params = {
        DAGSTER_PIPES_CONTEXT_ENV_VAR: encode_param({"data": data}),
        DAGSTER_PIPES_MESSAGES_ENV_VAR: encode_param({"path": str(tmp_path / "messages")}),
    }
    session = PipesContext(PipesMappingParamsLoader(params), PipesDefaultContextLoader(), PipesDefaultMessageWriter())
    PipesContext.set(session)
    yield session
    session.close()
    PipesContext._instance = None


def test_statements_in_a_pipes_process_carry_the_launching_runs_ids(ws, instrument, pipes_session):
    telemetry = instrument()
    with ws.sql_connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    (span,) = telemetry.spans()
    assert span.attributes["dagster.run.id"] == "launching-run-1"
    assert span.attributes["dagster.job.name"] == "nightly"
    assert span.attributes["dagster.asset.key"] == "sales/orders"
    assert span.attributes["dagster.partition.key"] == "2026-11-20"
    tags = history_of(ws, span.attributes["databricks.statement_id"]).query_tags
    assert tags["dagster_run_id"] == "launching-run-1"
    assert tags["dagster_asset_key"] == "sales/orders"


_EXTERNAL_PROCESS = textwrap.dedent(
    """
    from dagster_pipes import open_dagster_pipes
    from databricks import sql
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry_instrumentation_databricks import DatabricksInstrumentor

    DatabricksInstrumentor().instrument(tracer_provider=TracerProvider())
    with open_dagster_pipes() as pipes:
        with sql.connect(**pipes.get_extra("connect_kwargs")) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            pipes.report_asset_materialization(metadata={"statement_id": cursor.query_id})
    """
)


@pytest.mark.subprocess
def test_a_process_launched_with_pipes_tags_its_work_with_the_launching_run(ws, tmp_path):
    script = tmp_path / "external.py"
    script.write_text(_EXTERNAL_PROCESS)
    connect_kwargs = json.loads(json.dumps(ws.connect_kwargs()))

    @dg.asset
    def external_orders(context: dg.AssetExecutionContext, pipes: dg.PipesSubprocessClient):
        return pipes.run(
            command=[sys.executable, str(script)], context=context, extras={"connect_kwargs": connect_kwargs}
        ).get_materialize_result()

    result = dg.materialize([external_orders], resources={"pipes": dg.PipesSubprocessClient()})
    (materialization,) = result.asset_materializations_for_node("external_orders")
    tags = history_of(ws, materialization.metadata["statement_id"].value).query_tags
    assert tags["dagster_run_id"] == result.run_id
    assert tags["dagster_job_name"] == result.dagster_run.job_name
    assert tags["dagster_asset_key"] == "external_orders"
