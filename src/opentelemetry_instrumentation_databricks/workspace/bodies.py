"""New request bodies with our tags and trace context added; the user's dicts are copied, never changed.

Every helper returns a new object (or the same one when nothing was added) and reports the keys of our tags that
a full carrier could not take. A key the user set is never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..tags import CLUSTER_TAGS, TagLimits, merge_tags
from .call import Call

TRACEPARENT_VARIABLE = "TRACEPARENT"
"""The environment variable (W3C trace context over environment variables) set on new clusters."""
TRACEPARENT_PARAMETER = "traceparent"
"""The job/task parameter name used when ``trace_context_parameters`` is on."""
MAX_RUN_NAME_LENGTH = 4096


def with_tags(
    holder: Mapping[str, Any], field: str, ours: Iterable[tuple[str, str]], limits: TagLimits, dropped: list[str]
) -> dict[str, Any]:
    """A copy of ``holder`` whose ``field`` tag map holds the user's tags plus as many of ours as fit."""
    new = dict(holder)
    new[field] = _merged(holder.get(field), ours, limits, dropped)
    return new


def _merged(user: Any, ours: Iterable[tuple[str, str]], limits: TagLimits, dropped: list[str]) -> dict[str, Any]:
    if user is not None and not (type(user) is dict or isinstance(user, Mapping)):
        user = None
    merged, left_out = merge_tags(user, ours, limits)
    if left_out:
        dropped.extend(key for key in left_out if key not in dropped)
    return merged


def _with_key(current: Any, key: str, value: str) -> dict[str, Any] | None:
    """A new map of ``current`` (``None``: empty) with ``key`` set; ``None`` when the user set it or ``current`` is
    not a map (left as it is)."""
    if current is None:
        return {key: value}
    if not isinstance(current, Mapping) or key in current:
        return None
    return {**current, key: value}


def with_default(holder: Mapping[str, Any], field: str, key: str, value: str) -> Mapping[str, Any]:
    """A copy of ``holder`` whose ``field`` map has ``key`` set, unless the user already set it."""
    changed = _with_key(holder.get(field), key, value)
    return holder if changed is None else {**holder, field: changed}


def cluster_with_tags(spec: Any, call: Call, dropped: list[str], traceparent: bool) -> Any:
    """A new cluster spec with our ``custom_tags`` and, for a run's own cluster, ``spark_env_vars.TRACEPARENT``."""
    if not (type(spec) is dict or isinstance(spec, Mapping)):
        return spec
    new = dict(spec)
    new["custom_tags"] = _merged(spec.get("custom_tags"), call.our_tags(), CLUSTER_TAGS, dropped)
    if traceparent:
        variables = _with_key(spec.get("spark_env_vars"), TRACEPARENT_VARIABLE, call.traceparent())
        if variables is not None:
            new["spark_env_vars"] = variables
    return new


def map_list(items: Any, change: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> Any:
    """``items`` with ``change`` applied to each dict entry; anything that is not a list comes back as it was."""
    if not isinstance(items, list):
        return items
    return [change(item) if isinstance(item, Mapping) else item for item in items]


def run_name_of(ours: Iterable[tuple[str, str]]) -> str:
    """``dagster_job_name=nightly dagster_run_id=42 ... otel_trace_id=...``: a name Databricks keeps with the run."""
    return " ".join(f"{key}={value}" for key, value in ours)[:MAX_RUN_NAME_LENGTH]
