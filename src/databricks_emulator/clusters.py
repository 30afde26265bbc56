"""Clusters API 2.1: all-purpose clusters, plus the job and pipeline clusters other services start.

A cluster is a list of sessions (start request -> RUNNING -> termination) placed on the emulator clock; its
state is read off the clock. Specs are checked as Databricks checks them (required fields, known node types,
at most 45 custom tags, AWS tag lengths).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

from .discovery import current_user_name
from .http import ApiError, HttpApp, Request, invalid
from .lifecycle import lifecycle
from .paging import page
from .records import BoundedTable, ClusterRecord, ClusterSessionRecord, millis
from .workspace import Workspace

MAX_CUSTOM_TAGS = 45
MAX_TAG_KEY_LENGTH = 127
MAX_TAG_VALUE_LENGTH = 255
DEFAULT_TAG_KEYS = ("Vendor", "Creator", "ClusterName", "ClusterId")

NODE_TYPES: tuple[dict[str, Any], ...] = (
    {"node_type_id": "m5d.large", "memory_mb": 8192, "num_cores": 2.0, "category": "General Purpose"},
    {"node_type_id": "m5d.xlarge", "memory_mb": 16384, "num_cores": 4.0, "category": "General Purpose"},
    {"node_type_id": "m5d.2xlarge", "memory_mb": 32768, "num_cores": 8.0, "category": "General Purpose"},
    {"node_type_id": "m5d.4xlarge", "memory_mb": 65536, "num_cores": 16.0, "category": "General Purpose"},
    {
        "node_type_id": "m6gd.xlarge",
        "memory_mb": 16384,
        "num_cores": 4.0,
        "category": "General Purpose",
        "is_graviton": True,
    },
    {"node_type_id": "c5d.2xlarge", "memory_mb": 16384, "num_cores": 8.0, "category": "Compute Optimized"},
    {"node_type_id": "r5d.xlarge", "memory_mb": 32768, "num_cores": 4.0, "category": "Memory Optimized"},
    {"node_type_id": "r5d.2xlarge", "memory_mb": 65536, "num_cores": 8.0, "category": "Memory Optimized"},
    {"node_type_id": "i3.xlarge", "memory_mb": 31232, "num_cores": 4.0, "category": "Storage Optimized"},
    {"node_type_id": "i3.2xlarge", "memory_mb": 62464, "num_cores": 8.0, "category": "Storage Optimized"},
    {"node_type_id": "g4dn.xlarge", "memory_mb": 16384, "num_cores": 4.0, "category": "GPU Accelerated", "num_gpus": 1},
)

SPARK_VERSIONS: tuple[tuple[str, str], ...] = (
    ("15.4.x-scala2.12", "15.4 LTS (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("15.4.x-photon-scala2.12", "15.4 LTS Photon (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("16.4.x-scala2.12", "16.4 LTS (includes Apache Spark 3.5.2, Scala 2.12)"),
    ("16.4.x-photon-scala2.12", "16.4 LTS Photon (includes Apache Spark 3.5.2, Scala 2.12)"),
    ("17.3.x-scala2.13", "17.3 LTS (includes Apache Spark 4.0.0, Scala 2.13)"),
)

_TERMINATED_MESSAGES = {
    "USER_REQUEST": "Termination requested by {user}",
    "JOB_FINISHED": "Job finished",
    "INACTIVITY": "Inactive cluster terminated",
}


@dataclass
class ClusterSession:
    """One stretch of a cluster's life on the emulator clock (seconds since the epoch)."""

    requested: float
    running: float
    spark_context_id: int
    restarting: bool = False
    terminating: float | None = None
    terminated: float | None = None
    reason: dict[str, Any] | None = None


class Cluster:
    """A cluster and its sessions; every read takes ``now`` from the caller."""

    def __init__(
        self,
        service: Clusters,
        cluster_id: str,
        spec: dict[str, Any],
        *,
        source: str,
        creator: str,
        default_tags: dict[str, str],
    ) -> None:
        self.service = service
        self.cluster_id = cluster_id
        self.spec = spec
        self.source = source
        self.creator = creator
        self.default_tags = default_tags
        self.sessions: list[ClusterSession] = []
        self.deleted = False
        self.job_id: int | None = None
        self.job_run_id: int | None = None
        self.task_run_id: int | None = None
        self.pipeline_id: str | None = None
        self.pipeline_update_id: str | None = None

    # life cycle
    def start(self, at: float, *, restarting: bool = False) -> ClusterSession:
        timing = lifecycle(self.service.workspace).timing
        session = ClusterSession(at, at + timing.cluster_start_seconds, random.randrange(10**18, 10**19), restarting)
        self.sessions.append(session)
        return session

    def terminate(self, at: float, code: str = "USER_REQUEST", kind: str = "SUCCESS", **parameters: str) -> None:
        session = self._session_at(at)
        if session is None or (session.terminating is not None and session.terminating <= at):
            return
        timing = lifecycle(self.service.workspace).timing
        session.terminating = at
        session.terminated = at + timing.cluster_terminate_seconds
        session.reason = {"code": code, "type": kind, "parameters": parameters}

    def place_session(
        self,
        requested: float,
        running: float,
        terminating: float | None,
        *,
        code: str = "JOB_FINISHED",
    ) -> None:
        """Make the cluster's only session the given one (job and pipeline clusters live as long as their work)."""
        context = self.sessions[0].spark_context_id if self.sessions else random.randrange(10**18, 10**19)
        terminated = None
        reason = None
        if terminating is not None:
            terminated = terminating + lifecycle(self.service.workspace).timing.cluster_terminate_seconds
            reason = {"code": code, "type": "SUCCESS", "parameters": {}}
        self.sessions = [ClusterSession(requested, running, context, False, terminating, terminated, reason)]

    def discard(self) -> None:
        """Forget a cluster that was planned but never requested (its task was skipped)."""
        self.sessions = []

    # reads
    def _session_at(self, now: float) -> ClusterSession | None:
        found = None
        for session in self.sessions:
            if session.requested <= now:
                found = session
        return found

    def visible(self, now: float) -> bool:
        return not self.deleted and bool(self.sessions) and self.sessions[0].requested <= now

    def state(self, now: float) -> str:
        session = self._session_at(now)
        if session is None:
            return "TERMINATED"
        if now < session.running and (session.terminating is None or now < session.terminating):
            return "RESTARTING" if session.restarting else "PENDING"
        if session.terminating is None or now < session.terminating:
            return "RUNNING"
        if session.terminated is not None and now < session.terminated:
            return "TERMINATING"
        return "TERMINATED"

    def running_since(self, now: float) -> float | None:
        session = self._session_at(now)
        return session.running if session is not None and self.state(now) == "RUNNING" else None

    def ready_at(self, now: float) -> float | None:
        """When the current session is (or was) RUNNING, or ``None`` when the cluster is not up or coming up."""
        session = self._session_at(now)
        if session is None or self.state(now) in ("TERMINATING", "TERMINATED"):
            return None
        return session.running

    def settles_at(self, now: float) -> float | None:
        session = self._session_at(now)
        state = self.state(now)
        if session is None:
            return None
        if state in ("PENDING", "RESTARTING"):
            return session.running
        if state == "TERMINATING":
            return session.terminated
        return None

    def finished(self, now: float) -> bool:
        return self.deleted or not self.sessions or self.state(now) == "TERMINATED"

    def observed_workers(self, now: float) -> int:
        autoscale = self.spec.get("autoscale")
        if not autoscale:
            return int(self.spec.get("num_workers") or 0)
        low, high = int(autoscale.get("min_workers", 0)), int(autoscale.get("max_workers", 0))
        since = self.running_since(now)
        if since is None:
            return low
        up_after = lifecycle(self.service.workspace).timing.autoscale_up_seconds
        return high if up_after is not None and now - since >= up_after else low

    def details(self, now: float) -> dict[str, Any]:
        """The ``ClusterDetails`` JSON of ``clusters/get``."""
        state = self.state(now)
        workers = self.observed_workers(now)
        node = self.service.node_types.get(self.spec.get("node_type_id", ""), {})
        driver = self.service.node_types.get(
            self.spec.get("driver_node_type_id") or self.spec.get("node_type_id", ""), {}
        )
        body: dict[str, Any] = {
            key: value for key, value in self.spec.items() if key not in ("apply_policy_default_values",)
        }
        body.update(
            cluster_id=self.cluster_id,
            cluster_name=self.spec.get("cluster_name", ""),
            num_workers=workers,
            custom_tags=dict(self.spec.get("custom_tags") or {}),
            default_tags=dict(self.default_tags),
            state=state,
            state_message=self._state_message(now, state),
            creator_user_name=self.creator,
            cluster_source=self.source,
            runtime_engine=self.runtime_engine,
            autotermination_minutes=int(self.spec.get("autotermination_minutes", 0 if self.source != "UI" else 120)),
            enable_elastic_disk=bool(self.spec.get("enable_elastic_disk", True)),
            jdbc_port=10000,
            spec=dict(self.spec),
        )
        if self.spec.get("node_type_id"):
            body.setdefault("driver_node_type_id", self.spec["node_type_id"])
        if node and driver:
            running = state == "RUNNING"
            body["cluster_memory_mb"] = int(driver["memory_mb"] + (workers if running else 0) * node["memory_mb"])
            body["cluster_cores"] = float(driver["num_cores"] + (workers if running else 0) * node["num_cores"])
        if self.sessions:
            first, session = self.sessions[0], self._session_at(now) or self.sessions[0]
            body["start_time"] = millis(first.requested)
            body["spark_context_id"] = session.spark_context_id
            if session is not first:
                body["last_restarted_time"] = millis(session.requested)
            if state == "TERMINATED" and session.terminated is not None:
                body["terminated_time"] = millis(session.terminated)
            if state in ("TERMINATING", "TERMINATED") and session.reason:
                body["termination_reason"] = session.reason
        return body

    @property
    def runtime_engine(self) -> str:
        engine = self.spec.get("runtime_engine")
        if engine:
            return str(engine)
        return "PHOTON" if "photon" in str(self.spec.get("spark_version", "")) else "STANDARD"

    def _state_message(self, now: float, state: str) -> str:
        if state in ("PENDING", "RESTARTING"):
            return "Finding instances for new nodes, acquiring more instances if necessary"
        if state == "TERMINATING":
            return "Terminating the cluster"
        if state == "TERMINATED":
            session = self._session_at(now)
            code = (session.reason or {}).get("code") if session else None
            template = _TERMINATED_MESSAGES.get(code or "", "")
            return template.format(user=self.creator)
        return ""

    def record(self, now: float) -> ClusterRecord:
        sessions = tuple(
            ClusterSessionRecord(
                requested_time=millis(s.requested) or 0,
                running_time=millis(s.running)
                if s.running <= now and (s.terminating is None or s.running < s.terminating)
                else None,
                terminated_time=millis(s.terminated) if s.terminated is not None and s.terminated <= now else None,
                termination_code=(s.reason or {}).get("code")
                if s.terminated is not None and s.terminated <= now
                else None,
            )
            for s in self.sessions
            if s.requested <= now
        )
        running = self.state(now) == "RUNNING"
        return ClusterRecord(
            cluster_id=self.cluster_id,
            cluster_name=str(self.spec.get("cluster_name", "")),
            cluster_source=self.source,
            state=self.state(now),
            spark_version=self.spec.get("spark_version"),
            node_type_id=self.spec.get("node_type_id"),
            driver_node_type_id=self.spec.get("driver_node_type_id") or self.spec.get("node_type_id"),
            num_workers=self.spec.get("num_workers") if not self.spec.get("autoscale") else None,
            autoscale=dict(self.spec["autoscale"]) if self.spec.get("autoscale") else None,
            observed_workers=self.observed_workers(now) if running else 0,
            runtime_engine=self.runtime_engine,
            custom_tags=dict(self.spec.get("custom_tags") or {}),
            default_tags=dict(self.default_tags),
            creator_user_name=self.creator,
            job_id=self.job_id,
            job_run_id=self.job_run_id,
            task_run_id=self.task_run_id,
            pipeline_id=self.pipeline_id,
            pipeline_update_id=self.pipeline_update_id,
            spec=dict(self.spec),
            sessions=sessions,
        )


class Clusters:
    """The workspace's clusters and node types."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.node_types: dict[str, dict[str, Any]] = {n["node_type_id"]: dict(n) for n in NODE_TYPES}
        self.table: BoundedTable[str, Cluster] = BoundedTable(lambda c: c.finished(self.workspace.clock.time()))

    def new(
        self,
        spec: dict[str, Any],
        *,
        source: str = "API",
        creator: str | None = None,
        extra_default_tags: dict[str, str] | None = None,
    ) -> Cluster:
        """A new cluster with no session yet; start it with :meth:`Cluster.start` or place its session."""
        cluster_id = self._new_id()
        creator = creator or current_user_name(self.workspace)
        default_tags = {
            "Vendor": "Databricks",
            "Creator": creator,
            "ClusterName": str(spec.get("cluster_name") or ""),
            "ClusterId": cluster_id,
            **(extra_default_tags or {}),
        }
        cluster = Cluster(self, cluster_id, spec, source=source, creator=creator, default_tags=default_tags)
        with self.workspace.lock:
            self.table.add(cluster_id, cluster)
        return cluster

    def require(self, cluster_id: str | None) -> Cluster:
        """The visible cluster ``cluster_id``, or the 400 Databricks answers for an unknown one."""
        if not cluster_id:
            raise invalid("Missing required field: cluster_id")
        cluster = self.table.get(cluster_id)
        if cluster is None or not cluster.visible(self.workspace.clock.time()):
            raise invalid(f"Cluster {cluster_id} does not exist")
        return cluster

    def validate(self, spec: Any, where: str = "cluster") -> dict[str, Any]:
        """Check a cluster spec (``clusters/create``, a task's ``new_cluster``, a job cluster) as Databricks does."""
        if not isinstance(spec, dict):
            raise invalid(f"{where} must be an object")
        if not spec.get("spark_version"):
            raise invalid(f"Missing required field: {where}.spark_version")
        pooled = spec.get("instance_pool_id") or spec.get("policy_id")
        for key in ("node_type_id", "driver_node_type_id"):
            node_type = spec.get(key)
            if node_type and node_type not in self.node_types:
                raise invalid(
                    f"Node type {node_type} is not supported. Supported node types: {', '.join(self.node_types)}"
                )
        if not spec.get("node_type_id") and not pooled:
            raise invalid(f"Missing required field: {where}.node_type_id")
        autoscale = spec.get("autoscale")
        if autoscale is not None:
            low, high = autoscale.get("min_workers"), autoscale.get("max_workers")
            if not isinstance(low, int) or not isinstance(high, int) or low < 0 or high < low or high < 1:
                raise invalid(f"{where}.autoscale needs 0 <= min_workers <= max_workers and max_workers >= 1")
        elif int(spec.get("num_workers") or 0) < 0:
            raise invalid(f"{where}.num_workers must be >= 0")
        validate_custom_tags(spec.get("custom_tags"), f"{where}.custom_tags")
        return spec

    def _new_id(self) -> str:
        now = self.workspace.clock.now()
        suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=8))
        return f"{now:%m%d}-{now:%H%M%S}-{suffix}"

    def visible(self) -> list[Cluster]:
        now = self.workspace.clock.time()
        with self.workspace.lock:
            return [c for c in self.table.values() if c.visible(now)]


def validate_custom_tags(tags: Any, where: str = "custom_tags") -> None:
    """At most 45 tags, keys 1..127 and values up to 255 characters (the AWS limits Databricks passes on)."""
    if tags is None:
        return
    if not isinstance(tags, dict):
        raise invalid(f"{where} must be a map of strings")
    if len(tags) > MAX_CUSTOM_TAGS:
        raise invalid(f"{where} has {len(tags)} tags; a cluster can have at most {MAX_CUSTOM_TAGS} custom tags")
    for key, value in tags.items():
        if not key or len(key) > MAX_TAG_KEY_LENGTH:
            raise invalid(f"{where}: tag key {key!r} must have 1 to {MAX_TAG_KEY_LENGTH} characters")
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE_LENGTH:
            raise invalid(
                f"{where}: the value of tag {key!r} must be a string of at most {MAX_TAG_VALUE_LENGTH} characters"
            )


def clusters(workspace: Workspace) -> Clusters:
    """The workspace's :class:`Clusters`, created on first use."""
    with workspace.lock:
        found = workspace.extensions.get("clusters")
        if found is None:
            found = workspace.extensions["clusters"] = Clusters(workspace)
        return found


def register(app: HttpApp, workspace: Workspace) -> None:
    """Add the ``/api/2.1/clusters`` routes."""
    service = clusters(workspace)
    router = app.router
    clock = workspace.clock

    def poll(cluster: Cluster) -> None:
        lifecycle(workspace).on_poll(cluster.settles_at(clock.time()))

    @router.route("POST", "/api/2.1/clusters/create")
    def create(request: Request) -> dict[str, Any]:
        spec = service.validate(request.json())
        with workspace.lock:
            cluster = service.new(spec, source="API")
            cluster.start(clock.time())
        return {"cluster_id": cluster.cluster_id}

    @router.route("GET", "/api/2.1/clusters/get")
    def get(request: Request) -> dict[str, Any]:
        cluster = service.require(request.arg("cluster_id"))
        poll(cluster)
        with workspace.lock:
            return cluster.details(clock.time())

    @router.route("GET", "/api/2.1/clusters/list")
    def list_clusters(request: Request) -> dict[str, Any]:
        sources = set(request.query.get("filter_by.cluster_sources", []))
        states = set(request.query.get("filter_by.cluster_states", []))
        now = clock.time()
        with workspace.lock:
            found = [c.details(now) for c in reversed(service.visible())]
        found = [
            c for c in found if (not sources or c["cluster_source"] in sources) and (not states or c["state"] in states)
        ]
        size = int(request.arg("page_size") or 0) or len(found)
        return page(found, key="clusters", size=size, token=request.arg("page_token"))

    @router.route("POST", "/api/2.1/clusters/start")
    def start(request: Request) -> dict[str, Any]:
        cluster = service.require(request.json().get("cluster_id"))
        with workspace.lock:
            now = clock.time()
            _state_in(cluster, now, ("TERMINATED",))
            cluster.start(now)
        return {}

    @router.route("POST", "/api/2.1/clusters/restart")
    def restart(request: Request) -> dict[str, Any]:
        cluster = service.require(request.json().get("cluster_id"))
        with workspace.lock:
            now = clock.time()
            _state_in(cluster, now, ("RUNNING",))
            _restart(cluster, now)
        return {}

    @router.route("POST", "/api/2.1/clusters/delete")
    def terminate(request: Request) -> dict[str, Any]:
        cluster = service.require(request.json().get("cluster_id"))
        with workspace.lock:
            cluster.terminate(clock.time(), "USER_REQUEST", "SUCCESS", username=current_user_name(workspace))
        return {}

    @router.route("POST", "/api/2.1/clusters/permanent-delete")
    def permanent_delete(request: Request) -> dict[str, Any]:
        cluster = service.require(request.json().get("cluster_id"))
        with workspace.lock:
            cluster.terminate(clock.time(), "USER_REQUEST", "SUCCESS", username=current_user_name(workspace))
            cluster.deleted = True
        return {}

    @router.route("POST", "/api/2.1/clusters/edit")
    def edit(request: Request) -> dict[str, Any]:
        body = request.json()
        cluster = service.require(body.get("cluster_id"))
        if cluster.source == "JOB":
            raise invalid(f"Cluster {cluster.cluster_id} is a job cluster and cannot be edited")
        spec = service.validate({k: v for k, v in body.items() if k != "cluster_id"})
        with workspace.lock:
            now = clock.time()
            state = _state_in(cluster, now, ("RUNNING", "TERMINATED"))
            cluster.spec = spec
            cluster.default_tags["ClusterName"] = str(spec.get("cluster_name") or "")
            if state == "RUNNING":
                _restart(cluster, now)
        return {}

    @router.route("GET", "/api/2.1/clusters/list-node-types")
    def list_node_types(request: Request) -> dict[str, Any]:
        return {"node_types": [_node_type_json(n) for n in service.node_types.values()]}

    @router.route("GET", "/api/2.1/clusters/spark-versions")
    def spark_versions(request: Request) -> dict[str, Any]:
        return {"versions": [{"key": key, "name": name} for key, name in SPARK_VERSIONS]}


def _state_in(cluster: Cluster, now: float, allowed: tuple[str, ...]) -> str:
    """The cluster's state, or the 400 INVALID_STATE Databricks answers when an operation does not fit it."""
    state = cluster.state(now)
    if state not in allowed:
        raise ApiError(400, "INVALID_STATE", f"Cluster {cluster.cluster_id} is in unexpected state {state}.")
    return state


def _restart(cluster: Cluster, now: float) -> None:
    session = cluster.sessions[-1]
    session.terminating = session.terminated = now
    session.reason = {"code": "USER_REQUEST", "type": "SUCCESS", "parameters": {}}
    cluster.start(now, restarting=True)


def _node_type_json(node: dict[str, Any]) -> dict[str, Any]:
    body = {
        "description": node["node_type_id"],
        "instance_type_id": node["node_type_id"],
        "is_deprecated": False,
        "is_hidden": False,
        "photon_driver_capable": True,
        "photon_worker_capable": True,
        "support_cluster_tags": True,
        "support_ebs_volumes": True,
        "num_gpus": 0,
    }
    body.update(node)
    return body
