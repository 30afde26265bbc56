"""How many rows a statement returned, when the connector already knows it without fetching."""

from __future__ import annotations

from typing import Any


def returned_rows(result_set: Any) -> int | None:
    """The row count from the SEA manifest, or from a Thrift result that arrived whole; ``None`` when unknown.

    Only results with columns count: DDL and DML report nothing here.
    """
    if result_set is None or not getattr(result_set, "description", None):
        return None
    total = getattr(getattr(result_set, "manifest", None), "total_row_count", None)
    if isinstance(total, int):
        return total
    if getattr(result_set, "has_more_rows", True):
        return None
    queue = getattr(result_set, "results", None)
    for name in ("n_valid_rows", "num_rows"):
        count = getattr(queue, name, None)
        if isinstance(count, int):
            return count
    return None
