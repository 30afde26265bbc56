"""The emulated platform's own rates and SKU names: what the "true" usage model bills with.

These are the emulator's figures, not the instrumentation's estimate tables, and deliberately not identical to
them: a real workspace bills per-instance DBU rates an estimator has to approximate. The node-type rates are
approximations of Databricks' published AWS per-instance figures (interactive pricing pages, 2025-2026); they
only have to be plausible and stable, not authoritative. Every table here is a plain dict the tests (and users
of the emulator) may change through ``ws.billing``.

SKU names follow the shapes ``system.billing.usage`` and ``system.billing.list_prices`` use on AWS:
``PREMIUM_JOBS_COMPUTE``, ``PREMIUM_JOBS_COMPUTE_(PHOTON)``, ``PREMIUM_ALL_PURPOSE_COMPUTE(_(PHOTON))``,
``PREMIUM_DLT_{CORE,PRO,ADVANCED}_COMPUTE(_(PHOTON))``, ``PREMIUM_SQL_COMPUTE`` (classic warehouses),
``PREMIUM_SQL_PRO_COMPUTE_<REGION>``, ``PREMIUM_SERVERLESS_SQL_COMPUTE_<REGION>`` and
``PREMIUM_JOBS_SERVERLESS_COMPUTE_<REGION>`` (serverless jobs and serverless pipelines).
"""

from __future__ import annotations

from decimal import Decimal

TIER = "PREMIUM"
REGION = "US_EAST_N_VIRGINIA"
CLOUD = "AWS"

NODE_TYPE_DBU_PER_HOUR: dict[str, float] = {
    "m5d.large": 0.34,
    "m5d.xlarge": 0.69,
    "m5d.2xlarge": 1.37,
    "m5d.4xlarge": 2.74,
    "m6gd.xlarge": 0.64,
    "c5d.2xlarge": 1.0,
    "r5d.xlarge": 0.9,
    "r5d.2xlarge": 1.8,
    "i3.xlarge": 1.0,
    "i3.2xlarge": 2.0,
    "g4dn.xlarge": 0.71,
}
"""DBU per hour of one node, driver or worker, before Photon."""

UNKNOWN_NODE_TYPE_DBU_PER_HOUR = 1.0

PHOTON_MULTIPLIER: dict[str, float] = {"JOBS": 2.9, "ALL_PURPOSE": 2.0, "DLT": 2.0}
"""How much Photon multiplies a classic cluster's DBUs, per product (``usage_quantity`` includes it)."""

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
"""DBU per hour of one cluster of a SQL warehouse of each size."""

SERVERLESS_JOB_DBU_PER_HOUR = 6.0
"""DBU per hour of one serverless job task, from its start (including its few seconds of start-up) to its end."""

SERVERLESS_PIPELINE_DBU_PER_HOUR = 8.0
"""DBU per hour of a serverless pipeline update, from its creation to its end."""


def _sku(*parts: str) -> str:
    return "_".join((TIER, *parts))


def jobs_sku(photon: bool) -> str:
    return _sku("JOBS_COMPUTE") + ("_(PHOTON)" if photon else "")


def all_purpose_sku(photon: bool) -> str:
    return _sku("ALL_PURPOSE_COMPUTE") + ("_(PHOTON)" if photon else "")


def dlt_sku(edition: str, photon: bool) -> str:
    return _sku(f"DLT_{edition.upper()}_COMPUTE") + ("_(PHOTON)" if photon else "")


def jobs_serverless_sku() -> str:
    return _sku("JOBS_SERVERLESS_COMPUTE", REGION)


def sql_sku(warehouse_type: str, serverless: bool) -> str:
    if serverless:
        return _sku("SERVERLESS_SQL_COMPUTE", REGION)
    if warehouse_type == "CLASSIC":
        return _sku("SQL_COMPUTE")
    return _sku("SQL_PRO_COMPUTE", REGION)


def default_list_prices() -> dict[str, Decimal]:
    """USD per DBU at AWS premium list price, per SKU the model emits."""
    prices = {
        jobs_sku(False): "0.15",
        jobs_sku(True): "0.15",
        all_purpose_sku(False): "0.55",
        all_purpose_sku(True): "0.55",
        jobs_serverless_sku(): "0.35",
        sql_sku("CLASSIC", False): "0.22",
        sql_sku("PRO", False): "0.55",
        sql_sku("PRO", True): "0.70",
    }
    for edition, price in (("CORE", "0.20"), ("PRO", "0.25"), ("ADVANCED", "0.36")):
        prices[dlt_sku(edition, False)] = price
        prices[dlt_sku(edition, True)] = price
    return {sku: Decimal(price) for sku, price in prices.items()}
