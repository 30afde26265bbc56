"""Pipelines API 2.0 (LakeFlow Declarative Pipelines, formerly Delta Live Tables): pipelines, updates, events.

An update walks QUEUED -> CREATED -> WAITING_FOR_RESOURCES -> INITIALIZING -> SETTING_UP_TABLES -> RUNNING ->
COMPLETED / FAILED on the emulator clock (CANCELED through STOPPING when stopped); a classic pipeline gets a
pipeline cluster for each update, tagged with the pipeline's ``tags`` and its default cluster's ``custom_tags``.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

from .clusters import Cluster, clusters, validate_custom_tags
from .discovery import current_user_name
from .http import ApiError, HttpApp, Request, invalid
from .lifecycle import UpdateOutcome, lifecycle
from .paging import page
from .records import BoundedTable, PipelineUpdateRecord, millis
from .workspace import Workspace

MAX_PIPELINE_TAGS = 25
EDITIONS = ("CORE", "PRO", "ADVANCED")
CHANNELS = ("CURRENT", "PREVIEW")
CAUSES = (
    "API_CALL",
    "INFRASTRUCTURE_MAINTENANCE",
    "JOB_TASK",
    "RETRY_ON_FAILURE",
    "SCHEMA_CHANGE",
    "SERVICE_UPGRADE",
    "USER_ACTION",
)
TERMINAL_UPDATE_STATES = ("COMPLETED", "FAILED", "CANCELED")
_STARTING = ("QUEUED", "CREATED", "WAITING_FOR_RESOURCES", "INITIALIZING")
_SIZED_CLUSTER_FIELDS = ("node_type_id", "driver_node_type_id", "num_workers", "autoscale", "instance_pool_id")
_DEFAULT_NODE_TYPE = "m5d.large"
_FILTER_TERM = re.compile(r"^\s*(\w+)\s*(=|LIKE)\s*'([^']*)'\s*$", re.IGNORECASE)


class Update:
    """One pipeline update and its phases (state, entered at) on the emulator clock."""

    def __init__(
        self,
        pipeline: Pipeline,
        update_id: str,
        created: float,
        *,
        cause: str,
        options: dict[str, Any],
        outcome: UpdateOutcome,
        job_run_id: int | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.update_id = update_id
        self.created = created
        self.cause = cause
        self.options = options
        self.outcome = outcome
        self.job_run_id = job_run_id
        self.config = dict(pipeline.spec)
        self.cluster: Cluster | None = None
        self.discarded = False
        self.phases: list[tuple[str, float]] = []
        self.end: float | None = None
        self._plan()

    def _plan(self) -> None:
        timing = lifecycle(self.pipeline.service.workspace).timing
        serverless = bool(self.config.get("serverless"))
        start = timing.serverless_start_seconds if serverless else timing.cluster_start_seconds
        at = self.created
        phases = [("QUEUED", at)]
        for state, seconds in (
            ("CREATED", timing.pipeline_queue_seconds),
            ("WAITING_FOR_RESOURCES", timing.pipeline_queue_seconds),
            ("INITIALIZING", start),
            ("SETTING_UP_TABLES", timing.pipeline_initializing_seconds),
            ("RUNNING", timing.pipeline_setting_up_tables_seconds),
        ):
            at += seconds
            phases.append((state, at))
        continuous = bool(self.config.get("continuous")) and self.outcome.seconds is None
        if self.options.get("validate_only"):
            self.end = at
        elif not continuous:
            self.end = at + (self.outcome.seconds if self.outcome.seconds is not None else timing.pipeline_run_seconds)
        if self.end is not None:
            phases.append((self.outcome.result, self.end))
        self.phases = phases
        if not serverless:
            self.cluster = self._new_cluster()

    def _new_cluster(self) -> Cluster:
        service = self.pipeline.service
        spec = self.pipeline.default_cluster_spec()
        cluster = clusters(service.workspace).new(
            spec,
            source="PIPELINE",
            creator=self.pipeline.creator,
            extra_default_tags={"PipelineId": self.pipeline.pipeline_id},
        )
        cluster.pipeline_id = self.pipeline.pipeline_id
        cluster.pipeline_update_id = self.update_id
        self._place_cluster(cluster)
        return cluster

    def _place_cluster(self, cluster: Cluster) -> None:
        waiting = self.entered("WAITING_FOR_RESOURCES")
        initializing = self.entered("INITIALIZING")
        if waiting is None:
            cluster.discard()
            return
        cluster.place_session(
            waiting, initializing if initializing is not None else waiting, self.end, code="JOB_FINISHED"
        )

    def entered(self, state: str) -> float | None:
        return next((at for name, at in self.phases if name == state), None)

    def state(self, now: float) -> str:
        current = self.phases[0][0]
        for name, at in self.phases:
            if at <= now:
                current = name
        return current

    @property
    def final_state(self) -> str | None:
        last = self.phases[-1][0]
        return last if last in TERMINAL_UPDATE_STATES else None

    def started(self, now: float) -> bool:
        return not self.discarded and self.created <= now

    def active(self, now: float) -> bool:
        return self.started(now) and self.state(now) not in TERMINAL_UPDATE_STATES

    def stop(self, at: float) -> None:
        """Cancel at ``at``: STOPPING, then CANCELED (nothing changes if the update ended before)."""
        if self.end is not None and self.end <= at:
            return
        timing = lifecycle(self.pipeline.service.workspace).timing
        kept = [(name, when) for name, when in self.phases if when < at]
        if not kept:
            kept = [self.phases[0]]
        self.end = max(at, self.created) + timing.pipeline_stop_seconds
        self.phases = [*kept, ("STOPPING", max(at, self.created)), ("CANCELED", self.end)]
        if self.cluster is not None:
            self._place_cluster(self.cluster)

    def discard(self) -> None:
        """Forget an update planned for a job task that never started."""
        self.discarded = True
        if self.cluster is not None:
            self.cluster.discard()

    def settles_at(self, now: float) -> float | None:
        return self.end if self.end is not None and self.end > now else None

    def info(self, now: float) -> dict[str, Any]:
        """The ``UpdateInfo`` JSON."""
        body: dict[str, Any] = {
            "pipeline_id": self.pipeline.pipeline_id,
            "update_id": self.update_id,
            "config": self.config,
            "cause": self.cause,
            "state": self.state(now),
            "creation_time": millis(self.created),
            "full_refresh": bool(self.options.get("full_refresh")),
            "validate_only": bool(self.options.get("validate_only")),
        }
        for key in ("refresh_selection", "full_refresh_selection", "parameters"):
            if self.options.get(key):
                body[key] = self.options[key]
        if self.cluster is not None:
            body["cluster_id"] = self.cluster.cluster_id
        return body

    def events(self, now: float) -> list[dict[str, Any]]:
        """The update's events reached by ``now``, oldest first."""
        pipeline = self.pipeline
        origin = {
            "pipeline_id": pipeline.pipeline_id,
            "pipeline_name": pipeline.name,
            "update_id": self.update_id,
            "cloud": "AWS",
            "region": "us-west-2",
            "org_id": pipeline.service.workspace.workspace_id,
        }
        if self.cluster is not None:
            origin["cluster_id"] = self.cluster.cluster_id
        found = [
            self._event(
                "create_update", self.created, origin, f"Update {self.update_id[:6]} started by {self.cause}.", "INFO"
            )
        ]
        for name, at in self.phases:
            if at > now:
                break
            level = "ERROR" if name == "FAILED" else "INFO"
            event = self._event("update_progress", at, origin, f"Update {self.update_id[:6]} is {name}.", level)
            event["details"] = {"update_progress": {"state": name}}
            if name == "FAILED":
                message = self.outcome.message or "The pipeline update failed."
                event["error"] = {
                    "fatal": True,
                    "exceptions": [{"class_name": "PipelineException", "message": message}],
                }
            found.append(event)
        return found

    def _event(self, kind: str, at: float, origin: dict[str, Any], message: str, level: str) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.update_id}/{kind}/{at}")),
            "sequence": {"control_plane_seq_no": millis(at)},
            "origin": dict(origin),
            "timestamp": _iso(at),
            "message": message,
            "level": level,
            "maturity_level": "STABLE",
            "event_type": kind,
        }

    def record(self, now: float) -> PipelineUpdateRecord:
        spec = self.config
        running = self.entered("RUNNING")
        return PipelineUpdateRecord(
            pipeline_id=self.pipeline.pipeline_id,
            pipeline_name=self.pipeline.name,
            update_id=self.update_id,
            cause=self.cause,
            state=self.state(now),
            full_refresh=bool(self.options.get("full_refresh")),
            refresh_selection=tuple(self.options.get("refresh_selection") or ()),
            full_refresh_selection=tuple(self.options.get("full_refresh_selection") or ()),
            serverless=bool(spec.get("serverless")),
            edition=str(spec.get("edition", "ADVANCED")),
            photon=bool(spec.get("photon")),
            channel=str(spec.get("channel", "CURRENT")),
            continuous=bool(spec.get("continuous")),
            development=bool(spec.get("development")),
            pipeline_tags=dict(spec.get("tags") or {}),
            cluster_custom_tags=dict(_default_cluster(spec).get("custom_tags") or {}),
            clusters=tuple(dict(c) for c in spec.get("clusters") or ()),
            cluster_id=self.cluster.cluster_id if self.cluster is not None else None,
            job_run_id=self.job_run_id,
            creation_time=millis(self.created) or 0,
            start_time=millis(running) if running is not None and running <= now else None,
            end_time=millis(self.end) if self.end is not None and self.end <= now else None,
        )


class Pipeline:
    """A pipeline: its spec and its updates."""

    def __init__(
        self, service: Pipelines, pipeline_id: str, spec: dict[str, Any], creator: str, created: float
    ) -> None:
        self.service = service
        self.pipeline_id = pipeline_id
        self.spec = spec
        self.creator = creator
        self.last_modified = created
        self.deleted = False
        self.updates: list[Update] = []

    @property
    def name(self) -> str:
        return str(self.spec.get("name", ""))

    def default_cluster_spec(self) -> dict[str, Any]:
        """The pipeline cluster an update starts: the ``default`` cluster settings, the pipeline tags merged in."""
        base = _default_cluster(self.spec)
        spec = {key: value for key, value in base.items() if key not in ("label", "apply_policy_default_values")}
        spec.setdefault("node_type_id", _DEFAULT_NODE_TYPE)
        if "autoscale" not in spec:
            spec.setdefault("num_workers", 1)
        channel = "17.3" if self.spec.get("channel") == "PREVIEW" else "16.4"
        spec["spark_version"] = f"dlt:{channel}.x-{'photon-' if self.spec.get('photon') else ''}scala2.12"
        spec["cluster_name"] = f"dlt-execution-{self.pipeline_id}"
        spec["custom_tags"] = {**(self.spec.get("tags") or {}), **(base.get("custom_tags") or {})}
        if self.spec.get("photon"):
            spec["runtime_engine"] = "PHOTON"
        return spec

    def visible_updates(self, now: float) -> list[Update]:
        return [u for u in self.updates if u.started(now)]

    def active_update(self, now: float) -> Update | None:
        return next((u for u in reversed(self.updates) if u.active(now)), None)

    def stop_active_update(self, now: float) -> None:
        update = self.active_update(now)
        if update is not None:
            update.stop(now)

    def state(self, now: float) -> str:
        if self.deleted:
            return "DELETED"
        update = self.active_update(now)
        if update is None:
            return "IDLE"
        state = update.state(now)
        if state == "STOPPING":
            return "STOPPING"
        return "STARTING" if state in _STARTING else "RUNNING"

    def health(self, now: float) -> str:
        done = [u for u in self.visible_updates(now) if u.state(now) in TERMINAL_UPDATE_STATES]
        return "UNHEALTHY" if done and done[-1].state(now) == "FAILED" else "HEALTHY"

    def latest_updates(self, now: float) -> list[dict[str, Any]]:
        return [
            {"update_id": u.update_id, "state": u.state(now), "creation_time": _iso(u.created)}
            for u in reversed(self.visible_updates(now)[-5:])
        ]

    def settles_at(self, now: float) -> float | None:
        update = self.active_update(now)
        return update.settles_at(now) if update is not None else None

    def status(self, now: float) -> dict[str, Any]:
        """The ``PipelineStateInfo`` JSON of ``list_pipelines``."""
        body: dict[str, Any] = {
            "pipeline_id": self.pipeline_id,
            "name": self.name,
            "state": self.state(now),
            "health": self.health(now),
            "creator_user_name": self.creator,
            "run_as_user_name": self.creator,
            "latest_updates": self.latest_updates(now),
        }
        update = self.active_update(now)
        if update is not None and update.cluster is not None:
            body["cluster_id"] = update.cluster.cluster_id
        return body

    def details(self, now: float) -> dict[str, Any]:
        """The ``GetPipelineResponse`` JSON."""
        body = self.status(now)
        body.update(spec=self.spec, last_modified=millis(self.last_modified), run_as={"user_name": self.creator})
        update = self.active_update(now)
        if update is not None:
            body["cause"] = f"An update was started by {update.cause}."
        if self.spec.get("budget_policy_id"):
            body["effective_budget_policy_id"] = self.spec["budget_policy_id"]
        return body


class Pipelines:
    """The workspace's pipelines and updates (updates bounded like runs)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        now = workspace.clock.time
        self.table: BoundedTable[str, Pipeline] = BoundedTable(lambda p: p.deleted and p.active_update(now()) is None)
        self.updates: BoundedTable[str, Update] = BoundedTable(
            lambda u: u.discarded or (u.end is not None and u.end <= now()), on_drop=self._forget_update
        )

    def require(self, pipeline_id: str | None) -> Pipeline:
        pipeline = self.table.get(pipeline_id or "")
        if pipeline is None or pipeline.deleted:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"The specified pipeline {pipeline_id} was not found.")
        return pipeline

    def validate(self, body: dict[str, Any], *, pipeline_id: str | None = None) -> dict[str, Any]:
        """The pipeline spec of a create or edit request, checked and with Databricks' defaults."""
        spec = {
            k: v
            for k, v in body.items()
            if k not in ("allow_duplicate_names", "dry_run", "expected_last_modified", "pipeline_id")
        }
        name = spec.get("name")
        if not name:
            raise invalid("Missing required field: name")
        if not body.get("allow_duplicate_names"):
            for other in self.table.values():
                if not other.deleted and other.name == name and other.pipeline_id != pipeline_id:
                    raise ApiError(
                        409, "RESOURCE_CONFLICT", f"Pipeline with name '{name}' already exists: {other.pipeline_id}."
                    )
        if spec.get("target") and spec.get("schema"):
            raise invalid("Only one of target and schema can be specified.")
        edition = str(spec.get("edition", "ADVANCED")).upper()
        if edition not in EDITIONS:
            raise invalid(f"Invalid edition '{spec.get('edition')}'. Valid editions are {', '.join(EDITIONS)}.")
        channel = str(spec.get("channel", "CURRENT")).upper()
        if channel not in CHANNELS:
            raise invalid(f"Invalid channel '{spec.get('channel')}'. Valid channels are {', '.join(CHANNELS)}.")
        spec.update(edition=edition, channel=channel)
        tags = spec.get("tags") or {}
        if len(tags) > MAX_PIPELINE_TAGS:
            raise invalid(f"tags has {len(tags)} tags; a pipeline can have at most {MAX_PIPELINE_TAGS} tags")
        validate_custom_tags(tags, "tags")
        compute = clusters(self.workspace)
        for index, cluster in enumerate(spec.get("clusters") or []):
            where = f"clusters[{index}]"
            if spec.get("serverless"):
                sized = [key for key in _SIZED_CLUSTER_FIELDS if key in cluster]
                if sized:
                    raise invalid(f"{where}: serverless pipelines cannot set {', '.join(sized)}")
            for key in ("node_type_id", "driver_node_type_id"):
                if cluster.get(key) and cluster[key] not in compute.node_types:
                    raise invalid(f"Node type {cluster[key]} is not supported.")
            validate_custom_tags(cluster.get("custom_tags"), f"{where}.custom_tags")
            validate_custom_tags(
                {**tags, **(cluster.get("custom_tags") or {})}, f"{where}.custom_tags with the pipeline tags"
            )
        return spec

    def create(self, spec: dict[str, Any]) -> Pipeline:
        now = self.workspace.clock.time()
        pipeline_id = self.workspace.new_uuid()
        spec = {**spec, "id": pipeline_id}
        pipeline = Pipeline(self, pipeline_id, spec, current_user_name(self.workspace), now)
        with self.workspace.lock:
            self.table.add(pipeline_id, pipeline)
        return pipeline

    def start_update(
        self,
        pipeline: Pipeline,
        at: float,
        *,
        cause: str = "API_CALL",
        options: dict[str, Any] | None = None,
        job_run_id: int | None = None,
    ) -> Update:
        """Start an update at ``at`` (a job task may plan one for later: it stays invisible until then)."""
        outcome = lifecycle(self.workspace).outcomes.for_update(
            {"pipeline_id": pipeline.pipeline_id, "name": pipeline.name}
        )
        update = Update(
            pipeline,
            self.workspace.new_uuid(),
            at,
            cause=cause,
            options=dict(options or {}),
            outcome=outcome,
            job_run_id=job_run_id,
        )
        with self.workspace.lock:
            pipeline.updates.append(update)
            self.updates.add(update.update_id, update)
        return update

    def records(self) -> tuple[PipelineUpdateRecord, ...]:
        now = self.workspace.clock.time()
        with self.workspace.lock:
            return tuple(u.record(now) for u in self.updates.values() if u.started(now))

    def _forget_update(self, update_id: str, update: Update) -> None:
        if update in update.pipeline.updates:
            update.pipeline.updates.remove(update)


def pipelines(workspace: Workspace) -> Pipelines:
    """The workspace's :class:`Pipelines`, created on first use."""
    with workspace.lock:
        found = workspace.extensions.get("pipelines")
        if found is None:
            found = workspace.extensions["pipelines"] = Pipelines(workspace)
        return found


def register(app: HttpApp, workspace: Workspace) -> None:
    """Add the ``/api/2.0/pipelines`` routes."""
    service = pipelines(workspace)
    router = app.router
    clock = workspace.clock

    @router.route("POST", "/api/2.0/pipelines")
    def create(request: Request) -> dict[str, Any]:
        body = request.json()
        spec = service.validate(body)
        if body.get("dry_run"):
            return {"effective_settings": spec}
        pipeline = service.create(spec)
        return {"pipeline_id": pipeline.pipeline_id, "effective_settings": pipeline.spec}

    @router.route("GET", "/api/2.0/pipelines")
    def list_pipelines(request: Request) -> dict[str, Any]:
        now = clock.time()
        matches = _filter(request.arg("filter"))
        with workspace.lock:
            found = [p.status(now) for p in reversed(service.table.values()) if not p.deleted]
        found = [p for p in found if matches(p)]
        size = min(int(request.arg("max_results") or 25), 100)
        body = page(found, key="statuses", size=size, token=request.arg("page_token"))
        body.pop("prev_page_token", None)
        return body

    @router.route("GET", "/api/2.0/pipelines/{pipeline_id}")
    def get(request: Request) -> dict[str, Any]:
        pipeline = service.require(request.params["pipeline_id"])
        lifecycle(workspace).on_poll(pipeline.settles_at(clock.time()))
        with workspace.lock:
            return pipeline.details(clock.time())

    @router.route("PUT", "/api/2.0/pipelines/{pipeline_id}")
    def edit(request: Request) -> dict[str, Any]:
        pipeline = service.require(request.params["pipeline_id"])
        body = request.json()
        expected = body.get("expected_last_modified")
        if expected is not None and int(expected) != millis(pipeline.last_modified):
            raise ApiError(409, "RESOURCE_CONFLICT", f"Pipeline {pipeline.pipeline_id} was modified since {expected}.")
        spec = service.validate(body, pipeline_id=pipeline.pipeline_id)
        with workspace.lock:
            pipeline.spec = {**spec, "id": pipeline.pipeline_id}
            pipeline.last_modified = clock.time()
        return {}

    @router.route("DELETE", "/api/2.0/pipelines/{pipeline_id}")
    def delete(request: Request) -> dict[str, Any]:
        pipeline = service.require(request.params["pipeline_id"])
        with workspace.lock:
            pipeline.stop_active_update(clock.time())
            pipeline.deleted = True
        return {}

    @router.route("POST", "/api/2.0/pipelines/{pipeline_id}/updates")
    def start_update(request: Request) -> dict[str, Any]:
        pipeline = service.require(request.params["pipeline_id"])
        body = request.json()
        cause = str(body.get("cause") or "API_CALL")
        if cause not in CAUSES:
            raise invalid(f"Invalid cause '{cause}'.")
        selective = [k for k in ("refresh_selection", "full_refresh_selection") if body.get(k)]
        if body.get("full_refresh") and selective:
            raise invalid(f"full_refresh cannot be set together with {' or '.join(selective)}.")
        options = {
            key: body[key]
            for key in ("full_refresh", "refresh_selection", "full_refresh_selection", "validate_only", "parameters")
            if body.get(key) is not None
        }
        with workspace.lock:
            now = clock.time()
            active = pipeline.active_update(now)
            if active is not None:
                raise ApiError(
                    409,
                    "RESOURCE_CONFLICT",
                    f"Pipeline {pipeline.pipeline_id} already has an active update {active.update_id}.",
                )
            update = service.start_update(pipeline, now, cause=cause, options=options)
        return {"update_id": update.update_id}

    @router.route("GET", "/api/2.0/pipelines/{pipeline_id}/updates")
    def list_updates(request: Request) -> dict[str, Any]:
        pipeline = service.require(request.params["pipeline_id"])
        now = clock.time()
        with workspace.lock:
            found = [u.info(now) for u in reversed(pipeline.visible_updates(now))]
        until = request.arg("until_update_id")
        if until:
            index = next((i for i, u in enumerate(found) if u["update_id"] == until), None)
            found = found[index:] if index is not None else []
        size = min(int(request.arg("max_results") or 25), 100)
        return page(found, key="updates", size=size, token=request.arg("page_token"))

    @router.route("GET", "/api/2.0/pipelines/{pipeline_id}/updates/{update_id}")
    def get_update(request: Request) -> dict[str, Any]:
        pipeline = service.require(request.params["pipeline_id"])
        update = service.updates.get(request.params["update_id"])
        if update is None or update.pipeline is not pipeline or not update.started(clock.time()):
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"The specified update {request.params['update_id']} was not found."
            )
        lifecycle(workspace).on_poll(update.settles_at(clock.time()))
        with workspace.lock:
            return {"update": update.info(clock.time())}

    @router.route("POST", "/api/2.0/pipelines/{pipeline_id}/stop")
    def stop(request: Request) -> dict[str, Any]:
        pipeline = service.require(request.params["pipeline_id"])
        with workspace.lock:
            pipeline.stop_active_update(clock.time())
        return {}

    @router.route("GET", "/api/2.0/pipelines/{pipeline_id}/events")
    def events(request: Request) -> dict[str, Any]:
        pipeline = service.require(request.params["pipeline_id"])
        matches = _filter(request.arg("filter"))
        now = clock.time()
        with workspace.lock:
            found = [e for u in pipeline.visible_updates(now) for e in u.events(now)]
        found = [e for e in found if matches({**e, "update_id": e["origin"]["update_id"]})]
        ascending = any("asc" in order.lower() for order in request.query.get("order_by", []))
        found.sort(key=lambda e: (e["timestamp"], e["sequence"]["control_plane_seq_no"]), reverse=not ascending)
        size = min(int(request.arg("max_results") or 100), 1000)
        return page(found, key="events", size=size, token=request.arg("page_token"))


def _default_cluster(spec: dict[str, Any]) -> dict[str, Any]:
    found = spec.get("clusters") or []
    return next((c for c in found if c.get("label", "default") == "default"), {})


def _filter(expression: str | None):
    """A predicate for the simple filters the emulator understands: ``a = 'x'`` / ``name LIKE '%x%'``, ANDed."""
    if not expression:
        return lambda item: True
    terms = []
    for part in re.split(r"\s+AND\s+", expression.strip(), flags=re.IGNORECASE):
        found = _FILTER_TERM.match(part)
        if found is None:
            raise invalid(
                f"Unsupported filter (the emulator understands `field = 'value'` and `name LIKE '%x%'`): {part}"
            )
        field_name, operator, value = found.groups()
        if operator.upper() == "LIKE":
            pattern = re.compile("^" + ".*".join(re.escape(piece) for piece in value.split("%")) + "$", re.IGNORECASE)
            terms.append((field_name, pattern.match))
        else:
            terms.append((field_name, value.__eq__))
    return lambda item: all(str(item.get(name, "")) and test(str(item.get(name, ""))) for name, test in terms)


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
