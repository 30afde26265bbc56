"""Billed cost back onto the traces: the billing source, the cost-reconciling span processor, the reconciler.

* :class:`SqlBillingSource` (:mod:`.source`): billed DBUs and dollars per unit from ``system.billing.usage`` +
  ``list_prices`` (+ ``query.history`` for per-statement apportioning), one SQL per batch, run on a warehouse;
* :class:`CostReconcilingSpanProcessor` (:mod:`.processor`): holds spans of billed work briefly and forwards them
  with billed cost when it is already known, else with ``databricks.cost.status=pending``;
* :class:`SpanIdRecorder` (:mod:`.records`): the span-time record of which span stood for which unit;
* :class:`Reconciler` (:mod:`.reconciler`) and the ``databricks-otel-reconcile`` command (:mod:`.cli`): on a
  schedule, one ``databricks.billing`` span per unit (and per correction) in the original trace, plus
  ``databricks.dbu.billed`` / ``databricks.cost.billed`` metrics; :mod:`.accuracy` reports estimate vs billed.
"""

from __future__ import annotations

from .keys import ReconcileKey, key_of
from .processor import CostReconcilingSpanProcessor
from .reconciler import Reconciler, ReconcileResult
from .records import SpanIdRecorder, SpanIdRecords
from .source import BilledCost, SqlBillingSource, StatementExecutionConnection, SystemTablesUnavailable
from .state import StateStore

__all__ = [
    "BilledCost",
    "CostReconcilingSpanProcessor",
    "ReconcileKey",
    "ReconcileResult",
    "Reconciler",
    "SpanIdRecorder",
    "SpanIdRecords",
    "SqlBillingSource",
    "StateStore",
    "StatementExecutionConnection",
    "SystemTablesUnavailable",
    "key_of",
]
