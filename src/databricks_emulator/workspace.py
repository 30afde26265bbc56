"""The emulated workspace's state, shared by every service: clock, warehouses, ids, and what ran."""

from __future__ import annotations

import itertools
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock

WAREHOUSE_SIZES = ("2X-Small", "X-Small", "Small", "Medium", "Large", "X-Large", "2X-Large", "3X-Large", "4X-Large")


@dataclass
class Warehouse:
    id: str
    name: str
    cluster_size: str = "Small"
    warehouse_type: str = "PRO"
    enable_serverless_compute: bool = True
    enable_photon: bool = True
    min_num_clusters: int = 1
    max_num_clusters: int = 1
    num_clusters: int = 1
    auto_stop_mins: int = 10
    state: str = "RUNNING"
    tags: dict[str, str] = field(default_factory=dict)
    spot_instance_policy: str = "COST_OPTIMIZED"
    channel: str = "CHANNEL_NAME_CURRENT"
    creator_name: str = "emulator-user@example.com"

    @property
    def http_path(self) -> str:
        return f"/sql/1.0/warehouses/{self.id}"


class Workspace:
    """Everything the emulated services know. Services keep their own tables here, under a lock of theirs."""

    def __init__(
        self,
        clock: Clock,
        *,
        workspace_id: int = 1234567890123456,
        host: str = "",
        default_catalog: str = "main",
        default_schema: str = "default",
    ) -> None:
        self.clock = clock
        self.workspace_id = workspace_id
        self.host = host
        self.default_catalog = default_catalog
        self.default_schema = default_schema
        self.lock = threading.RLock()
        self.warehouses: dict[str, Warehouse] = {}
        self._counter = itertools.count(1)
        self.extensions: dict[str, Any] = {}

    def next_number(self) -> int:
        """A workspace-wide increasing number, for job ids, run ids and the like."""
        return next(self._counter)

    @staticmethod
    def new_uuid() -> str:
        return str(uuid.uuid4())

    @staticmethod
    def new_hex_id(length: int = 16) -> str:
        return secrets.token_hex(length // 2)

    def add_warehouse(self, name: str, cluster_size: str = "Small", **settings: Any) -> Warehouse:
        if cluster_size not in WAREHOUSE_SIZES:
            raise ValueError(f"cluster_size={cluster_size!r} is not a SQL warehouse size; use one of {WAREHOUSE_SIZES}")
        warehouse = Warehouse(id=self.new_hex_id(16), name=name, cluster_size=cluster_size, **settings)
        with self.lock:
            self.warehouses[warehouse.id] = warehouse
        return warehouse
