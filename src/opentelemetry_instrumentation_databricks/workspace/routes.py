"""The route table: (HTTP method, path template) -> handler. Adding an endpoint is one entry in ``ROUTES``.

Matching is an exact dict lookup for fixed paths, then a few precompiled patterns (grouped by method and the
template's literal prefix) for paths with ids; results are cached per (method, path) in a bounded table (cleared
when full). A path no route knows gets a generic span, ``databricks.<service>.<operation>`` from the path's
non-id segments, and no ``url.template``.

::

    table = RouteTable(ROUTES)
    match = table.match("GET", "/api/2.0/pipelines/abc/updates/def")
    match.handler.span_name, match.template, match.params
    # ('databricks.pipelines.get_update', '/api/2.0/pipelines/{pipeline_id}/updates/{update_id}',
    #  {'pipeline_id': 'abc', 'update_id': 'def'})
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from . import clusters, commands, jobs, pipelines, statements
from .call import Handler

MAX_CACHED_PATHS = 4096
JOBS_VERSIONS = ("2.0", "2.1", "2.2")
CLUSTERS_VERSIONS = ("2.0", "2.1")

_PARAMETER = re.compile(r"\{(\w+)\}")
_API_PATH = re.compile(r"^/api/[\d.]+/([^/]+)((?:/[^/]+)*)/?$")
_WORD = re.compile(r"^[a-z][a-z-]*$")


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    handler: Handler


@dataclass(frozen=True, slots=True)
class Match:
    handler: Handler
    template: str | None
    params: Mapping[str, str] = field(default_factory=dict)


def _versions(method: str, versions: Iterable[str], template: str, handler: Handler) -> list[Route]:
    return [Route(method, template.format(version=version), handler) for version in versions]


def _jobs(method: str, rest: str, handler: Handler) -> list[Route]:
    return _versions(method, JOBS_VERSIONS, "/api/{version}/jobs/" + rest, handler)


def _clusters(method: str, rest: str, handler: Handler) -> list[Route]:
    return _versions(method, CLUSTERS_VERSIONS, "/api/{version}/clusters/" + rest, handler)


ROUTES: tuple[Route, ...] = (
    *_jobs("POST", "runs/submit", jobs.SUBMIT),
    *_jobs("POST", "run-now", jobs.RUN_NOW),
    *_jobs("POST", "create", jobs.CREATE),
    *_jobs("POST", "reset", jobs.RESET),
    *_jobs("POST", "update", jobs.UPDATE),
    *_jobs("GET", "get", jobs.GET),
    *_jobs("GET", "list", jobs.LIST),
    *_jobs("POST", "delete", jobs.DELETE),
    *_jobs("GET", "runs/get", jobs.GET_RUN),
    *_jobs("GET", "runs/list", jobs.LIST_RUNS),
    *_jobs("POST", "runs/cancel", jobs.CANCEL_RUN),
    *_jobs("POST", "runs/cancel-all", jobs.CANCEL_ALL_RUNS),
    *_jobs("POST", "runs/delete", jobs.DELETE_RUN),
    *_jobs("GET", "runs/export", jobs.EXPORT_RUN),
    *_jobs("POST", "runs/repair", jobs.REPAIR_RUN),
    *_jobs("GET", "runs/get-output", jobs.GET_RUN_OUTPUT),
    Route("POST", "/api/2.0/pipelines", pipelines.CREATE),
    Route("GET", "/api/2.0/pipelines", pipelines.LIST),
    Route("GET", "/api/2.0/pipelines/{pipeline_id}", pipelines.GET),
    Route("PUT", "/api/2.0/pipelines/{pipeline_id}", pipelines.EDIT),
    Route("DELETE", "/api/2.0/pipelines/{pipeline_id}", pipelines.DELETE),
    Route("POST", "/api/2.0/pipelines/{pipeline_id}/updates", pipelines.START_UPDATE),
    Route("GET", "/api/2.0/pipelines/{pipeline_id}/updates", pipelines.LIST_UPDATES),
    Route("GET", "/api/2.0/pipelines/{pipeline_id}/updates/{update_id}", pipelines.GET_UPDATE),
    Route("POST", "/api/2.0/pipelines/{pipeline_id}/stop", pipelines.STOP),
    Route("POST", "/api/2.0/sql/statements", statements.EXECUTE),
    Route("POST", "/api/2.0/sql/statements/", statements.EXECUTE),
    Route("GET", "/api/2.0/sql/statements/{statement_id}", statements.GET),
    Route("POST", "/api/2.0/sql/statements/{statement_id}/cancel", statements.CANCEL),
    Route("GET", "/api/2.0/sql/statements/{statement_id}/result/chunks/{chunk_index}", statements.GET_RESULT_CHUNK),
    Route("POST", "/api/1.2/contexts/create", commands.CREATE_CONTEXT),
    Route("GET", "/api/1.2/contexts/status", commands.CONTEXT_STATUS),
    Route("POST", "/api/1.2/contexts/destroy", commands.DESTROY_CONTEXT),
    Route("POST", "/api/1.2/commands/execute", commands.EXECUTE),
    Route("GET", "/api/1.2/commands/status", commands.COMMAND_STATUS_CALL),
    Route("POST", "/api/1.2/commands/cancel", commands.CANCEL),
    *_clusters("GET", "get", clusters.GET),
    *_clusters("GET", "list", clusters.LIST),
    *_clusters("POST", "create", clusters.CREATE),
    *_clusters("POST", "edit", clusters.EDIT),
    *_clusters("POST", "start", clusters.START),
    *_clusters("POST", "restart", clusters.RESTART),
    *_clusters("POST", "resize", clusters.RESIZE),
    *_clusters("POST", "delete", clusters.DELETE),
    *_clusters("POST", "permanent-delete", clusters.PERMANENT_DELETE),
)
"""Every route with Databricks-specific attributes, tags or run tracking; other paths get a generic span."""


def _compile(template: str) -> re.Pattern[str]:
    parts = _PARAMETER.split(template)
    pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
    return re.compile(f"^{pattern}$")


class RouteTable:
    """Matches (method, path) to a route, cheaply and with a bounded cache."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._exact: dict[tuple[str, str], Match] = {}
        self._patterns: dict[str, list[tuple[str, re.Pattern[str], Route]]] = {}
        for route in routes:
            if "{" in route.template:
                prefix = route.template.split("{", 1)[0]
                self._patterns.setdefault(route.method, []).append((prefix, _compile(route.template), route))
            else:
                self._exact[(route.method, route.template)] = Match(route.handler, route.template)
        self._cache: dict[tuple[str, str], Match] = {}
        self._generic: dict[str, Handler] = {}

    def match(self, method: str, path: str) -> Match:
        key = (method, path)
        found = self._exact.get(key) or self._cache.get(key)
        if found is not None:
            return found
        found = self._find(method, path)
        if len(self._cache) >= MAX_CACHED_PATHS:
            self._cache.clear()
        self._cache[key] = found
        return found

    def _find(self, method: str, path: str) -> Match:
        for prefix, pattern, route in self._patterns.get(method, ()):
            if path.startswith(prefix):
                matched = pattern.match(path)
                if matched:
                    return Match(route.handler, route.template, matched.groupdict())
        return Match(self._generic_handler(method, path), None)

    def _generic_handler(self, method: str, path: str) -> Handler:
        service, operation = generic_name(method, path)
        name = f"{service}.{operation}"
        handler = self._generic.get(name)
        if handler is None:
            if len(self._generic) >= MAX_CACHED_PATHS:
                self._generic.clear()
            handler = self._generic[name] = Handler(service, operation)
        return handler


def generic_name(method: str, path: str) -> tuple[str, str]:
    """``(service, operation)`` for a path no route knows: ``GET /api/2.0/permissions/jobs/123`` ->
    ``("permissions", "get_jobs")``; segments with digits, dots or upper case (ids, names) are left out."""
    found = _API_PATH.match(path or "")
    if not found:
        return "api", method.lower()
    service = found.group(1).replace("-", "_")
    words = [segment for segment in found.group(2).split("/") if _WORD.match(segment)]
    operation = words[-1].replace("-", "_") if words else ""
    return service, f"{method.lower()}_{operation}" if operation else method.lower()
