"""Billed-cost metrics: ``databricks.dbu.billed`` and ``databricks.cost.billed``, cumulative, read from the state.

The same pattern as :class:`~..cost.metrics.CostMetrics`: observable counters report running totals when the reader
collects. Here the totals are the reconciler's committed state, per unit kind, attribution and the unit's labels
(``dagster.job.name``, ``dagster.asset.key``, ``databricks.compute.type``, ``databricks.warehouse.id``,
``databricks.tag.<key>``, those it has; fixed at the unit's first emission), so a rerun, a crash and a restart, a
re-export or a restatement never counts a dollar twice or moves it to another series: the counters only move when
the state does.

::

    metrics = BilledCostMetrics(meter_provider.get_meter("reconciler"), state.totals_by_series)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from ..attributes import BILLING_UNIT_KIND, COST_ATTRIBUTION
from .query import UNATTRIBUTED_KINDS

DBU_BILLED = "databricks.dbu.billed"
COST_BILLED = "databricks.cost.billed"

Totals = Callable[[], list[tuple[str, dict[str, str], float, float]]]


class BilledCostMetrics:
    """Observable counters over ``totals()`` -> ``[(unit kind, labels, dbu, usd)]``."""

    def __init__(self, meter: Meter, totals: Totals) -> None:
        self._totals = totals
        meter.create_observable_counter(
            DBU_BILLED,
            callbacks=[self._observe_dbu],
            unit="{dbu}",
            description="Databricks units billed in system.billing.usage, as reconciled.",
        )
        meter.create_observable_counter(
            COST_BILLED,
            callbacks=[self._observe_dollars],
            unit="{USD}",
            description="Dollars billed (list price x discount), as reconciled.",
        )

    def _observe(self, index: int) -> Iterable[Observation]:
        return [
            Observation(
                amounts[index],
                {
                    **labels,
                    BILLING_UNIT_KIND: kind,
                    COST_ATTRIBUTION: "unattributed" if kind in UNATTRIBUTED_KINDS else "attributed",
                },
            )
            for kind, labels, *amounts in self._totals()
        ]

    def _observe_dbu(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe(0)

    def _observe_dollars(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe(1)
