"""``system.billing.usage`` and ``system.billing.list_prices``, and ``ws.billing``: delays, prices, corrections.

Docs: https://docs.databricks.com/aws/en/admin/system-tables/billing (usage: columns, ``usage_metadata``,
``identity_metadata``, ``product_features``, record types) and
https://docs.databricks.com/aws/en/admin/system-tables/pricing (``list_prices``).

Rows come from :mod:`.usage_model`. Each becomes visible ``arrival_delay`` (serverless: ``serverless_arrival_delay``)
after its ``usage_end_time`` on the emulator clock, with ``ingestion_date`` the day it became visible. A
correction (:meth:`Billing.restate`, :meth:`Billing.retract`) adds a RETRACTION that negates the row and, for a
restatement, a RESTATEMENT with the corrected quantity, both ingested ``correction_delay`` after the call (never
before the row they correct): summing ``usage_quantity`` over every record type gives the corrected figure.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from . import rates
from .compute import ScaleRequest
from .tables import (
    BOOLEAN,
    DATE,
    DECIMAL,
    STRING,
    STRING_MAP,
    TIMESTAMP,
    TableSpec,
    string_struct,
    struct,
)
from .usage_model import HOUR, HourlyUsage, Meter, Rates

DOC = "https://docs.databricks.com/aws/en/admin/system-tables/billing"
PRICING_DOC = "https://docs.databricks.com/aws/en/admin/system-tables/pricing"

USAGE_METADATA_FIELDS = (
    "cluster_id",
    "job_id",
    "warehouse_id",
    "instance_pool_id",
    "node_type",
    "job_run_id",
    "notebook_id",
    "dlt_pipeline_id",
    "endpoint_name",
    "endpoint_id",
    "dlt_update_id",
    "dlt_maintenance_id",
    "metastore_id",
    "run_name",
    "job_name",
    "notebook_path",
    "central_clean_room_id",
    "source_region",
    "destination_region",
    "app_id",
    "app_name",
    "private_endpoint_name",
    "budget_policy_id",
    "storage_api_type",
    "ai_runtime_workload_id",
    "uc_table_catalog",
    "uc_table_schema",
    "uc_table_name",
    "database_instance_id",
    "sharing_materialization_id",
    "usage_policy_id",
    "agent_bricks_id",
    "base_environment_id",
)
IDENTITY_METADATA_FIELDS = ("run_as", "owned_by", "created_by")
_NESTED_FEATURES = {
    "ai_runtime": ("compute_type",),
    "model_serving": ("offering_type",),
    "ai_gateway": ("feature_type",),
    "serverless_gpu": ("workload_type",),
    "ai_functions": ("ai_function",),
    "networking": ("connectivity_type",),
    "agent_bricks": ("problem_type", "workload_type"),
}
PRODUCT_FEATURES_TYPE = struct(
    jobs_tier=STRING,
    sql_tier=STRING,
    dlt_tier=STRING,
    is_serverless=BOOLEAN,
    is_photon=BOOLEAN,
    serving_type=STRING,
    offering_type=STRING,
    performance_target=STRING,
    **{name: string_struct(*fields) for name, fields in _NESTED_FEATURES.items()},
)
_FLAT_FEATURES = ("jobs_tier", "sql_tier", "dlt_tier", "is_serverless", "is_photon", "serving_type", "offering_type")
_PRICE = struct(default=DECIMAL)

USAGE = TableSpec(
    "billing",
    "usage",
    (
        ("record_id", STRING),
        ("account_id", STRING),
        ("workspace_id", STRING),
        ("sku_name", STRING),
        ("cloud", STRING),
        ("usage_start_time", TIMESTAMP),
        ("usage_end_time", TIMESTAMP),
        ("usage_date", DATE),
        ("custom_tags", STRING_MAP),
        ("usage_unit", STRING),
        ("usage_quantity", DECIMAL),
        ("usage_metadata", string_struct(*USAGE_METADATA_FIELDS)),
        ("identity_metadata", string_struct(*IDENTITY_METADATA_FIELDS)),
        ("record_type", STRING),
        ("ingestion_date", DATE),
        ("billing_origin_product", STRING),
        ("product_features", PRODUCT_FEATURES_TYPE),
        ("usage_type", STRING),
    ),
    DOC,
)

LIST_PRICES = TableSpec(
    "billing",
    "list_prices",
    (
        ("price_start_time", TIMESTAMP),
        ("price_end_time", TIMESTAMP),
        ("account_id", STRING),
        ("sku_name", STRING),
        ("cloud", STRING),
        ("currency_code", STRING),
        ("usage_unit", STRING),
        ("pricing", struct(default=DECIMAL, promotional=_PRICE, effective_list=_PRICE)),
    ),
    PRICING_DOC,
)

_CORRECTION_NAMESPACE = uuid.UUID("0b7e3f5e-2d7c-4c8e-8f0a-6a4d5e9b1c23")
_EPOCH_2023 = datetime(2023, 1, 1, tzinfo=timezone.utc).timestamp()
_EPOCH_2025 = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()


@dataclass(frozen=True)
class UsageRow:
    """One row of ``system.billing.usage`` and the emulator time (epoch seconds) at which it becomes visible."""

    record_id: str
    record_type: str
    meter: Meter
    usage_start: float
    usage_end: float
    quantity: Decimal
    visible_at: float

    @property
    def usage_metadata(self) -> Mapping[str, str | None]:
        return self.meter.usage_metadata

    @property
    def custom_tags(self) -> Mapping[str, str]:
        return self.meter.custom_tags

    @property
    def sku_name(self) -> str:
        return self.meter.sku_name

    def values(self, account_id: str, workspace_id: str) -> tuple:
        """The row in :data:`USAGE` column order."""
        meter = self.meter
        start = datetime.fromtimestamp(self.usage_start, tz=timezone.utc)
        return (
            self.record_id,
            account_id,
            workspace_id,
            meter.sku_name,
            rates.CLOUD,
            start,
            datetime.fromtimestamp(self.usage_end, tz=timezone.utc),
            start.date(),
            dict(meter.custom_tags),
            "DBU",
            self.quantity,
            {name: meter.usage_metadata.get(name) for name in USAGE_METADATA_FIELDS},
            {name: meter.identity_metadata.get(name) for name in IDENTITY_METADATA_FIELDS},
            self.record_type,
            _day(self.visible_at),
            meter.billing_origin_product,
            _product_features(meter.product_features),
            "COMPUTE_TIME",
        )


@dataclass(frozen=True)
class PriceWindow:
    """One row of ``system.billing.list_prices``: USD per DBU of a SKU from ``start`` until ``end`` (or now)."""

    sku_name: str
    start: float
    end: float | None
    default: Decimal
    promotional: Decimal | None = None

    def values(self, account_id: str) -> tuple:
        effective = self.promotional if self.promotional is not None else self.default
        return (
            datetime.fromtimestamp(self.start, tz=timezone.utc),
            None if self.end is None else datetime.fromtimestamp(self.end, tz=timezone.utc),
            account_id,
            self.sku_name,
            rates.CLOUD,
            "USD",
            "DBU",
            {
                "default": self.default,
                "promotional": {"default": self.promotional},
                "effective_list": {"default": effective},
            },
        )


@dataclass(frozen=True)
class Correction:
    """A scripted correction of the row ``target``: ``quantity`` None retracts it without a restatement."""

    target: str
    quantity: Decimal | None
    issued_at: float


def _day(seconds: float) -> date:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).date()


def _product_features(features: Mapping[str, Any]) -> dict[str, Any]:
    flat = {name: features.get(name) for name in _FLAT_FEATURES}
    flat["performance_target"] = features.get("performance_target")
    for name, fields in _NESTED_FEATURES.items():
        nested = features.get(name) or {}
        flat[name] = {key: nested.get(key) for key in fields}
    return flat


def _default_prices() -> list[PriceWindow]:
    windows = []
    serverless = {rates.jobs_serverless_sku(), rates.sql_sku("PRO", True)}
    for sku, price in rates.default_list_prices().items():
        promotional = (price / 2).quantize(Decimal("0.001")) if sku in serverless else None
        windows.append(PriceWindow(sku, _EPOCH_2023, _EPOCH_2025, price, promotional))
        windows.append(PriceWindow(sku, _EPOCH_2025, None, price))
    return windows


def _seconds(at: datetime | float | None, default: float) -> float:
    if at is None:
        return default
    return at.timestamp() if isinstance(at, datetime) else float(at)


@dataclass
class Billing:
    """The billing side of the emulated workspace, as ``ws.billing``.

    Settings (plain attributes, read whenever a system table is queried)::

        ws.billing.arrival_delay = timedelta(hours=2)             # classic compute and classic/pro warehouses
        ws.billing.serverless_arrival_delay = timedelta(hours=6)  # serverless jobs, pipelines and warehouses
        ws.billing.correction_delay = timedelta(hours=1)          # RETRACTION/RESTATEMENT after restate()
        ws.billing.query_history_delay = timedelta(0)             # system.query.history
        ws.billing.timeline_delay = timedelta(0)                  # lakeflow timelines and warehouse_events
        ws.billing.attributed_cost_delay = timedelta(0)           # system.billing.attributed_cost, after billing
        ws.billing.attributed_cost_enabled = False                # no system.billing.attributed_cost (no Beta)
        ws.billing.rates.node_type_dbu_per_hour["i3.xlarge"] = 1.0

    Scripting::

        policy = ws.billing.add_usage_policy({"team": "growth"})  # serverless tags come from here
        ws.billing.scale_warehouse(ws.warehouse_id, 3)             # from now on, 3 clusters (SCALED_UP)
        ws.billing.set_price("PREMIUM_JOBS_COMPUTE", "0.17")       # a new list price from now on
        row = ws.billing.usage()[0]                                # visible rows, as UsageRow
        ws.billing.restate(row.record_id, quantity="1.25")         # RETRACTION + RESTATEMENT
        ws.billing.retract(other.record_id)                        # RETRACTION only
    """

    account_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    arrival_delay: timedelta = timedelta(hours=2)
    serverless_arrival_delay: timedelta = timedelta(hours=6)
    correction_delay: timedelta = timedelta(hours=1)
    query_history_delay: timedelta = timedelta(0)
    timeline_delay: timedelta = timedelta(0)
    attributed_cost_delay: timedelta = timedelta(0)
    attributed_cost_enabled: bool = True
    rates: Rates = field(default_factory=Rates.defaults)
    prices: list[PriceWindow] = field(default_factory=_default_prices)
    usage_policies: dict[str, dict[str, str]] = field(default_factory=dict)
    scale_requests: list[ScaleRequest] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    revision: int = 0
    _derive: Any = field(default=None, repr=False)
    _clock: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # scripting
    def add_usage_policy(self, tags: Mapping[str, str], policy_id: str | None = None) -> str:
        """Register a serverless usage (budget) policy and its tags; returns its id, for ``usage_policy_id`` or
        ``budget_policy_id`` of a job. Serverless usage of work under the policy carries exactly these tags."""
        policy_id = policy_id or str(uuid.uuid4())
        with self._lock:
            self.usage_policies[policy_id] = {str(k): str(v) for k, v in tags.items()}
            self.revision += 1
        return policy_id

    def scale_warehouse(self, warehouse_id: str, cluster_count: int, at: datetime | float | None = None) -> None:
        """Run ``cluster_count`` clusters (clipped to the warehouse's min/max) from ``at`` (default: now) until the
        warehouse stops or is scaled again."""
        request = ScaleRequest(warehouse_id, _seconds(at, self._now()), int(cluster_count))
        with self._lock:
            self.scale_requests.append(request)
            self.revision += 1

    def set_price(
        self,
        sku_name: str,
        default: Decimal | str | float,
        *,
        promotional: Decimal | str | float | None = None,
        start: datetime | float | None = None,
    ) -> None:
        """A new list price for ``sku_name`` from ``start`` (default: now); the open window before it ends then."""
        at = _seconds(start, self._now())
        with self._lock:
            self.prices = [
                replace(w, end=at) if w.sku_name == sku_name and w.end is None and w.start < at else w
                for w in self.prices
            ]
            self.prices.append(
                PriceWindow(
                    sku_name,
                    at,
                    None,
                    Decimal(str(default)),
                    None if promotional is None else Decimal(str(promotional)),
                )
            )
            self.revision += 1

    def restate(self, record_id: str, quantity: Decimal | str | float) -> tuple[str, str]:
        """Correct a usage row: a RETRACTION negating it and a RESTATEMENT carrying ``quantity`` instead, both
        ingested ``correction_delay`` from now (not before the corrected row). ``record_id`` is an ORIGINAL or an
        earlier RESTATEMENT, visible or still pending. Returns the two new record ids."""
        return self._correct(record_id, Decimal(str(quantity)))  # type: ignore[return-value]

    def retract(self, record_id: str) -> str:
        """Withdraw a usage row that should never have been written: a RETRACTION only. Returns its record id."""
        return self._correct(record_id, None)[0]

    def usage(self, *, include_pending: bool = False) -> list[UsageRow]:
        """The rows of ``system.billing.usage`` as of now (with ``include_pending``, also those not visible yet)."""
        rows = self._derive()
        if include_pending:
            return rows
        now = self._now()
        return [row for row in rows if row.visible_at <= now]

    # derivation
    def settings_key(self) -> tuple:
        return (
            self.revision,
            self.arrival_delay,
            self.serverless_arrival_delay,
            self.correction_delay,
            self.query_history_delay,
            self.timeline_delay,
            self.attributed_cost_delay,
            self.attributed_cost_enabled,
            self.rates.key(),
        )

    def rows(self, hourly: list[HourlyUsage]) -> list[UsageRow]:
        """ORIGINAL rows for ``hourly`` usage, then the correction rows, each with its visibility time."""
        rows = [
            UsageRow(
                item.record_id,
                "ORIGINAL",
                item.meter,
                item.hour_start,
                item.hour_start + HOUR,
                item.quantity,
                item.hour_end + self._delay(item.meter).total_seconds(),
            )
            for item in hourly
        ]
        by_id = {row.record_id: row for row in rows}
        for number, correction in enumerate(self.corrections):
            target = by_id.get(correction.target)
            if target is None:
                continue
            visible = max(target.visible_at, correction.issued_at + self.correction_delay.total_seconds())
            retraction = replace(
                target,
                record_id=_correction_id(correction.target, "RETRACTION", number),
                record_type="RETRACTION",
                quantity=-target.quantity,
                visible_at=visible,
            )
            rows.append(retraction)
            if correction.quantity is not None:
                restatement = replace(
                    target,
                    record_id=_correction_id(correction.target, "RESTATEMENT", number),
                    record_type="RESTATEMENT",
                    quantity=correction.quantity,
                    visible_at=visible,
                )
                rows.append(restatement)
                by_id[restatement.record_id] = restatement
        return rows

    def _delay(self, meter: Meter) -> timedelta:
        return self.serverless_arrival_delay if meter.serverless else self.arrival_delay

    def _correct(self, record_id: str, quantity: Decimal | None) -> tuple[str, ...]:
        rows = {row.record_id: row for row in self.usage(include_pending=True)}
        target = rows.get(record_id)
        if target is None or target.record_type == "RETRACTION":
            raise KeyError(f"no ORIGINAL or RESTATEMENT usage row with record_id {record_id!r}")
        with self._lock:
            number = len(self.corrections)
            self.corrections.append(Correction(record_id, quantity, self._now()))
            self.revision += 1
        kinds = ("RETRACTION",) if quantity is None else ("RETRACTION", "RESTATEMENT")
        return tuple(_correction_id(record_id, kind, number) for kind in kinds)

    def _now(self) -> float:
        return self._clock.time()


def _correction_id(target: str, kind: str, number: int) -> str:
    return str(uuid.uuid5(_CORRECTION_NAMESPACE, f"{target}|{kind}|{number}"))


def usage_values(rows: list[UsageRow], account_id: str, workspace_id: str, now: float) -> list[tuple]:
    return [row.values(account_id, workspace_id) for row in rows if row.visible_at <= now]


def price_values(windows: list[PriceWindow], account_id: str) -> list[tuple]:
    return [window.values(account_id) for window in windows]
