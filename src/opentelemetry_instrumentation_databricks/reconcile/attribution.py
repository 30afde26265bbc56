"""Who spent it: the orchestration context of a billed unit, from the strongest source that has it.

Every ``databricks.billing`` span carries the Dagster context of the work (``dagster.job.name``, ``dagster.run.id``,
``dagster.op.name``, ``dagster.asset.key``, ``dagster.partition.key``), ``databricks.compute.type``, the warehouse /
cluster / job ids and ``databricks.tag.<key>`` for each user tag key named in
``OTEL_INSTRUMENTATION_DATABRICKS_BILLING_TAG_KEYS`` (e.g. ``team,cost_center``). Each field is taken from the
strongest source that has it:

1. ``span_record``: the context recorded when the span ended (:class:`~.records.SpanRecord` ``context``);
2. ``query_tags``: our ``dagster_*`` and the user's tags in ``system.query.history.query_tags`` (SQL statements);
3. ``custom_tags``: cluster / job / pipeline / warehouse tags in ``system.billing.usage.custom_tags`` (everything
   else: idle warehouse-hours take their warehouse's; a statement's query tags are completed with its warehouse's
   tags for the keys they lack, and still count as ``query_tags``).

``databricks.billing.attribution_source`` names the strongest source that gave any Dagster field or user tag
(``none`` when none did).
Ids and the compute type billing itself knows (warehouse from the statement's hour, cluster and job from
``usage_metadata``, compute type from the SKU) fill what the sources left out and do not count as a source.

::

    keys = parse_tag_keys("team,cost_center")           # ("team", "cost_center")
    found = attribution(kind=cost.kind, recorded=[r.context for r in records], tags=cost.tags, user_keys=keys,
                        billing_facts={"databricks.warehouse.id": cost.scope})
    span_attributes.update(found.attributes)            # found.source: span_record / query_tags / custom_tags / none
    labels = metric_labels(found.attributes, keys)      # bounded dimensions only: never run or statement ids

Bounds: at most :data:`MAX_TAG_KEYS` user tag keys; every value is cut at :data:`MAX_VALUE_LENGTH` characters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..attributes import (
    CLUSTER_CUSTOM_TAGS,
    CLUSTER_ID,
    COMPUTE_TYPE,
    DAGSTER_ASSET_KEY,
    DAGSTER_JOB_NAME,
    DAGSTER_OP_NAME,
    DAGSTER_PARTITION_KEY,
    DAGSTER_RUN_ID,
    JOB_ID,
    JOB_TAGS,
    TAG_PREFIX,
    WAREHOUSE_ID,
)
from ..tags import ASSET_KEY_TAG, JOB_NAME_TAG, OP_NAME_TAG, PARTITION_KEY_TAG, RUN_ID_TAG

SPAN_RECORD = "span_record"
QUERY_TAGS = "query_tags"
CUSTOM_TAGS = "custom_tags"
SPAN = "span"
NONE = "none"

MAX_TAG_KEYS = 10
MAX_VALUE_LENGTH = 128
TAG_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,127}")
"""A user tag key the billing SQL may name (no quote, space or backslash can reach the statement)."""

CONTEXT_TAGS: tuple[tuple[str, str], ...] = (
    (JOB_NAME_TAG, DAGSTER_JOB_NAME),
    (RUN_ID_TAG, DAGSTER_RUN_ID),
    (OP_NAME_TAG, DAGSTER_OP_NAME),
    (ASSET_KEY_TAG, DAGSTER_ASSET_KEY),
    (PARTITION_KEY_TAG, DAGSTER_PARTITION_KEY),
)
"""Our Databricks tag keys (written by the instrumentation) and the span attribute each one stands for."""
CONTEXT_ATTRIBUTES = tuple(attribute for _, attribute in CONTEXT_TAGS)
ID_ATTRIBUTES = (WAREHOUSE_ID, CLUSTER_ID, JOB_ID)
METRIC_DIMENSIONS = (DAGSTER_JOB_NAME, DAGSTER_ASSET_KEY, COMPUTE_TYPE, WAREHOUSE_ID)
"""The bounded dimensions of billed metrics (plus the user tag keys); run, op, partition and unit ids stay on spans."""


def parse_tag_keys(value: Any) -> tuple[str, ...]:
    """``"team,cost_center"`` (or a sequence of keys) -> ``("team", "cost_center")``; ``ValueError`` saying why not."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    keys: list[str] = []
    for part in parts:
        key = str(part).strip()
        if not key or key in keys:
            continue
        if not TAG_KEY.fullmatch(key):
            raise ValueError(
                f"tag key {key!r} is not usable: letters, digits and _ . : @ - only, at most 128 characters"
            )
        keys.append(key)
    if len(keys) > MAX_TAG_KEYS:
        raise ValueError(f"{len(keys)} tag keys: at most {MAX_TAG_KEYS} (each one is a metric dimension)")
    return tuple(keys)


def tag_attribute(key: str) -> str:
    """The span attribute and metric label of user tag ``key``: ``databricks.tag.<key>``."""
    return f"{TAG_PREFIX}{key}"


def tag_columns(user_keys: Sequence[str]) -> tuple[str, ...]:
    """The Databricks tag keys the billing SQL reads, in the order of its ``tag_values`` array."""
    ours = tuple(tag for tag, _ in CONTEXT_TAGS)
    return ours + tuple(key for key in user_keys if key not in ours)


def bounded(value: Any) -> str:
    text = str(value)
    return text if len(text) <= MAX_VALUE_LENGTH else text[:MAX_VALUE_LENGTH]


def tags_from_values(columns: Sequence[str], values: Any) -> tuple[tuple[str, str], ...]:
    """The ``tag_values`` of a billing row (JSON ``{"v": [value per column]}``), as ``((tag key, value), ...)`` for
    the keys present."""
    if values is None or values == "":
        return ()
    decoded = json.loads(values) if isinstance(values, str) else values
    decoded = decoded.get("v") if isinstance(decoded, dict) else None
    if not isinstance(decoded, list):
        raise ValueError('tag_values is not {"v": [...]}')
    return tuple((key, bounded(v)) for key, v in zip(columns, decoded, strict=False) if v not in (None, ""))


def attributes_from_tags(tags: Iterable[tuple[str, str]], user_keys: Sequence[str]) -> dict[str, str]:
    """Span attributes from Databricks tags: our ``dagster_*`` keys and the user's tag keys."""
    ours = dict(CONTEXT_TAGS)
    found: dict[str, str] = {}
    for key, value in tags:
        if key in ours:
            found[ours[key]] = value
        elif key in user_keys:
            found[tag_attribute(key)] = value
    return found


def context_of_span(attributes: Mapping[str, Any], user_keys: Sequence[str]) -> dict[str, str]:
    """What a finished span knows of its context, for the span-time record: Dagster fields, ids, user tags (from
    ``databricks.cluster.custom_tags`` / ``databricks.job.tags``, ``key=value`` strings)."""
    context = {
        name: bounded(attributes[name])
        for name in (*CONTEXT_ATTRIBUTES, *ID_ATTRIBUTES)
        if attributes.get(name) not in (None, "")
    }
    if user_keys:
        for carrier in (CLUSTER_CUSTOM_TAGS, JOB_TAGS):
            pairs = attributes.get(carrier)
            if not isinstance(pairs, (list, tuple)):
                continue
            for pair in pairs:
                key, _, value = str(pair).partition("=")
                if key in user_keys and value:
                    context.setdefault(tag_attribute(key), bounded(value))
    return context


@dataclass(frozen=True)
class Attribution:
    attributes: dict[str, str]
    source: str


def compute_type_of(kind: str, sku_name: str | None) -> str | None:
    """The execution method billing implies for a unit kind and SKU (when no span recorded one); ``None`` for
    notebooks (``usage_metadata.notebook_id`` marks serverless notebooks, which no compute type stands for)."""
    if kind in ("statement", "warehouse_idle"):
        return "sql_warehouse"
    if kind == "pipeline_update":
        return "dlt"
    if kind == "job_run":
        return "jobs_serverless" if sku_name and "SERVERLESS" in sku_name.upper() else "jobs_classic"
    if kind == "cluster":
        return "all_purpose"
    return None


def attribution(
    *,
    kind: str,
    recorded: Sequence[Mapping[str, str] | None],
    tags: Iterable[tuple[str, str]],
    user_keys: Sequence[str],
    billing_facts: Mapping[str, str | None],
) -> Attribution:
    """Merge the sources field by field, strongest first (see the module docstring)."""
    context_names = {*CONTEXT_ATTRIBUTES, *(tag_attribute(k) for k in user_keys)}
    wanted = {*context_names, *ID_ATTRIBUTES, COMPUTE_TYPE}
    merged: dict[str, str] = {}
    source = NONE
    for context in recorded:
        for name, value in (context or {}).items():
            if name in wanted and value and name not in merged:
                merged[name] = value
                if name in context_names:
                    source = SPAN_RECORD
    tag_source = QUERY_TAGS if kind == "statement" else CUSTOM_TAGS
    for name, value in attributes_from_tags(tags, user_keys).items():
        if name not in merged:
            merged[name] = value
            if source == NONE:
                source = tag_source
    for name, value in billing_facts.items():
        if value and name not in merged:
            merged[name] = bounded(value)
    return Attribution(merged, source)


def metric_labels(attributes: Mapping[str, Any], user_keys: Sequence[str]) -> dict[str, str]:
    """The billed-metric labels of a unit: the bounded dimensions it has (never run, statement or unit ids)."""
    names = (*METRIC_DIMENSIONS, *(tag_attribute(key) for key in user_keys))
    return {name: str(attributes[name]) for name in names if attributes.get(name) not in (None, "")}
