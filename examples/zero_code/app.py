"""Ordinary Databricks code with no OpenTelemetry in it: one SQL statement and one job run.

Run it under the OpenTelemetry launcher and every Databricks call becomes a span with cost, exported over OTLP
(see README.md next to this file)::

    opentelemetry-instrument --traces_exporter otlp --metrics_exporter otlp python examples/zero_code/app.py

It talks to the workspace of ``DATABRICKS_HOST`` / ``DATABRICKS_TOKEN`` / ``DATABRICKS_HTTP_PATH``; without
``DATABRICKS_HOST`` it starts an embedded emulator (``pip install -e '.[emulator]'``) and uses that.
"""

from __future__ import annotations

import os
from typing import Any

from databricks import sql
from databricks.sdk import WorkspaceClient
from databricks.sdk.service import compute, jobs


def sql_connect_kwargs(host: str, token: str, http_path: str) -> dict[str, Any]:
    """``databricks.sql.connect`` keywords; a plain ``http://`` host is a local server such as the emulator."""
    if host.startswith("http://"):
        return {
            "server_hostname": "127.0.0.1",
            "http_path": http_path,
            "access_token": token,
            "_connection_uri": f"{host}{http_path}",
            "enable_telemetry": False,
            "_retry_stop_after_attempts_count": 1,
            "_retry_stop_after_attempts_duration": 1,
        }
    return {"server_hostname": host.removeprefix("https://"), "http_path": http_path, "access_token": token}


def start_embedded_emulator() -> Any:
    from databricks_emulator import Emulator

    workspace = Emulator().start()
    workspace.auto_advance_on_poll = "settle"
    os.environ.update(
        DATABRICKS_HOST=workspace.host, DATABRICKS_TOKEN=workspace.token, DATABRICKS_HTTP_PATH=workspace.http_path
    )
    print(f"No DATABRICKS_HOST: started an embedded emulator at {workspace.host}")
    return workspace


def main() -> None:
    workspace = None if os.environ.get("DATABRICKS_HOST") else start_embedded_emulator()
    host, token = os.environ["DATABRICKS_HOST"], os.environ["DATABRICKS_TOKEN"]
    http_path = os.environ["DATABRICKS_HTTP_PATH"]
    try:
        with sql.connect(**sql_connect_kwargs(host, token, http_path)) as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT region, sum(amount) FROM VALUES ('eu', 12.5), ('us', 40.0) AS t(region, amount) GROUP BY region"
            )
            cursor.fetchall()
            statement_id = cursor.query_id

        cluster = compute.ClusterSpec(spark_version="15.4.x-scala2.12", node_type_id="i3.xlarge", num_workers=2)
        task = jobs.SubmitTask(
            task_key="rollup", notebook_task=jobs.NotebookTask(notebook_path="/Repos/sales/rollup"), new_cluster=cluster
        )
        run = WorkspaceClient().jobs.submit(run_name="zero-code rollup", tasks=[task]).result()
    finally:
        if workspace is not None:
            workspace.stop()

    print(f"SQL statement  {statement_id}")
    print(f"job run        {run.run_id} ({run.state.result_state.value if run.state.result_state else 'no result'})")
    print("In your tracing backend, look for:")
    print(f"  the span 'SELECT' with databricks.statement_id={statement_id} and databricks.cost.estimated_usd")
    print(f"  the span 'databricks.jobs.run' with databricks.job.run_id={run.run_id}, under 'databricks.jobs.submit'")
    print("and the metrics db.client.operation.duration, databricks.dbu.estimated, databricks.cost.estimated.")


if __name__ == "__main__":
    main()
