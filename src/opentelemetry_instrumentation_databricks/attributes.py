"""Every span name, attribute name and metric name of this instrumentation, in one place.

Vendor facts use the ``databricks.`` prefix, orchestration context the ``dagster.`` prefix; the semantic
conventions' own names (``db.*``, ``server.*``, ``error.type``...) come from ``opentelemetry-semantic-conventions``.
Each name is documented by the string under it; ``docs/telemetry.md`` is generated from this module
(``python tools/generate_docs.py``), and a test fails when that page is stale.

Sections: span names (``SPAN_*``), metric names (``METRIC_*``, described in :data:`METRICS`), then attributes.
"""

from __future__ import annotations

from typing import NamedTuple

# span names
SPAN_SDK_CALL = "databricks.<service>.<operation>"
"""One CLIENT span per ``WorkspaceClient`` call (``databricks.jobs.submit``, ``databricks.pipelines.get_update``...)."""
SPAN_SQL_STATEMENT = "<db.query.summary>"
"""One CLIENT span per connector statement, named by its summary (``SELECT main.sales.orders``); metadata calls are
named by their operation (``GetTables``), batches ``BATCH <summary>``."""
SPAN_JOB_RUN = "databricks.jobs.run"
"""A job run, from its start to its end as Databricks reports them; parent = the submit/run-now call."""
SPAN_JOB_TASK_RUN = "databricks.jobs.task_run"
"""A task of a job run; child of the run span. Its estimate is a part of the run's (``databricks.cost.summable``
is false)."""
SPAN_PIPELINE_UPDATE = "databricks.pipelines.update"
"""A pipeline update, timed from its update_progress events; parent = the start_update call."""
SPAN_STATEMENT_EXECUTION = "databricks.sql.statement"
"""A Statement Execution API statement still running when execute_statement returned (named by its summary when
it has one); parent = the execute_statement call."""
SPAN_COMMAND = "databricks.commands.command"
"""A command of the Command Execution API; parent = the commands/execute call."""
SPAN_NOTEBOOK_CELL = "databricks.notebook.cell"
"""One span per executed notebook cell (``instrument_notebook()``)."""
SPAN_BILLING = "databricks.billing"
"""Added later by the reconciler: the billed cost of one unit (a run, an update, a statement), child of its span."""

# metric names
METRIC_OPERATION_DURATION = "db.client.operation.duration"
METRIC_DBU_ESTIMATED = "databricks.dbu.estimated"
METRIC_COST_ESTIMATED = "databricks.cost.estimated"
METRIC_DBU_BILLED = "databricks.dbu.billed"
METRIC_COST_BILLED = "databricks.cost.billed"


class Metric(NamedTuple):
    name: str
    instrument: str
    """``histogram`` or ``counter`` (an observable counter: a cumulative sum)."""
    unit: str
    description: str
    attributes: tuple[str, ...]


_OPERATION_ATTRIBUTES = (
    "db.system.name",
    "db.operation.name",
    "databricks.compute.type",
    "databricks.warehouse.id",
    "dagster.job.name",
    "dagster.asset.key",
    "error.type",
)
_BILLED_ATTRIBUTES = (
    "databricks.billing.unit.kind",
    "databricks.cost.attribution",
    "dagster.job.name",
    "dagster.asset.key",
    "databricks.compute.type",
    "databricks.warehouse.id",
    "databricks.tag.<key>",
)
METRICS: tuple[Metric, ...] = (
    Metric(
        METRIC_OPERATION_DURATION,
        "histogram",
        "s",
        "Duration of Databricks operations, as seen by the client.",
        _OPERATION_ATTRIBUTES,
    ),
    Metric(
        METRIC_DBU_ESTIMATED,
        "counter",
        "{dbu}",
        "Databricks units estimated at the end of each operation.",
        _OPERATION_ATTRIBUTES,
    ),
    Metric(
        METRIC_COST_ESTIMATED,
        "counter",
        "{USD}",
        "Dollars estimated at the end of each operation, at list price.",
        _OPERATION_ATTRIBUTES,
    ),
    Metric(
        METRIC_DBU_BILLED,
        "counter",
        "{dbu}",
        "Databricks units billed in system.billing.usage, as reconciled.",
        _BILLED_ATTRIBUTES,
    ),
    Metric(
        METRIC_COST_BILLED,
        "counter",
        "{USD}",
        "Dollars billed (list price x discount), as reconciled.",
        _BILLED_ATTRIBUTES,
    ),
)
"""What each metric is; metric attributes are low-cardinality only (ids belong on spans)."""

# orchestration context
DAGSTER_JOB_NAME = "dagster.job.name"
DAGSTER_RUN_ID = "dagster.run.id"
DAGSTER_OP_NAME = "dagster.op.name"
DAGSTER_ASSET_KEY = "dagster.asset.key"
DAGSTER_PARTITION_KEY = "dagster.partition.key"
DAGSTER_OPAQUE_ID = "dagster.opaque_id"
"""A fresh id per statement or started run, also written into Databricks as a tag (``opaque_id_tag_key``)."""

# statements
STATEMENT_ID = "databricks.statement_id"
SESSION_ID = "databricks.session_id"
STATEMENT_STATE = "databricks.statement.state"
QUERY_TEXT_ORIGINAL_LENGTH = "databricks.query.text_original_length"
"""Set only when ``db.query.text`` was cut at ``max_query_text_length``: how many characters the full text had."""
WAREHOUSE_ID = "databricks.warehouse.id"
WAREHOUSE_SIZE = "databricks.warehouse.size"
COMPUTE_TYPE = "databricks.compute.type"
"""``sql_warehouse``, ``all_purpose``, ``jobs_classic``, ``jobs_serverless`` or ``dlt``."""

# estimates
DBU_ESTIMATED = "databricks.dbu.estimated"
COST_ESTIMATED_USD = "databricks.cost.estimated_usd"
COST_ESTIMATE_METHOD = "databricks.cost.estimate_method"
"""Where the rate came from: ``configured_size``, ``warehouse_api``, ``default_size``, ``node_type_rates``,
``unknown_node_type``, ``unknown_cluster``, ``serverless_rate`` or ``billed_elsewhere``."""
COST_SUMMABLE = "databricks.cost.summable"
"""``true`` on spans whose estimate counts once when summed over a trace; ``false`` on parts of an estimate an
ancestor span already carries (a job run's task spans). Sum ``databricks.cost.estimated_usd`` where it is true."""
DBU_ESTIMATED_MIN = "databricks.dbu.estimated_min"
DBU_ESTIMATED_MAX = "databricks.dbu.estimated_max"
"""The estimate's bounds when an autoscaling cluster's worker count was not observed (min and max workers)."""
UNKNOWN_NODE_TYPES = "databricks.cost.unknown_node_types"
TAGS_DROPPED = "databricks.tags.dropped"
"""Keys of our tags a full Databricks carrier could not take (the user's own tags always win)."""

# job runs
JOB_ID = "databricks.job.id"
JOB_RUN_ID = "databricks.job.run_id"
JOB_RUN_NAME = "databricks.job.run_name"
JOB_RUN_TYPE = "databricks.job.run_type"
JOB_TASK_KEY = "databricks.job.task_key"
JOB_TASK_KEYS = "databricks.job.task_keys"
"""On a run span and on job create/reset/update spans; not on the submit span (its run span has them)."""
JOB_TASK_TYPE = "databricks.job.task_type"
JOB_TASK_TYPES = "databricks.job.task_types"
"""``notebook_task``, ``spark_jar_task``...: where ``databricks.job.task_keys`` is."""
JOB_TASK_RUN_ID = "databricks.job.task_run_id"
JOB_TAGS = "databricks.job.tags"
RUN_LIFE_CYCLE_STATE = "databricks.run.life_cycle_state"
RUN_RESULT_STATE = "databricks.run.result_state"
RUN_STATE_MESSAGE = "databricks.run.state_message"
RUN_TIMING = "databricks.run.timing"
"""``databricks`` (start and end as Databricks reports them) or ``observed`` (end = when a poll first saw it)."""
RUN_TRACKED = "databricks.run.tracked"
"""``false`` on a run span whose starting call this process did not see (``trace_untracked_runs=True``)."""
RUN_POLL = "databricks.run.poll"
"""``true`` on a ``runs/get`` or ``get_update`` span of a run this process tracks, joined to the run's trace."""

# clusters
CLUSTER_ID = "databricks.cluster.id"
CLUSTER_SUMMARY = "databricks.cluster.summary"
"""One line per cluster: ``<driver> + <workers> x <worker node type> [photon]``."""
CLUSTER_NODE_TYPE = "databricks.cluster.node_type"
CLUSTER_DRIVER_NODE_TYPE = "databricks.cluster.driver_node_type"
CLUSTER_WORKERS = "databricks.cluster.workers"
CLUSTER_WORKERS_SOURCE = "databricks.cluster.workers_source"
"""``fixed`` (num_workers), ``observed`` (a clusters/get response) or ``autoscale_range`` (min..max)."""
CLUSTER_AUTOSCALE_MIN = "databricks.cluster.autoscale.min_workers"
CLUSTER_AUTOSCALE_MAX = "databricks.cluster.autoscale.max_workers"
CLUSTER_PHOTON = "databricks.cluster.photon"
CLUSTER_CUSTOM_TAGS = "databricks.cluster.custom_tags"
"""The cluster's ``custom_tags`` as ``key=value`` strings."""

# pipelines
PIPELINE_ID = "databricks.pipeline.id"
PIPELINE_UPDATE_ID = "databricks.pipeline.update_id"
PIPELINE_UPDATE_STATE = "databricks.pipeline.update.state"
PIPELINE_EDITION = "databricks.pipeline.edition"
PIPELINE_SERVERLESS = "databricks.pipeline.serverless"
PIPELINE_FULL_REFRESH = "databricks.pipeline.full_refresh"
PIPELINE_REFRESH_SELECTION = "databricks.pipeline.refresh_selection"

# commands and notebooks
COMMAND_ID = "databricks.command.id"
COMMAND_CONTEXT_ID = "databricks.command.context_id"
COMMAND_LANGUAGE = "databricks.command.language"
COMMAND_STATUS = "databricks.command.status"
NOTEBOOK_ID = "databricks.notebook.id"
NOTEBOOK_PATH = "databricks.notebook.path"
NOTEBOOK_USER = "databricks.notebook.user"
NOTEBOOK_CELL = "databricks.notebook.cell"

# reconciliation (on billing spans and reconciled spans)
DBU_BILLED = "databricks.dbu.billed"
COST_BILLED_USD = "databricks.cost.billed_usd"
COST_SOURCE = "databricks.cost.source"
COST_STATUS = "databricks.cost.status"
COST_ESTIMATE_ERROR = "databricks.cost.estimate_error"
"""``(estimated - billed) / billed`` in dollars (DBUs when no price matched): +0.25 means the estimate was 25% high."""
BILLING_UNIT_KIND = "databricks.billing.unit.kind"
BILLING_UNIT_ID = "databricks.billing.unit.id"
BILLING_DELTA = "databricks.billing.delta"
"""``true`` on a billing span that carries a correction (RETRACTION/RESTATEMENT) on top of what was emitted before."""
BILLING_PARENT = "databricks.billing.parent"
"""Where the parent came from: ``span_record`` (ids recorded at span time), ``tags`` (Databricks tags) or ``none``."""
COST_ATTRIBUTION = "databricks.cost.attribution"
"""``attributed`` or ``unattributed`` (idle warehouse time, usage of no known unit)."""
BILLING_DBU_TOTAL = "databricks.billing.dbu_total"
BILLING_USD_TOTAL = "databricks.billing.usd_total"
BILLING_ROWS = "databricks.billing.rows"
BILLING_UNPRICED_ROWS = "databricks.billing.unpriced_rows"
BILLING_ATTRIBUTED_COST_DBU = "databricks.billing.attributed_cost.dbu"
"""On a statement's billing span: the DBUs Databricks itself attributes to the statement in
``system.billing.attributed_cost`` (Beta; active usage, idle time excluded), when the table has it."""
BILLING_ATTRIBUTED_COST_DEVIATION = "databricks.billing.attributed_cost.deviation"
"""``(apportioned - attributed) / attributed`` over the statement's billed total: +0.05 means our apportioning gave
it 5% more DBUs than ``system.billing.attributed_cost``."""
BILLING_ATTRIBUTION_SOURCE = "databricks.billing.attribution_source"
"""Where a billed unit's orchestration context came from, strongest first: ``span_record`` (recorded when the span
ended), ``query_tags`` (``system.query.history``), ``custom_tags`` (cluster/job/pipeline tags in
``system.billing.usage``) or ``none``; on a processor-billed span ``span`` (the span's own attributes)."""
TAG_PREFIX = "databricks.tag."
"""``databricks.tag.<key>``: the value of a user tag named in ``OTEL_INSTRUMENTATION_DATABRICKS_BILLING_TAG_KEYS``
(e.g. ``databricks.tag.team``), on billing spans and billed metrics."""
