"""SQL warehouses REST API: ``/api/2.0/sql/warehouses`` list, get, create, edit, start, stop and delete.

Start and stop take effect at once (the SDK's ``start().result()`` sees RUNNING on its first poll).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from .http import HttpApp, Request, invalid, not_found
from .workspace import WAREHOUSE_SIZES, Warehouse, Workspace

_EDITABLE = (
    "name",
    "cluster_size",
    "min_num_clusters",
    "max_num_clusters",
    "auto_stop_mins",
    "enable_photon",
    "enable_serverless_compute",
    "warehouse_type",
    "spot_instance_policy",
)
_WAREHOUSE_TYPES = frozenset({"CLASSIC", "PRO", "TYPE_UNSPECIFIED"})


def _active_sessions(workspace: Workspace, warehouse_id: str) -> int:
    service = workspace.extensions.get("sql")
    return service.active_sessions(warehouse_id) if service is not None else 0


def warehouse_json(workspace: Workspace, warehouse: Warehouse) -> dict[str, Any]:
    """A warehouse as ``GET /api/2.0/sql/warehouses/{id}`` describes it."""
    address = urlsplit(workspace.host or "http://127.0.0.1")
    hostname = address.hostname or "127.0.0.1"
    port = address.port or (443 if address.scheme == "https" else 80)
    running = warehouse.state == "RUNNING"
    return {
        "id": warehouse.id,
        "name": warehouse.name,
        "cluster_size": warehouse.cluster_size,
        "min_num_clusters": warehouse.min_num_clusters,
        "max_num_clusters": warehouse.max_num_clusters,
        "num_clusters": warehouse.num_clusters if running else 0,
        "num_active_sessions": _active_sessions(workspace, warehouse.id) if running else 0,
        "state": warehouse.state,
        "warehouse_type": warehouse.warehouse_type,
        "enable_serverless_compute": warehouse.enable_serverless_compute,
        "enable_photon": warehouse.enable_photon,
        "auto_stop_mins": warehouse.auto_stop_mins,
        "creator_name": warehouse.creator_name,
        "spot_instance_policy": warehouse.spot_instance_policy,
        "channel": {"name": warehouse.channel},
        "tags": {"custom_tags": [{"key": key, "value": value} for key, value in warehouse.tags.items()]},
        "health": {"status": "HEALTHY"} if running else {},
        "jdbc_url": (
            f"jdbc:databricks://{hostname}:{port}/default;transportMode=http;ssl={int(address.scheme == 'https')};"
            f"AuthMech=3;httpPath={warehouse.http_path};"
        ),
        "odbc_params": {"hostname": hostname, "path": warehouse.http_path, "port": port, "protocol": address.scheme},
    }


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    settings = {key: body[key] for key in _EDITABLE if body.get(key) is not None}
    size = settings.get("cluster_size")
    if size is not None and size not in WAREHOUSE_SIZES:
        raise invalid(f"Invalid cluster_size {size!r}: use one of {', '.join(WAREHOUSE_SIZES)}.")
    kind = settings.get("warehouse_type")
    if kind is not None and kind not in _WAREHOUSE_TYPES:
        raise invalid(f"Invalid warehouse_type {kind!r}: use CLASSIC or PRO.")
    minimum = settings.get("min_num_clusters", 1)
    maximum = settings.get("max_num_clusters", max(minimum, 1))
    if not (isinstance(minimum, int) and isinstance(maximum, int) and 1 <= minimum <= maximum <= 40):
        raise invalid("min_num_clusters and max_num_clusters must satisfy 1 <= min <= max <= 40.")
    tags = body.get("tags")
    if isinstance(tags, dict):
        custom = tags.get("custom_tags") or []
        settings["tags"] = {str(tag["key"]): str(tag.get("value", "")) for tag in custom if tag.get("key")}
    channel = body.get("channel")
    if isinstance(channel, dict) and channel.get("name"):
        settings["channel"] = str(channel["name"])
    return settings


def register(app: HttpApp, workspace: Workspace) -> None:
    """Add the SQL warehouses routes."""
    router = app.router

    def find(request: Request) -> Warehouse:
        warehouse = workspace.warehouses.get(request.params["id"])
        if warehouse is None:
            raise not_found(f"SQL warehouse {request.params['id']}")
        return warehouse

    @router.route("GET", "/api/2.0/sql/warehouses")
    def list_warehouses(request: Request) -> dict[str, Any]:
        with workspace.lock:
            warehouses = list(workspace.warehouses.values())
        return {"warehouses": [warehouse_json(workspace, warehouse) for warehouse in warehouses]}

    @router.route("GET", "/api/2.0/sql/warehouses/{id}")
    def get(request: Request) -> dict[str, Any]:
        return warehouse_json(workspace, find(request))

    @router.route("POST", "/api/2.0/sql/warehouses")
    def create(request: Request) -> dict[str, Any]:
        body = request.json()
        if not body.get("name"):
            raise invalid("name is required.")
        settings = _settings(body)
        name, size = settings.pop("name"), settings.pop("cluster_size", "Small")
        warehouse = workspace.add_warehouse(name, size, **settings)
        return {"id": warehouse.id}

    @router.route("POST", "/api/2.0/sql/warehouses/{id}/edit")
    def edit(request: Request) -> dict[str, Any]:
        warehouse = find(request)
        for key, value in _settings(request.json()).items():
            setattr(warehouse, key, value)
        clusters = min(warehouse.num_clusters, warehouse.max_num_clusters)
        warehouse.num_clusters = max(warehouse.min_num_clusters, clusters)
        return {}

    @router.route("POST", "/api/2.0/sql/warehouses/{id}/start")
    def start(request: Request) -> dict[str, Any]:
        warehouse = find(request)
        warehouse.state = "RUNNING"
        warehouse.num_clusters = max(warehouse.num_clusters, warehouse.min_num_clusters)
        return {}

    @router.route("POST", "/api/2.0/sql/warehouses/{id}/stop")
    def stop(request: Request) -> dict[str, Any]:
        find(request).state = "STOPPED"
        return {}

    @router.route("DELETE", "/api/2.0/sql/warehouses/{id}")
    def delete(request: Request) -> dict[str, Any]:
        warehouse = find(request)
        with workspace.lock:
            workspace.warehouses.pop(warehouse.id, None)
        warehouse.state = "DELETED"
        return {}
