"""Attribute names of this instrumentation, beyond the semantic conventions.

Vendor facts use the ``databricks.`` prefix; orchestration context uses ``dagster.`` (see :mod:`.context`).
"""

STATEMENT_ID = "databricks.statement_id"
SESSION_ID = "databricks.session_id"
WAREHOUSE_ID = "databricks.warehouse.id"
WAREHOUSE_SIZE = "databricks.warehouse.size"
COMPUTE_TYPE = "databricks.compute.type"
"""``sql_warehouse``, ``all_purpose``, ``jobs_classic``, ``jobs_serverless`` or ``dlt``."""

DBU_ESTIMATED = "databricks.dbu.estimated"
COST_ESTIMATED_USD = "databricks.cost.estimated_usd"
COST_ESTIMATE_METHOD = "databricks.cost.estimate_method"
TAGS_DROPPED = "databricks.tags.dropped"
"""Keys of our tags a full Databricks carrier could not take (the user's own tags always win)."""
