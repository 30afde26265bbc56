"""DBU per hour of classic-compute node types, for estimates of job, pipeline and all-purpose clusters.

Source and date (2026-11): Databricks publishes per-instance DBU rates only on its interactive pricing pages, which
the project's reference store does not hold, and third-party copies disagree with each other. The table is
therefore DERIVED from the two anchors Databricks documents: one DBU is one hour of a 4-vCPU memory-optimized
instance (``r3.xlarge``/``i3.xlarge``: 0.25 DBU/h per vCPU) or of an 8-vCPU compute-optimized one (``c3.2xlarge``:
0.125 DBU/h per vCPU); general-purpose families take the midpoint (0.1875 DBU/h per vCPU, which gives the familiar
0.75 DBU/h of Azure's ``Standard_DS3_v2``). Rates scale with the vCPU count inside a family. Treat the figures as
list-price approximations: ``system.billing.usage`` (through the reconciler) has the billed truth.

Extend or override the table without code changes::

    DatabricksInstrumentor().instrument(node_type_dbu_rates={"i3.xlarge": 1.0, "Standard_E8ds_v5": 2.0})
    # or OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES='{"i3.xlarge": 1.0}'

An unknown node type never fails a call: the span says ``databricks.cost.estimate_method=unknown_node_type`` and
one warning per node type names the option above.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

_logger = logging.getLogger(__name__)

DBU_PER_VCPU_HOUR = {"memory": 0.25, "general": 0.1875, "compute": 0.125}
"""Per-vCPU rates of the three instance classes, from the documented anchors above."""

_AWS_VCPUS = {
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "12xlarge": 48,
    "16xlarge": 64,
    "24xlarge": 96,
}
_AWS_FAMILIES = {
    "i3": "memory",
    "i3en": "memory",
    "i4i": "memory",
    "r5d": "memory",
    "r6id": "memory",
    "r6gd": "memory",
    "m5d": "general",
    "m5dn": "general",
    "m6id": "general",
    "m6gd": "general",
    "m7gd": "general",
    "c5d": "compute",
    "c6id": "compute",
    "c6gd": "compute",
}
_AZURE = {
    "memory": ("Standard_E{n}ds_v4", "Standard_E{n}ds_v5", "Standard_E{n}s_v3", "Standard_L{n}s_v2"),
    "general": ("Standard_D{n}s_v3", "Standard_D{n}ds_v4", "Standard_D{n}ds_v5", "Standard_D{n}as_v5"),
    "compute": ("Standard_F{n}s", "Standard_F{n}s_v2"),
}
_AZURE_VCPUS = (4, 8, 16, 32, 64)
_AZURE_DS_V2 = {"Standard_DS3_v2": 4, "Standard_DS4_v2": 8, "Standard_DS5_v2": 16}
_AZURE_DS_V2_MEMORY = {"Standard_DS12_v2": 4, "Standard_DS13_v2": 8, "Standard_DS14_v2": 16}
_GCP = {"n2-highmem": "memory", "n2-standard": "general", "n2-highcpu": "compute", "n2d-standard": "general"}
_GCP_VCPUS = (4, 8, 16, 32, 48, 64)

MAX_WARNED_NODE_TYPES = 256


def _derived_table() -> dict[str, float]:
    table: dict[str, float] = {}
    for family, kind in _AWS_FAMILIES.items():
        for size, vcpus in _AWS_VCPUS.items():
            table[f"{family}.{size}"] = round(vcpus * DBU_PER_VCPU_HOUR[kind], 4)
    for kind, patterns in _AZURE.items():
        for pattern in patterns:
            for vcpus in _AZURE_VCPUS:
                table[pattern.format(n=vcpus)] = round(vcpus * DBU_PER_VCPU_HOUR[kind], 4)
    for name, vcpus in _AZURE_DS_V2.items():
        table[name] = round(vcpus * DBU_PER_VCPU_HOUR["general"], 4)
    for name, vcpus in _AZURE_DS_V2_MEMORY.items():
        table[name] = round(vcpus * DBU_PER_VCPU_HOUR["memory"], 4)
    for prefix, kind in _GCP.items():
        for vcpus in _GCP_VCPUS:
            table[f"{prefix}-{vcpus}"] = round(vcpus * DBU_PER_VCPU_HOUR[kind], 4)
    return table


NODE_TYPE_DBU_PER_HOUR: Mapping[str, float] = _derived_table()
"""DBU per hour of one node, by ``node_type_id``, for AWS, Azure and GCP families in common use."""


class NodeTypeRates:
    """The shipped table plus the user's ``node_type_dbu_rates``; unknown node types warn once each.

    ::

        rates = NodeTypeRates({"my.custom": 3.0})
        rates.rate("i3.xlarge")  # 1.0
        rates.rate("x9.mega")    # None, and one warning naming node_type_dbu_rates

    At most ``MAX_WARNED_NODE_TYPES`` distinct unknown node types are remembered for the one-warning rule; beyond
    that, further unknown types are not warned about.
    """

    def __init__(self, overrides: Mapping[str, float] | None = None) -> None:
        self._rates = {**NODE_TYPE_DBU_PER_HOUR, **(overrides or {})}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def rate(self, node_type: str) -> float | None:
        rate = self._rates.get(node_type)
        if rate is None:
            self._warn(node_type)
        return rate

    def _warn(self, node_type: str) -> None:
        with self._lock:
            if node_type in self._warned or len(self._warned) >= MAX_WARNED_NODE_TYPES:
                return
            self._warned.add(node_type)
        _logger.warning(
            "No DBU rate is known for Databricks node type %r: its clusters get no DBU estimate "
            "(databricks.cost.estimate_method=unknown_node_type). Add one with "
            "DatabricksInstrumentor().instrument(node_type_dbu_rates={%r: <DBU per hour>}) or "
            "OTEL_INSTRUMENTATION_DATABRICKS_NODE_TYPE_DBU_RATES='{\"%s\": <DBU per hour>}'.",
            node_type,
            node_type,
            node_type,
        )
