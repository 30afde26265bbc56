"""Estimates of DBUs and dollars for work that has just ended, from what the client can know."""

from __future__ import annotations

from dataclasses import dataclass

CONFIGURED_SIZE = "configured_size"
"""The warehouse size came from the ``warehouse_sizes`` option."""
LOOKED_UP_SIZE = "warehouse_api"
"""The warehouse size came from the Warehouses API (``warehouse_lookup=True``)."""
DEFAULT_SIZE = "default_size"
"""The size was unknown; ``default_warehouse_size`` was assumed."""


@dataclass(frozen=True, slots=True)
class Estimate:
    dbu: float
    dollars: float
    method: str


def warehouse_time(seconds: float, dbu_per_hour: float, dollars_per_dbu: float, method: str) -> Estimate:
    """DBUs of a SQL warehouse busy for ``seconds``: its DBU/h (size x clusters) times the time, priced per DBU.

    This charges the whole warehouse to one statement while it runs: concurrent statements each carry the full
    rate, so the sum over-counts a shared warehouse. The billed figures from the reconciler apportion instead.
    """
    dbu = dbu_per_hour * max(seconds, 0.0) / 3600.0
    return Estimate(dbu, dbu * dollars_per_dbu, method)
