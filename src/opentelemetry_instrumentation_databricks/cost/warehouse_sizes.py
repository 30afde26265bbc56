"""Which size a SQL warehouse is: configured, looked up once in the background, or the configured default."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping

from ..rest import get_json
from .estimate import CONFIGURED_SIZE, DEFAULT_SIZE, LOOKED_UP_SIZE
from .rates import WAREHOUSE_DBU_PER_HOUR, WarehouseShape, canonical_warehouse_size

_logger = logging.getLogger(__name__)

MAX_KNOWN_WAREHOUSES = 1024
MAX_PENDING_LOOKUPS = 64
LOOKUP_TIMEOUT_SECONDS = 10.0

HeaderSource = Callable[[], Mapping[str, str]]


class WarehouseSizes:
    """Answers ``dbu_per_hour(warehouse_id)`` without I/O; lookups run on one daemon thread, at most once per id;
    the thread ends when no lookup is waiting.

    The table of looked-up warehouses holds at most ``MAX_KNOWN_WAREHOUSES`` entries (further ones are not
    cached and keep the default); at most ``MAX_PENDING_LOOKUPS`` lookups wait at a time (further ones are
    skipped and retried on a later statement).
    """

    def __init__(self, configured: Mapping[str, WarehouseShape], default_size: str, lookup: bool) -> None:
        self._rates = {wid: (shape.dbu_per_hour, CONFIGURED_SIZE) for wid, shape in configured.items()}
        self._default = (WAREHOUSE_DBU_PER_HOUR[default_size], DEFAULT_SIZE)
        self._sizes = {wid: shape.size for wid, shape in configured.items()}
        self._default_size = default_size
        self._lookup = lookup
        self._requested: set[str] = set()
        self._queue: queue.Queue[tuple[str, str, HeaderSource]] = queue.Queue(MAX_PENDING_LOOKUPS)
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def rate(self, warehouse_id: str | None) -> tuple[float, str]:
        """``(DBU per hour, estimate method)`` for the warehouse, as known right now."""
        if warehouse_id is None:
            return self._default
        return self._rates.get(warehouse_id, self._default)

    def size(self, warehouse_id: str | None) -> str:
        return self._sizes.get(warehouse_id, self._default_size) if warehouse_id else self._default_size

    def request_lookup(self, warehouse_id: str | None, base_url: str | None, headers: HeaderSource | None) -> None:
        """Ask, once per warehouse, the Warehouses API for its size; never blocks."""
        if not self._lookup or not warehouse_id or not base_url or headers is None:
            return
        if warehouse_id in self._rates or warehouse_id in self._requested:
            return
        with self._lock:
            if warehouse_id in self._requested or len(self._requested) >= MAX_KNOWN_WAREHOUSES:
                return
            try:
                self._queue.put_nowait((warehouse_id, base_url, headers))
            except queue.Full:
                return
            self._requested.add(warehouse_id)
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="databricks-warehouse-lookup", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        """Work through the queued lookups, then end: the thread lives only while lookups wait (so neither an idle
        process nor instrument/uninstrument cycles keep threads around)."""
        while True:
            with self._lock:
                try:
                    warehouse_id, base_url, headers = self._queue.get_nowait()
                except queue.Empty:
                    self._worker = None
                    return
            try:
                self._look_up(warehouse_id, base_url, headers)
            except Exception as exc:  # the lookup is a nicety: failures keep the default and say so once
                _logger.info(
                    "Could not look up the size of SQL warehouse %s (%s); assuming %s.",
                    warehouse_id,
                    type(exc).__name__,
                    self._default_size,
                )

    def _look_up(self, warehouse_id: str, base_url: str, headers: HeaderSource) -> None:
        url = f"{base_url.rstrip('/')}/api/2.0/sql/warehouses/{warehouse_id}"
        info = get_json(url, headers(), LOOKUP_TIMEOUT_SECONDS)
        size = canonical_warehouse_size(str(info.get("cluster_size", "")))
        if size is None:
            _logger.info(
                "SQL warehouse %s reports an unknown size %r; assuming %s.",
                warehouse_id,
                info.get("cluster_size"),
                self._default_size,
            )
            return
        clusters = max(int(info.get("num_clusters") or info.get("min_num_clusters") or 1), 1)
        self._sizes[warehouse_id] = size
        self._rates[warehouse_id] = (WAREHOUSE_DBU_PER_HOUR[size] * clusters, LOOKED_UP_SIZE)
