"""``system.query.history``: one row per statement the emulated SQL warehouses ran, from their query history.

Docs: https://docs.databricks.com/aws/en/admin/system-tables/query-history. ``compute`` is
``STRUCT<type, cluster_id, warehouse_id>`` with ``type`` ``WAREHOUSE``; ``query_source`` names the Databricks
entities behind a statement (none here: statements reach the emulator from outside); ``query_tags`` is the map
of session and statement tags (a key-only tag has a NULL value). Figures the emulator does not simulate (bytes,
files, partitions, spill, cache) are 0 or NULL; ``read_rows`` is the produced row count.
"""

from __future__ import annotations

from .snapshot import Snapshot
from .tables import BIGINT, BOOLEAN, INT, STRING, STRING_MAP, TIMESTAMP, TableSpec, string_struct, struct

DOC = "https://docs.databricks.com/aws/en/admin/system-tables/query-history"

QUERY_SOURCE_TYPE = struct(
    job_info=string_struct("job_id", "job_run_id", "job_task_run_id"),
    legacy_dashboard_id=STRING,
    dashboard_id=STRING,
    alert_id=STRING,
    notebook_id=STRING,
    sql_query_id=STRING,
    genie_space_id=STRING,
    pipeline_info=string_struct("pipeline_id", "pipeline_update_id"),
)

HISTORY = TableSpec(
    "query",
    "history",
    (
        ("account_id", STRING),
        ("workspace_id", STRING),
        ("statement_id", STRING),
        ("session_id", STRING),
        ("execution_status", STRING),
        ("compute", string_struct("type", "cluster_id", "warehouse_id")),
        ("executed_by_user_id", STRING),
        ("executed_by", STRING),
        ("statement_text", STRING),
        ("statement_type", STRING),
        ("error_message", STRING),
        ("client_application", STRING),
        ("client_driver", STRING),
        ("total_duration_ms", BIGINT),
        ("waiting_for_compute_duration_ms", BIGINT),
        ("waiting_at_capacity_duration_ms", BIGINT),
        ("execution_duration_ms", BIGINT),
        ("compilation_duration_ms", BIGINT),
        ("total_task_duration_ms", BIGINT),
        ("result_fetch_duration_ms", BIGINT),
        ("start_time", TIMESTAMP),
        ("end_time", TIMESTAMP),
        ("update_time", TIMESTAMP),
        ("read_partitions", BIGINT),
        ("pruned_files", BIGINT),
        ("read_files", BIGINT),
        ("read_rows", BIGINT),
        ("produced_rows", BIGINT),
        ("read_bytes", BIGINT),
        ("read_io_cache_percent", INT),
        ("from_result_cache", BOOLEAN),
        ("spilled_local_bytes", BIGINT),
        ("written_bytes", BIGINT),
        ("written_rows", BIGINT),
        ("written_files", BIGINT),
        ("shuffle_read_bytes", BIGINT),
        ("query_source", QUERY_SOURCE_TYPE),
        ("executed_as", STRING),
        ("executed_as_user_id", STRING),
        ("query_tags", STRING_MAP),
    ),
    DOC,
)

_EMPTY_SOURCE = {
    "job_info": None,
    "legacy_dashboard_id": None,
    "dashboard_id": None,
    "alert_id": None,
    "notebook_id": None,
    "sql_query_id": None,
    "genie_space_id": None,
    "pipeline_info": None,
}
_DRIVERS = {"Databricks SQL Connector for Python": "Databricks SQL Driver for Python"}
USER_ID = "1000000000000001"


def history_rows(snapshot: Snapshot, account_id: str, visible_before: float) -> list[tuple]:
    """Rows for the statements that ended at or before ``visible_before``."""
    rows = []
    for record in snapshot.queries:
        if record.end_time.timestamp() > visible_before:
            continue
        rows.append(
            (
                account_id,
                snapshot.workspace_id,
                record.statement_id,
                record.session_id,
                record.execution_status,
                {"type": "WAREHOUSE", "cluster_id": None, "warehouse_id": record.warehouse_id},
                USER_ID,
                snapshot.user_name,
                record.statement_text,
                record.statement_type,
                record.error_message,
                record.client_application,
                _DRIVERS.get(record.client_application or ""),
                record.total_duration_ms,
                0,
                0,
                record.execution_duration_ms,
                record.compilation_duration_ms,
                record.total_task_duration_ms,
                record.result_fetch_duration_ms,
                record.start_time,
                record.end_time,
                record.end_time,
                0,
                0,
                0,
                record.produced_rows,
                record.produced_rows,
                0,
                None,
                False,
                0,
                0,
                0,
                0,
                0,
                dict(_EMPTY_SOURCE),
                snapshot.user_name,
                USER_ID,
                dict(record.query_tags),
            )
        )
    return rows
