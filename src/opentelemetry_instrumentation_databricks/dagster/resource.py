"""``InsightsDatabricksResource``: the origin design's Dagster resource, on top of the instrumentation.

::

    import dagster as dg
    from opentelemetry_instrumentation_databricks.dagster import InsightsDatabricksResource

    @dg.asset
    def orders(databricks: InsightsDatabricksResource) -> None:
        with databricks.get_sql_client() as connection, connection.cursor() as cursor:
            cursor.execute("CREATE OR REPLACE TABLE main.sales.orders AS SELECT ...")
        with databricks.get_workspace_client() as workspace:
            workspace.jobs.submit(run_name="rollup", tasks=[...]).result()

    defs = dg.Definitions(
        assets=[orders],
        resources={
            "databricks": InsightsDatabricksResource(
                workspace_url=dg.EnvVar("DATABRICKS_HOST"),
                access_token=dg.EnvVar("DATABRICKS_TOKEN"),
                warehouse_id="abc123def456",
            )
        },
    )

The clients are the real ``databricks.sql`` connection and the real ``WorkspaceClient``; the instrumentation (started
on first use when ``opentelemetry-instrument`` or your code has not started it) traces and tags their work with the
step's Dagster ids. When a client block ends, the step's Databricks cost so far goes into the asset's metadata (an
``AssetObservation`` when the block ends with an exception): see :mod:`.reporting`. Pipeline update spans whose end
event is still being read are emitted first (within ``DRAIN_TIMEOUT_SECONDS`` of :mod:`..workspace.pipeline_end_reads`),
so the step's cost includes every update it saw finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster
from opentelemetry import trace
from pydantic import Field

from .. import DatabricksInstrumentor
from ..context import current_context
from .connection import ConnectionSettings, ResourceSettingError
from .costs import LEDGER, CostSummary, attach_ledger
from .reporting import report_step_cost

_logger = logging.getLogger(__name__)
_instrument_lock = threading.Lock()


def ensure_instrumented() -> None:
    """Start the instrumentation unless it runs already, and feed its spans to the step cost ledger.

    Without an SDK tracer provider (OpenTelemetry not configured) the instrumentation gets a private one whose spans
    only feed the ledger, so Dagster metadata still shows the cost; configure OpenTelemetry before the first asset
    runs to also export the spans.
    """
    instrumentor = DatabricksInstrumentor()
    with _instrument_lock:
        if not instrumentor.is_instrumented_by_opentelemetry:
            if hasattr(trace.get_tracer_provider(), "add_span_processor"):
                instrumentor.instrument()
            else:
                from opentelemetry.sdk.trace import TracerProvider

                _logger.info("OpenTelemetry is not configured: Databricks spans only feed Dagster cost metadata")
                instrumentor.instrument(tracer_provider=TracerProvider())
    provider = instrumentor.tracer_provider or trace.get_tracer_provider()
    if not attach_ledger(provider):
        _logger.warning(
            "the tracer provider %r takes no span processor: no Databricks cost in Dagster metadata", provider
        )


class InsightsDatabricksResource(dagster.ConfigurableResource):
    """A Databricks workspace for Dagster assets, with each asset's Databricks cost in its metadata.

    Credentials: ``access_token``, or ``client_id`` and ``client_secret``, or ``profile``/``auth_type`` for any
    other databricks-sdk authentication. SQL needs ``http_path`` or ``warehouse_id``. Missing or malformed
    settings raise ``DagsterInvalidConfigError`` naming the field, before any Databricks call.
    """

    workspace_url: str | None = Field(
        default=None, description="The workspace URL, e.g. https://adb-1234567890123456.7.azuredatabricks.net."
    )
    host: str | None = Field(default=None, description="Alias of workspace_url (the SDK's name for it).")
    access_token: str | None = Field(default=None, description="A personal access token.")
    client_id: str | None = Field(default=None, description="OAuth service principal: its application id.")
    client_secret: str | None = Field(default=None, description="OAuth service principal: its secret.")
    profile: str | None = Field(default=None, description="A ~/.databrickscfg profile (databricks-sdk auth).")
    auth_type: str | None = Field(
        default=None, description="Any databricks-sdk auth type, e.g. azure-cli, databricks-cli, github-oidc."
    )
    http_path: str | None = Field(default=None, description="HTTP path of the SQL warehouse or cluster.")
    warehouse_id: str | None = Field(default=None, description="SQL warehouse id (instead of http_path).")
    sql_connect_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="More keywords for databricks.sql.connect (e.g. session query_tags)."
    )
    workspace_client_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="More keywords for databricks.sdk Config (e.g. retry_timeout_seconds)."
    )
    report_cost: bool = Field(
        default=True, description="Put the step's Databricks cost into the asset's metadata when a client block ends."
    )

    def setup_for_execution(self, context: dagster.InitResourceContext) -> None:
        self._settings()

    @contextmanager
    def get_sql_client(self) -> Iterator[Any]:
        """A ``databricks.sql`` connection (instrumented); the step's cost is reported when the block ends."""
        settings = self._settings()
        try:
            kwargs = settings.sql_connect_kwargs(lambda: self._sdk_config(settings))
        except ResourceSettingError as error:
            raise _configuration_error(error) from None
        ensure_instrumented()
        from databricks import sql

        with self._reporting(), sql.connect(**kwargs) as connection:
            yield connection

    @contextmanager
    def get_workspace_client(self) -> Iterator[Any]:
        """A ``databricks.sdk.WorkspaceClient`` (instrumented); the step's cost is reported when the block ends."""
        settings = self._settings()
        ensure_instrumented()
        from databricks.sdk import WorkspaceClient

        with self._reporting():
            yield WorkspaceClient(config=self._sdk_config(settings))

    def cost_summary(self) -> CostSummary:
        """The Databricks work of the running step so far (any client, any thread of the step's context)."""
        return LEDGER.summary(current_context())

    # internals
    def _settings(self) -> ConnectionSettings:
        try:
            return ConnectionSettings.check(
                workspace_url=self.workspace_url,
                host=self.host,
                access_token=self.access_token,
                client_id=self.client_id,
                client_secret=self.client_secret,
                profile=self.profile,
                auth_type=self.auth_type,
                http_path=self.http_path,
                warehouse_id=self.warehouse_id,
                sql_connect_kwargs=self.sql_connect_kwargs,
                workspace_client_kwargs=self.workspace_client_kwargs,
            )
        except ResourceSettingError as error:
            raise _configuration_error(error) from None

    @staticmethod
    def _sdk_config(settings: ConnectionSettings) -> Any:
        from databricks.sdk.config import Config

        return Config(**settings.sdk_config_kwargs())

    @contextmanager
    def _reporting(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self._report(failed=True)
            raise
        self._report(failed=False)

    def _report(self, *, failed: bool) -> None:
        if not self.report_cost:
            return
        try:
            from ..workspace.pipeline_end_reads import drain_all

            drain_all()
            report_step_cost(self.cost_summary(), failed=failed)
        except Exception:
            _logger.warning("could not report the step's Databricks cost to Dagster", exc_info=True)


def _configuration_error(error: ResourceSettingError) -> dagster.DagsterInvalidConfigError:
    return dagster.DagsterInvalidConfigError(f"InsightsDatabricksResource: {error} (field {error.field!r})", [], None)
