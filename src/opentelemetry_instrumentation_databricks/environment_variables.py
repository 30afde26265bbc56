"""Environment variables read by :class:`DatabricksInstrumentor` (``opentelemetry-instrument`` passes no kwargs).

Every keyword argument of ``instrument()`` has one here; a keyword argument wins over its variable.
"""

OTEL_INSTRUMENTATION_DATABRICKS_CAPTURE_QUERY_TEXT = "OTEL_INSTRUMENTATION_DATABRICKS_CAPTURE_QUERY_TEXT"
"""``sanitized`` (default: literals replaced by ``?``), ``raw`` (the statement as sent) or ``off``."""

OTEL_INSTRUMENTATION_DATABRICKS_INJECT_TAGS = "OTEL_INSTRUMENTATION_DATABRICKS_INJECT_TAGS"
"""``true`` (default) writes trace and orchestration ids into Databricks as query, cluster, job and pipeline tags."""

OTEL_INSTRUMENTATION_DATABRICKS_OPAQUE_ID_TAG_KEY = "OTEL_INSTRUMENTATION_DATABRICKS_OPAQUE_ID_TAG_KEY"
"""The tag key that carries the per-statement opaque id (default ``dagster_snowflake_opaque_id``)."""

OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_SIZES = "OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_SIZES"
"""Known warehouse sizes, ``<warehouse id>=<size>[*<clusters>]`` comma separated, e.g. ``abc123=Medium*2``."""

OTEL_INSTRUMENTATION_DATABRICKS_DEFAULT_WAREHOUSE_SIZE = "OTEL_INSTRUMENTATION_DATABRICKS_DEFAULT_WAREHOUSE_SIZE"
"""The size assumed for a warehouse whose size is neither configured nor looked up (default ``Small``)."""

OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_LOOKUP = "OTEL_INSTRUMENTATION_DATABRICKS_WAREHOUSE_LOOKUP"
"""``true`` lets the instrumentation ask the Warehouses API once per warehouse, in the background, for its size."""

OTEL_INSTRUMENTATION_DATABRICKS_SQL_DOLLARS_PER_DBU = "OTEL_INSTRUMENTATION_DATABRICKS_SQL_DOLLARS_PER_DBU"
"""$/DBU for SQL warehouse estimates (default 0.70, the AWS list price of serverless SQL)."""

OTEL_INSTRUMENTATION_DATABRICKS_METRICS = "OTEL_INSTRUMENTATION_DATABRICKS_METRICS"
"""``true`` (default) records duration, DBU and cost metrics; ``false`` keeps spans only."""
