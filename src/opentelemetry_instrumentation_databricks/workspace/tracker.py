"""What the workspace handlers share: settings, telemetry, the cost model, the run table and the pipeline specs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.semconv.attributes.db_attributes import DB_OPERATION_NAME, DB_SYSTEM_NAME

from ..attributes import COMPUTE_TYPE, DAGSTER_ASSET_KEY, DAGSTER_JOB_NAME
from ..caches import BoundedCache
from ..config import Settings
from ..context import OrchestrationContext
from ..cost.estimate import Estimate
from ..cost.metrics import CostMetrics
from ..cost.model import CostModel
from ..cost.warehouse_sizes import WarehouseSizes
from ..sql.statement import QueryAttributes
from .pipeline_end_reads import PipelineEndReads
from .runs import RunTable

_logger = logging.getLogger(__name__)

MAX_CACHED_PIPELINES = 1024


class Tracker:
    """Shared by every handler through ``call.tracker``."""

    def __init__(
        self,
        tracer: trace.Tracer,
        metrics: CostMetrics | None,
        settings: Settings,
        sizes: WarehouseSizes,
    ) -> None:
        self.tracer = tracer
        self.metrics = metrics
        self.settings = settings
        self.cost = CostModel(settings, sizes)
        self.queries = QueryAttributes(settings.capture_query_text, settings.max_query_text_length)
        self.runs = RunTable(settings.max_tracked_runs)
        self.pipelines: BoundedCache[Mapping[str, Any]] = BoundedCache(MAX_CACHED_PIPELINES)
        """pipeline id -> the latest pipeline spec seen (create, edit, get)."""
        self.pipeline_end_reads = PipelineEndReads(self)
        """Finished pipeline updates whose end event is being read in the background; ``drain()`` emits them."""
        self._failures_logged: set[str] = set()

    def metric_attributes(self, operation: str, compute_type: str, context: OrchestrationContext) -> dict[str, str]:
        attributes = {DB_SYSTEM_NAME: "databricks", DB_OPERATION_NAME: operation, COMPUTE_TYPE: compute_type}
        if context.job_name is not None:
            attributes[DAGSTER_JOB_NAME] = context.job_name
        if context.asset_key is not None:
            attributes[DAGSTER_ASSET_KEY] = context.asset_key
        return attributes

    def record(self, seconds: float, estimate: Estimate | None, attributes: Mapping[str, str]) -> None:
        if self.metrics is not None:
            dbu, dollars = (estimate.dbu, estimate.dollars) if estimate is not None else (0.0, 0.0)
            self.metrics.record(seconds, dbu, dollars, attributes)

    def log_once(self, where: str) -> None:
        """Log the first failure of each kind; the user's call always goes on, untouched."""
        if where not in self._failures_logged:
            self._failures_logged.add(where)
            _logger.warning(
                "Databricks SDK instrumentation failed in %s; the call itself is unaffected.", where, exc_info=True
            )
