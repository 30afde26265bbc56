"""The metric instruments of the instrumentation: operation duration, estimated DBUs and estimated dollars.

Metric attributes are low-cardinality only (system, operation, compute type, warehouse, Dagster job and asset,
error type); statement, run and trace ids belong on spans.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.metrics import Meter
from opentelemetry.semconv.metrics.db_metrics import DB_CLIENT_OPERATION_DURATION

DBU_ESTIMATED = "databricks.dbu.estimated"
COST_ESTIMATED = "databricks.cost.estimated"

DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""The semantic-convention buckets, extended to an hour for warehouse queries and runs."""


class CostMetrics:
    def __init__(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            DB_CLIENT_OPERATION_DURATION,
            unit="s",
            description="Duration of Databricks operations, as seen by the client.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.dbu = meter.create_counter(
            DBU_ESTIMATED, unit="{dbu}", description="Databricks units estimated at the end of each operation."
        )
        self.dollars = meter.create_counter(
            COST_ESTIMATED, unit="{USD}", description="Dollars estimated at the end of each operation (list price)."
        )

    def record(self, seconds: float, dbu: float, dollars: float, attributes: Mapping[str, str]) -> None:
        self.duration.record(seconds, attributes)
        if dbu:
            self.dbu.add(dbu, attributes)
            self.dollars.add(dollars, attributes)
