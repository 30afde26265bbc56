"""A pytest plugin: test your own Databricks code against a local emulated workspace.

Opt in from a ``conftest.py`` (or with ``pytest -p databricks_emulator.pytest_plugin``)::

    pytest_plugins = ["databricks_emulator.pytest_plugin"]


    def test_my_report(databricks_sql_connect_kwargs):
        from databricks import sql

        with sql.connect(**databricks_sql_connect_kwargs) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT 1 AS one")
            assert cursor.fetchall()[0].one == 1


    def test_my_job(databricks_workspace_client, databricks_emulator):
        run = databricks_workspace_client.jobs.submit(run_name="nightly", tasks=[...]).result()
        databricks_emulator.clock.advance(3600)

Fixtures: ``databricks_emulator`` (session scope: one :class:`~databricks_emulator.Emulator` on a free port of
127.0.0.1, with ``host``, ``token``, ``http_path``, ``warehouse_id``, ``clock``, ``query_history``, ``faults``),
``databricks_sql_connect_kwargs`` (keywords for ``databricks.sql.connect``, a fresh dict per test),
``databricks_workspace_client`` (a real ``databricks.sdk.WorkspaceClient`` on the emulator, deaf to your
``DATABRICKS_*`` settings). Opt-in rather than auto-loaded, so installing the package never adds fixtures or
starts a server in projects that did not ask for it.

Run polls (``Wait.result()``) settle at once: the session's emulator is created with
``auto_advance_on_poll="settle"``, so no test sleeps through real polling intervals.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .app import Emulator


@pytest.fixture(scope="session")
def databricks_emulator() -> Iterator[Emulator]:
    """One emulated workspace for the test session."""
    with Emulator() as workspace:
        workspace.auto_advance_on_poll = "settle"
        yield workspace


@pytest.fixture
def databricks_sql_connect_kwargs(databricks_emulator: Emulator) -> dict[str, Any]:
    """``databricks.sql.connect(**kwargs)`` keywords reaching the emulator's SQL warehouse."""
    return databricks_emulator.connect_kwargs()


@pytest.fixture
def databricks_workspace_client(databricks_emulator: Emulator) -> Any:
    """A ``databricks.sdk.WorkspaceClient`` talking to the emulator."""
    return databricks_emulator.workspace_client()
