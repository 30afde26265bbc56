"""The background warehouse-size lookup: asked once per warehouse, on a thread that ends when nothing waits."""

from __future__ import annotations

import threading

from opentelemetry_instrumentation_databricks.cost.warehouse_sizes import WarehouseSizes


def _lookup_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "databricks-warehouse-lookup"]


def test_lookup_thread_ends_once_no_lookup_waits(emulator):
    for thread in _lookup_threads():
        thread.join(10)
    sizes = WarehouseSizes({}, "Small", lookup=True)
    headers = lambda: {"Authorization": f"Bearer {emulator.token}"}  # noqa: E731
    sizes.request_lookup(emulator.warehouse_id, emulator.host, headers)
    for thread in _lookup_threads():
        thread.join(10)
    assert sizes.rate(emulator.warehouse_id)[1] == "warehouse_api"
    assert _lookup_threads() == []
    sizes.request_lookup("another-warehouse", emulator.host, headers)
    for thread in _lookup_threads():
        thread.join(10)
    assert _lookup_threads() == [], "a later lookup starts a thread again, which ends again"
