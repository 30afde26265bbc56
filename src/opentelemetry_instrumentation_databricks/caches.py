"""A small bounded map shared by the rooms that remember what passed through (cluster and pipeline specs)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """A least-recently-stored map: when full, the oldest entry is forgotten.

    ::

        specs: BoundedCache[dict] = BoundedCache(1024)
        specs.put("0123-abc", {"node_type_id": "i3.xlarge"})
        specs.get("0123-abc")  # {'node_type_id': 'i3.xlarge'}
    """

    def __init__(self, max_entries: int) -> None:
        self._entries: OrderedDict[str, V] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: str | None) -> V | None:
        return self._entries.get(key) if key is not None else None

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
