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

OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES = "OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES"
"""DBU per hour of node types, added to (or replacing entries of) the shipped table: a JSON object such as
``{"i3.xlarge": 1.0, "Standard_E8ds_v5": 2.0}`` or ``i3.xlarge=1.0,m5d.large=0.34``."""

OTEL_INSTRUMENTATION_DATABRICKS_DOLLARS_PER_DBU = "OTEL_INSTRUMENTATION_DATABRICKS_DOLLARS_PER_DBU"
"""$/DBU by compute family, overriding the AWS list prices: JSON or ``family=price`` pairs, families
``jobs_classic``, ``jobs_serverless``, ``all_purpose``, ``dlt_core``, ``dlt_pro``, ``dlt_advanced``, ``sql_*``."""

OTEL_INSTRUMENTATION_DATABRICKS_PHOTON_DBU_MULTIPLIER = "OTEL_INSTRUMENTATION_DATABRICKS_PHOTON_DBU_MULTIPLIER"
"""How many times more DBUs per hour a Photon cluster consumes than the same cluster without Photon (default 2.0)."""

OTEL_INSTRUMENTATION_DATABRICKS_SERVERLESS_DBU_PER_HOUR = "OTEL_INSTRUMENTATION_DATABRICKS_SERVERLESS_DBU_PER_HOUR"
"""DBU per hour assumed for a serverless job task or serverless pipeline update (default 4.0; no public figure)."""

OTEL_INSTRUMENTATION_DATABRICKS_TRACE_CONTEXT_PARAMETERS = "OTEL_INSTRUMENTATION_DATABRICKS_TRACE_CONTEXT_PARAMETERS"
"""``true`` also passes the W3C ``traceparent`` as a job parameter (``run_now``) and as notebook/wheel task
parameters (``submit``); off by default because a job must define the parameter first."""

OTEL_INSTRUMENTATION_DATABRICKS_TRACE_UNTRACKED_RUNS = "OTEL_INSTRUMENTATION_DATABRICKS_TRACE_UNTRACKED_RUNS"
"""``true`` emits a span for runs seen finished that this process did not start (e.g. through ``list_runs``)."""

OTEL_INSTRUMENTATION_DATABRICKS_MAX_TRACKED_RUNS = "OTEL_INSTRUMENTATION_DATABRICKS_MAX_TRACKED_RUNS"
"""How many started-but-unfinished runs, updates, statements and commands are remembered (default 10000)."""
