"""Dagster integration: zero-config Dagster context on every span and tag, and the ``InsightsDatabricksResource``.

Zero config: with ``dagster`` (or only ``dagster-pipes``) installed, ``DatabricksInstrumentor().instrument()`` (or
``opentelemetry-instrument``) registers :mod:`.detection`, so the Databricks work of an op or asset, or of a Dagster
Pipes external process, carries ``dagster.job.name``, ``dagster.run.id``, ``dagster.op.name``,
``dagster.asset.key`` and ``dagster.partition.key`` on its spans and as Databricks tags.

The resource (``pip install 'opentelemetry-instrumentation-databricks[dagster]'``)::

    from opentelemetry_instrumentation_databricks.dagster import InsightsDatabricksResource

    @dg.asset
    def orders(databricks: InsightsDatabricksResource) -> None:
        with databricks.get_sql_client() as connection, connection.cursor() as cursor:
            cursor.execute("SELECT ...")

Each asset's Databricks cost lands in its materialization metadata (``databricks/dbu_estimated``,
``databricks/cost_estimated_usd``, ``databricks/statements``, ``databricks/statement_ids``...).

Billed cost per asset and partition, as observations: ``billing_definitions()`` (:mod:`.billing`).

This package shares its last name with the ``dagster`` library; absolute imports (the default in Python 3) always
mean the library. Importing this package does not import Dagster: the resource loads on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .billing import billing_definitions
    from .costs import CostSummary
    from .resource import InsightsDatabricksResource

__all__ = ["CostSummary", "InsightsDatabricksResource", "billing_definitions"]


def __getattr__(name: str) -> Any:
    if name == "InsightsDatabricksResource":
        from .resource import InsightsDatabricksResource

        return InsightsDatabricksResource
    if name == "billing_definitions":
        from .billing import billing_definitions

        return billing_definitions
    if name == "CostSummary":
        from .costs import CostSummary

        return CostSummary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
