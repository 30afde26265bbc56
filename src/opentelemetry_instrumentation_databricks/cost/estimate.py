"""Estimates of DBUs and dollars for work that has just ended, from what the client can know.

Every estimate is one formula, :func:`compute_time`: a DBU rate per hour times the duration, priced per DBU. What
differs between kinds of compute is where the rate comes from, which the ``method`` names (the constants below are
the values of ``databricks.cost.estimate_method``).
"""

from __future__ import annotations

from typing import NamedTuple

CONFIGURED_SIZE = "configured_size"
"""The warehouse size came from the ``warehouse_sizes`` option."""
LOOKED_UP_SIZE = "warehouse_api"
"""The warehouse size came from the Warehouses API (``warehouse_lookup=True``)."""
DEFAULT_SIZE = "default_size"
"""The size was unknown; ``default_warehouse_size`` was assumed."""
NODE_TYPE_RATES = "node_type_rates"
"""Classic compute: driver + workers priced from the node type table (``node_type_dbu_rates`` extends it)."""
UNKNOWN_NODE_TYPE = "unknown_node_type"
"""A node type (or an instance pool) without a known DBU rate: no DBUs are estimated, the span names it."""
UNKNOWN_CLUSTER = "unknown_cluster"
"""An existing cluster whose configuration this process has not seen (no clusters/get response passed through)."""
SERVERLESS_RATE = "serverless_rate"
"""Serverless jobs or pipelines: the configured ``serverless_dbu_per_hour`` times the duration."""
BILLED_ELSEWHERE = "billed_elsewhere"
"""Work whose compute is billed to another unit (a pipeline task's update, a run-job task's run): 0 here."""


class Estimate(NamedTuple):
    dbu: float
    dollars: float
    method: str


def compute_time(seconds: float, dbu_per_hour: float, dollars_per_dbu: float, method: str) -> Estimate:
    """DBUs of compute running for ``seconds`` at ``dbu_per_hour``, priced per DBU.

    For a SQL warehouse the rate is the whole warehouse's (size x clusters): concurrent statements each carry the
    full rate, so the sum over-counts a shared warehouse. The billed figures from the reconciler apportion instead.
    """
    dbu = dbu_per_hour * max(seconds, 0.0) / 3600.0
    return Estimate(dbu, dbu * dollars_per_dbu, method)
