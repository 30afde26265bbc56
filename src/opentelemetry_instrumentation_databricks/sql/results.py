"""What a finished statement reports without another call: its id and, when the result arrived whole, its rows."""

from __future__ import annotations

from typing import Any


def returned_rows(result_set: Any) -> int | None:
    """The row count from the SEA manifest, or from a Thrift result that arrived whole; ``None`` when unknown.

    A Thrift result arrives whole as inline rows (column table or Arrow batches: the queue counts them) or as
    cloud-fetch links that all came in the first answer (the last link's offset plus its rows). Only results
    with columns count: DDL and DML report nothing here.
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
    links = getattr(queue, "result_links", None)
    if isinstance(links, list) and links:
        last = links[-1]
        end = getattr(last, "startRowOffset", None), getattr(last, "rowCount", None)
        if all(isinstance(part, int) for part in end):
            return end[0] + end[1]
    return None


def statement_id_of(command: Any) -> str:
    """``command.to_hex_guid()`` without its ``uuid.UUID`` round trip (3 us, more than the rest of this module)."""
    guid = getattr(command, "guid", None)
    if isinstance(guid, bytes) and len(guid) == 16:
        h = guid.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return command.to_hex_guid()
