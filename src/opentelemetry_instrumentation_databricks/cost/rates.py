"""List rates used for estimates. Every figure here can be overridden through configuration.

Sources: Databricks SQL warehouse sizing docs (DBU per hour per cluster) and the AWS premium-tier list prices
on Databricks' pricing pages, as of 2026-11. Billed cost always comes from ``system.billing`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

WAREHOUSE_DBU_PER_HOUR: dict[str, float] = {
    "2X-Small": 4.0,
    "X-Small": 6.0,
    "Small": 12.0,
    "Medium": 24.0,
    "Large": 40.0,
    "X-Large": 80.0,
    "2X-Large": 144.0,
    "3X-Large": 272.0,
    "4X-Large": 528.0,
}
"""DBU per hour of one cluster of a SQL warehouse, by the ``cluster_size`` the Warehouses API reports."""

DOLLARS_PER_DBU: dict[str, float] = {
    "sql_serverless": 0.70,
    "sql_pro": 0.55,
    "sql_classic": 0.22,
    "jobs_classic": 0.15,
    "jobs_serverless": 0.35,
    "all_purpose": 0.55,
    "dlt_core": 0.20,
    "dlt_pro": 0.25,
    "dlt_advanced": 0.36,
}
"""AWS premium list $/DBU by compute family; customers with discounts configure their own."""

DEFAULT_PHOTON_DBU_MULTIPLIER = 2.0
"""Photon clusters consume roughly 2-2.9x the DBUs per hour of the same cluster without Photon, by SKU and cloud;
the low end is the default."""

DEFAULT_SERVERLESS_DBU_PER_HOUR = 4.0
"""DBU per hour assumed for a serverless job task or pipeline update. Serverless usage scales with the work and
has no published per-hour figure: this is the rate of a small classic cluster (4 nodes of 1 DBU/h); set your own
from ``system.billing.usage``."""

_SIZE_KEYS = {name.lower().replace("-", ""): name for name in WAREHOUSE_DBU_PER_HOUR}
_SIZE_KEYS.update({"xxsmall": "2X-Small", "xxlarge": "2X-Large", "xxxlarge": "3X-Large", "xxxxlarge": "4X-Large"})


def canonical_warehouse_size(size: str) -> str | None:
    """``"2x-small"``, ``"2X_SMALL"`` and ``"2X-Small"`` all name ``"2X-Small"``; ``None`` for anything else."""
    return _SIZE_KEYS.get(size.strip().lower().replace("-", "").replace("_", "").replace(" ", ""))


@dataclass(frozen=True)
class WarehouseShape:
    """What an estimate needs to know of a SQL warehouse: its size and how many clusters run."""

    size: str
    clusters: int = 1

    @property
    def dbu_per_hour(self) -> float:
        return WAREHOUSE_DBU_PER_HOUR[self.size] * self.clusters
