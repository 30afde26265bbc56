"""databricks_emulator.pytest_plugin: a user's own test suite gets a workspace, connector keywords and a client."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.subprocess

USER_TESTS = """
from databricks import sql
from databricks.sdk.service import jobs


def test_sql_through_the_connector(databricks_sql_connect_kwargs, databricks_emulator):
    with sql.connect(**databricks_sql_connect_kwargs) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT 41 + 1 AS answer")
        assert cursor.fetchall()[0].answer == 42
    assert databricks_emulator.query_history[-1].statement_text == "SELECT 41 + 1 AS answer"


def test_a_job_run_settles_without_sleeping(databricks_workspace_client):
    task = jobs.SubmitTask(task_key="t", notebook_task=jobs.NotebookTask(notebook_path="/n"))
    run = databricks_workspace_client.jobs.submit(run_name="user", tasks=[task]).result()
    assert run.state.result_state == jobs.RunResultState.SUCCESS


def test_the_workspace_is_one_per_session(databricks_emulator):
    assert len(databricks_emulator.query_history) == 1
"""


def test_a_users_suite_runs_its_connector_and_sdk_code_against_the_plugins_workspace(pytester):
    pytester.makeconftest('pytest_plugins = ["databricks_emulator.pytest_plugin"]')
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)


def test_the_plugin_is_opt_in_so_other_suites_see_no_fixtures(pytester):
    pytester.makepyfile(test_other="def test_x(databricks_emulator):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'databricks_emulator' not found*"])
