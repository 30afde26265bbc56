"""Orchestration and trace ids as Databricks tags, fitted to each carrier's limits.

The user's own tags always win: ours never overwrite a key the user set, and when a carrier is full ours are
the ones left out (reported back so the caller can log them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from opentelemetry.trace import SpanContext

from .context import OrchestrationContext

JOB_NAME_TAG = "dagster_job_name"
RUN_ID_TAG = "dagster_run_id"
OP_NAME_TAG = "dagster_op_name"
ASSET_KEY_TAG = "dagster_asset_key"
PARTITION_KEY_TAG = "dagster_partition_key"
TRACE_ID_TAG = "otel_trace_id"
SPAN_ID_TAG = "otel_span_id"


@dataclass(frozen=True)
class TagLimits:
    """How many tags a Databricks carrier keeps, how long keys and values may be, which key characters it refuses."""

    carrier: str
    max_tags: int
    max_key_length: int
    max_value_length: int
    forbidden_key_characters: str = ""

    def clean_key(self, key: str) -> str:
        for character in self.forbidden_key_characters:
            key = key.replace(character, "_")
        return key[: self.max_key_length]

    def clean_value(self, value: str) -> str:
        return value if len(value) <= self.max_value_length else value[: self.max_value_length]


QUERY_TAGS = TagLimits(
    "query tags", max_tags=20, max_key_length=128, max_value_length=128, forbidden_key_characters=",:-/=."
)
CLUSTER_TAGS = TagLimits(
    "cluster custom_tags", max_tags=45, max_key_length=127, max_value_length=255, forbidden_key_characters="<>%&\\?/"
)
"""``custom_tags`` of a cluster spec. The SDK documents at most 45; Databricks copies them onto the cloud
instances, so keys and values follow the strictest common cloud rules (AWS: key <= 127, value <= 255 characters;
Azure refuses ``< > % & \\ ? /`` in keys). GCP labels are stricter still (<= 63 characters, lowercase): the
default tag keys fit, long values are cut by Databricks."""
JOB_TAGS = TagLimits(
    "job tags", max_tags=25, max_key_length=127, max_value_length=255, forbidden_key_characters="<>%&\\?/"
)
"""Job ``tags``: at most 25, forwarded to job clusters as cluster tags, so they share the cluster tag rules."""
PIPELINE_TAGS = TagLimits(
    "pipeline tags", max_tags=25, max_key_length=127, max_value_length=255, forbidden_key_characters="<>%&\\?/"
)
"""Pipeline ``tags``: at most 25, forwarded to the pipeline's clusters as cluster tags."""


def hex_ids(span_context: SpanContext) -> tuple[str, str]:
    """A span's trace and span ids as lowercase hex, as ``traceparent`` writes them (``to_bytes().hex()`` takes half
    the time of a ``032x`` format, on every call that writes tags)."""
    return span_context.trace_id.to_bytes(16, "big").hex(), span_context.span_id.to_bytes(8, "big").hex()


def orchestration_tags(
    context: OrchestrationContext, opaque_id: str | None, trace_id: str, span_id: str, opaque_id_key: str
) -> list[tuple[str, str]]:
    """Our tags, most important first: a full carrier drops from the end."""
    tags = []
    if opaque_id is not None:
        tags.append((opaque_id_key, opaque_id))
    if context.job_name is not None:
        tags.append((JOB_NAME_TAG, context.job_name))
    if context.run_id is not None:
        tags.append((RUN_ID_TAG, context.run_id))
    tags.append((TRACE_ID_TAG, trace_id))
    tags.append((SPAN_ID_TAG, span_id))
    if context.asset_key is not None:
        tags.append((ASSET_KEY_TAG, context.asset_key))
    if context.op_name is not None:
        tags.append((OP_NAME_TAG, context.op_name))
    if context.partition_key is not None:
        tags.append((PARTITION_KEY_TAG, context.partition_key))
    return tags


def merge_tags(
    user_tags: Mapping[str, str | None] | None, ours: Iterable[tuple[str, str]], limits: TagLimits
) -> tuple[dict[str, str | None], list[str]]:
    """The user's tags plus as many of ours as fit (our keys cleaned to the carrier's key rules); returns the merged
    tags and the keys of ours left out."""
    merged: dict[str, str | None] = dict(user_tags) if user_tags else {}
    room = limits.max_tags - len(merged)
    max_key, max_value = limits.max_key_length, limits.max_value_length
    dropped = []
    for key, value in ours:
        if len(key) > max_key or not key.isidentifier():
            key = limits.clean_key(key)
        if key in merged:
            continue
        if room <= 0:
            dropped.append(key)
            continue
        merged[key] = value if len(value) <= max_value else value[:max_value]
        room -= 1
    return merged, dropped
