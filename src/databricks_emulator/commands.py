"""Command execution API 1.2: execution contexts and commands on running all-purpose clusters.

A command goes Queued -> Running -> Finished (or Error, or Cancelling -> Cancelled) on the emulator clock. Code
is never run: its result is the scripted one (``ws.outcomes.command(...)``), else an empty text result. As on
Databricks, a Python exception is a *Finished* command whose result type is ``error``.
"""

from __future__ import annotations

import secrets
from typing import Any

from .clusters import Cluster, clusters
from .http import ApiError, HttpApp, Request, invalid
from .lifecycle import CommandOutcome, lifecycle
from .records import BoundedTable, CommandRecord, millis
from .workspace import Workspace

LANGUAGES = ("python", "scala", "sql", "r")
_CANCEL_SECONDS = 1.0


class Context:
    """An execution context (a REPL) on a cluster."""

    def __init__(self, context_id: str, cluster: Cluster, language: str, created: float, ready: float) -> None:
        self.context_id = context_id
        self.cluster = cluster
        self.language = language
        self.created = created
        self.ready = ready
        self.destroyed = False

    def status(self, now: float) -> str:
        if self.destroyed or self.cluster.state(now) not in ("RUNNING", "RESIZING"):
            return "Error"
        return "Pending" if now < self.ready else "Running"

    def settles_at(self, now: float) -> float | None:
        return self.ready if now < self.ready else None


class Command:
    """One command and its phases."""

    def __init__(
        self, command_id: str, context: Context, language: str, text: str, submitted: float, outcome: CommandOutcome
    ) -> None:
        timing = lifecycle(context.cluster.service.workspace).timing
        self.command_id = command_id
        self.context = context
        self.language = language
        self.text = text
        self.submitted = submitted
        self.outcome = outcome
        self.start = submitted + timing.command_queue_seconds
        self.end = self.start + (outcome.seconds if outcome.seconds is not None else timing.command_seconds)
        self.cancelled_at: float | None = None

    def cancel(self, at: float) -> None:
        if at < self.end and self.cancelled_at is None:
            self.cancelled_at = at
            self.end = at + _CANCEL_SECONDS

    def status(self, now: float) -> str:
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return "Cancelled" if now >= self.end else "Cancelling"
        if now < self.start:
            return "Queued"
        if now < self.end:
            return "Running"
        return self.outcome.status

    def settles_at(self, now: float) -> float | None:
        return self.end if now < self.end else None

    def results(self, now: float) -> dict[str, Any] | None:
        status = self.status(now)
        outcome = self.outcome
        if status in ("Finished", "Error") and outcome.error is not None:
            name, _, detail = outcome.error.partition(":")
            return {
                "resultType": "error",
                "summary": f"<span class='ansi-red-fg'>{name}</span>:{detail}",
                "cause": f"{'-' * 75}\n{outcome.error}",
            }
        if status == "Error":
            return {"resultType": "error", "summary": "Command failed", "cause": "ExecutionError: the command failed"}
        if status != "Finished":
            return None
        if outcome.output is None and self.language == "sql":
            return {"resultType": "table", "data": [], "schema": [], "truncated": False, "isJsonSchema": True}
        return {"resultType": "text", "data": outcome.output or ""}

    def record(self, now: float) -> CommandRecord:
        status = self.status(now)
        results = self.results(now)
        return CommandRecord(
            command_id=self.command_id,
            context_id=self.context.context_id,
            cluster_id=self.context.cluster.cluster_id,
            language=self.language,
            status=status,
            result_type=results["resultType"] if results else None,
            submitted_time=millis(self.submitted) or 0,
            start_time=millis(self.start) if self.start <= now else None,
            end_time=millis(self.end) if self.end <= now else None,
        )


class Commands:
    """The workspace's execution contexts and commands."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        now = workspace.clock.time
        self.contexts: BoundedTable[str, Context] = BoundedTable(lambda c: c.status(now()) == "Error")
        self.commands: BoundedTable[str, Command] = BoundedTable(lambda c: c.end <= now())

    def running_cluster(self, cluster_id: Any) -> Cluster:
        """The cluster ``cluster_id`` if it is RUNNING, else the error Databricks gives."""
        cluster = clusters(self.workspace).require(str(cluster_id or ""))
        state = cluster.state(self.workspace.clock.time())
        if state in ("PENDING", "RESTARTING"):
            raise ApiError(400, "INVALID_STATE", f"ClusterNotReadyException: Cluster {cluster.cluster_id} is {state}.")
        if state not in ("RUNNING", "RESIZING"):
            raise ApiError(
                400, "INVALID_STATE", f"Cluster {cluster.cluster_id} is not running (state {state}); start it first."
            )
        return cluster

    def context(self, cluster_id: Any, context_id: Any) -> Context:
        context = self.contexts.get(str(context_id or ""))
        if context is None or context.cluster.cluster_id != cluster_id or context.destroyed:
            raise invalid(f"Context {context_id} does not exist on cluster {cluster_id}.")
        return context

    def command(self, cluster_id: Any, context_id: Any, command_id: Any) -> Command:
        context = self.context(cluster_id, context_id)
        command = self.commands.get(str(command_id or ""))
        if command is None or command.context is not context:
            raise invalid(f"Command {command_id} does not exist in context {context_id}.")
        return command

    def records(self) -> tuple[CommandRecord, ...]:
        now = self.workspace.clock.time()
        with self.workspace.lock:
            return tuple(c.record(now) for c in self.commands.values())


def commands(workspace: Workspace) -> Commands:
    """The workspace's :class:`Commands`, created on first use."""
    with workspace.lock:
        found = workspace.extensions.get("commands")
        if found is None:
            found = workspace.extensions["commands"] = Commands(workspace)
        return found


def register(app: HttpApp, workspace: Workspace) -> None:
    """Add the ``/api/1.2`` contexts and commands routes."""
    service = commands(workspace)
    router = app.router
    clock = workspace.clock

    @router.route("POST", "/api/1.2/contexts/create")
    def create_context(request: Request) -> dict[str, Any]:
        body = request.json()
        language = _language(body.get("language") or "python")
        cluster = service.running_cluster(body.get("clusterId"))
        with workspace.lock:
            now = clock.time()
            context_id = str(secrets.randbelow(9 * 10**18) + 10**18)
            ready = now + lifecycle(workspace).timing.context_start_seconds
            service.contexts.add(context_id, Context(context_id, cluster, language, now, ready))
        return {"id": context_id}

    @router.route("GET", "/api/1.2/contexts/status")
    def context_status(request: Request) -> dict[str, Any]:
        context = service.context(request.arg("clusterId"), request.arg("contextId"))
        lifecycle(workspace).on_poll(context.settles_at(clock.time()))
        return {"id": context.context_id, "status": context.status(clock.time())}

    @router.route("POST", "/api/1.2/contexts/destroy")
    def destroy_context(request: Request) -> dict[str, Any]:
        body = request.json()
        context = service.context(body.get("clusterId"), body.get("contextId"))
        with workspace.lock:
            now = clock.time()
            context.destroyed = True
            for command in service.commands.values():
                if command.context is context:
                    command.cancel(now)
        return {"id": context.context_id}

    @router.route("POST", "/api/1.2/commands/execute")
    def execute(request: Request) -> dict[str, Any]:
        body = request.json()
        service.running_cluster(body.get("clusterId"))
        context = service.context(body.get("clusterId"), body.get("contextId"))
        language = _language(body.get("language") or context.language)
        text = body.get("command")
        if not isinstance(text, str):
            raise invalid("Missing required field: command")
        with workspace.lock:
            now = clock.time()
            if context.status(now) != "Running":
                raise ApiError(400, "INVALID_STATE", f"Context {context.context_id} is not ready.")
            facts = {"contains": text, "cluster_id": context.cluster.cluster_id, "language": language}
            outcome = lifecycle(workspace).outcomes.for_command(facts)
            command_id = secrets.token_hex(16)
            service.commands.add(command_id, Command(command_id, context, language, text, now, outcome))
        return {"id": command_id}

    @router.route("GET", "/api/1.2/commands/status")
    def command_status(request: Request) -> dict[str, Any]:
        command = service.command(request.arg("clusterId"), request.arg("contextId"), request.arg("commandId"))
        lifecycle(workspace).on_poll(command.settles_at(clock.time()))
        now = clock.time()
        body: dict[str, Any] = {"id": command.command_id, "status": command.status(now)}
        results = command.results(now)
        if results is not None:
            body["results"] = results
        return body

    @router.route("POST", "/api/1.2/commands/cancel")
    def cancel(request: Request) -> dict[str, Any]:
        body = request.json()
        command = service.command(body.get("clusterId"), body.get("contextId"), body.get("commandId"))
        with workspace.lock:
            command.cancel(clock.time())
        return {"id": command.command_id}


def _language(value: Any) -> str:
    language = str(value).lower()
    if language not in LANGUAGES:
        raise invalid(f"Invalid language '{value}'. Valid languages are {', '.join(LANGUAGES)}.")
    return language
