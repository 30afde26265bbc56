"""Quickstart: SQL on a (local, emulated) Databricks warehouse, traced, tagged and priced.

Run it with ``python examples/quickstart.py``: it starts the embedded emulator, instruments the connector,
runs three statements inside a Dagster-like orchestration context, and prints each span with its Databricks
statement id, the query tags Databricks received, and the DBU and dollar estimate.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from databricks_emulator import Emulator
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor, orchestration_context


class PrintingExporter(SpanExporter):
    """Prints the attributes a Databricks user looks at, one span per block."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            attributes = span.attributes or {}
            print(f"span  {span.name}  ({(span.end_time - span.start_time) / 1e6:.1f} ms)")
            for key in (
                "databricks.statement_id",
                "databricks.warehouse.id",
                "db.query.text",
                "dagster.job.name",
                "dagster.run.id",
                "dagster.asset.key",
                "databricks.dbu.estimated",
                "databricks.cost.estimated_usd",
                "databricks.cost.estimate_method",
            ):
                if key in attributes:
                    value = attributes[key]
                    print(f"      {key:34} {value:.8f}" if isinstance(value, float) else f"      {key:34} {value}")
        return SpanExportResult.SUCCESS


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(PrintingExporter()))
    trace.set_tracer_provider(provider)

    with Emulator() as workspace:
        print(f"Emulated Databricks workspace at {workspace.host}, SQL warehouse {workspace.warehouse_id}\n")
        DatabricksInstrumentor().instrument(warehouse_sizes={workspace.warehouse_id: "Small"})
        try:
            context = orchestration_context(job_name="daily_sales", run_id="run-2026-11-27", asset_key="sales/orders")
            tracer = trace.get_tracer("quickstart")
            with (
                tracer.start_as_current_span("materialize sales/orders"),
                context,
                workspace.sql_connect() as connection,
                connection.cursor() as cursor,
            ):
                cursor.execute("CREATE OR REPLACE TABLE orders (id INT, amount DOUBLE, customer STRING)")
                cursor.execute("INSERT INTO orders VALUES (1, 19.99, 'ada'), (2, 5.00, 'grace')")
                cursor.execute(
                    "SELECT customer, sum(amount) FROM orders WHERE amount > :floor GROUP BY 1", {"floor": 1.0}
                )
                print(f"\nresult: {cursor.fetchall()}\n")
        finally:
            DatabricksInstrumentor().uninstrument()
        print("Query tags Databricks received (system.query.history.query_tags):")
        for record in workspace.query_history[-3:]:
            print(f"  {record.statement_id}  {record.query_tags}")


if __name__ == "__main__":
    main()
