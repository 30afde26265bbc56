"""The SQL Statement Execution API (``/api/2.0/sql/statements``, ``/api/2.0/sql/sessions``), as the connector's
SEA backend (``use_sea=True``) and the SDK's ``WorkspaceClient.statement_execution`` use it.

Results travel by the request's ``disposition`` and ``format`` (:mod:`.sea_results`): ``INLINE`` ``JSON_ARRAY``
chunks (values as strings, ``null`` as null), ``EXTERNAL_LINKS`` to result files on the emulator in
``JSON_ARRAY``, ``ARROW_STREAM`` (the connector's default with ``use_sea=True``) or ``CSV``, or either for
``INLINE_OR_EXTERNAL_LINKS``; chunks are ``Emulator.result_delivery.chunk_rows`` rows. ``INLINE`` with a format
other than ``JSON_ARRAY`` is refused as Databricks refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ..http import ApiError, HttpApp, Request, invalid, not_found
from ..workspace import Workspace
from . import arrow, errors, querytags, sea_results
from .delivery import ResultSettings
from .engine import Column, Parameter
from .ids import new_statement_id
from .links import ResultFiles
from .service import SqlService, SqlSession, Statement

_WAIT_TIMEOUT = re.compile(r"^(\d+)s$")
_BASE = "/api/2.0/sql/statements"


def _wait_seconds(value: Any) -> int:
    if value is None:
        return 10
    found = _WAIT_TIMEOUT.match(str(value).strip())
    seconds = int(found.group(1)) if found else -1
    if seconds != 0 and not 5 <= seconds <= 50:
        raise invalid(f"Invalid wait_timeout {value!r}: the wait timeout must be 0s or between 5s and 50s, e.g. '10s'.")
    return seconds


def _columns_json(columns: Sequence[Column]) -> list[dict[str, Any]]:
    described = []
    for position, column in enumerate(columns):
        sql_type = column.sql_type
        entry: dict[str, Any] = {
            "name": column.name,
            "type_text": sql_type.type_text,
            "type_name": sql_type.type_name,
            "position": position,
        }
        if sql_type.type_name == "DECIMAL":
            entry["type_precision"] = sql_type.precision
            entry["type_scale"] = sql_type.scale
        elif sql_type.type_name == "INTERVAL":
            entry["type_interval_type"] = "DAY TO SECOND"
        described.append(entry)
    return described


def _delivery(statement: Statement) -> sea_results.SeaDelivery:
    result = statement.result
    assert result is not None
    delivery = statement.delivery
    if not isinstance(delivery, sea_results.SeaDelivery):
        delivery = statement.delivery = sea_results.negotiate({}, ResultSettings(), arrow.UTC)
    return delivery.resolve(result)


def _chunk(statement: Statement, index: int, files: ResultFiles) -> dict[str, Any]:
    result = statement.result
    assert result is not None
    delivery = _delivery(statement)
    count = len(delivery.bounds(len(result.rows)))
    if not 0 <= index < count:
        raise invalid(f"Chunk index {index} is out of range: the result has {count} chunk(s).")
    return sea_results.chunk_json(delivery, result, index, f"{_BASE}/{statement.id}", files)


def _manifest(statement: Statement) -> dict[str, Any]:
    result = statement.result
    assert result is not None
    delivery = _delivery(statement)
    bounds = delivery.bounds(len(result.rows))
    chunks = [
        {"chunk_index": index, "row_offset": start, "row_count": end - start}
        for index, (start, end) in enumerate(bounds)
    ]
    return {
        "format": "JSON_ARRAY",
        "schema": {"column_count": len(result.columns), "columns": _columns_json(result.columns)},
        "total_row_count": len(result.rows),
        "total_chunk_count": len(bounds),
        "chunks": chunks,
        "truncated": result.truncated,
        **sea_results.manifest_fields(delivery),
    }


def statement_json(statement: Statement, state: str, files: ResultFiles) -> dict[str, Any]:
    """A ``StatementResponse``: id, status and, once succeeded, the manifest and the first chunk."""
    status: dict[str, Any] = {"state": state}
    body: dict[str, Any] = {"statement_id": statement.id, "status": status}
    if state == "FAILED" and statement.error is not None:
        error = statement.error
        status["error"] = {"error_code": error.service_code, "message": error.message}
        status["sql_state"] = error.sqlstate
    elif state == "SUCCEEDED" and statement.result is not None:
        body["manifest"] = _manifest(statement)
        body["result"] = _chunk(statement, 0, files)
    return body


def _parameters(items: Any) -> list[Parameter]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise invalid("parameters must be a list of {name, value, type} objects.")
    parameters = []
    for item in items:
        if not isinstance(item, dict) or not item.get("name"):
            raise invalid("Every statement parameter needs a name: positional parameters are not supported.")
        value = item.get("value")
        parameters.append(Parameter(str(item["name"]), str(item.get("type") or "STRING"), value))
    return parameters


def register(app: HttpApp, workspace: Workspace) -> None:
    """Add the Statement Execution API routes."""
    service = SqlService.of(workspace)
    router = app.router

    def warehouse_of(warehouse_id: Any) -> str:
        if not warehouse_id:
            raise invalid("warehouse_id is required.")
        warehouse = workspace.warehouses.get(str(warehouse_id))
        if warehouse is None:
            raise not_found(f"SQL warehouse {warehouse_id}")
        if warehouse.state != "RUNNING":
            warehouse.state = "RUNNING"
        return warehouse.id

    def open_session(request: Request, warehouse_id: str, catalog: Any, schema: Any, confs: Any) -> SqlSession:
        try:
            return service.open_session(
                session_id=new_statement_id(),
                warehouse_id=warehouse_id,
                protocol="sea",
                catalog=str(catalog) if catalog else None,
                schema=str(schema) if schema else None,
                configuration=confs if isinstance(confs, dict) else None,
                user_agent=request.headers.get("user-agent"),
            )
        except errors.SqlError as error:
            status = 404 if error.error_class.endswith("NOT_FOUND") else 400
            raise ApiError(status, "NOT_FOUND" if status == 404 else "BAD_REQUEST", error.message) from None

    def statement_of(request: Request) -> Statement:
        statement = service.statement(request.params["statement_id"])
        if statement is None:
            raise not_found(f"Statement {request.params['statement_id']}")
        return statement

    @router.route("POST", "/api/2.0/sql/sessions")
    def create_session(request: Request) -> dict[str, Any]:
        body = request.json()
        warehouse_id = warehouse_of(body.get("warehouse_id"))
        session = open_session(
            request, warehouse_id, body.get("catalog"), body.get("schema"), body.get("session_confs")
        )
        return {"session_id": session.id}

    @router.route("DELETE", "/api/2.0/sql/sessions/{session_id}")
    def delete_session(request: Request) -> dict[str, Any]:
        service.close_session(request.params["session_id"])
        return {}

    @router.route("POST", _BASE)
    def execute(request: Request) -> dict[str, Any]:
        body = request.json()
        text = body.get("statement")
        if not isinstance(text, str) or not text.strip():
            raise invalid("statement is required.")
        warehouse_id = warehouse_of(body.get("warehouse_id"))
        wait = _wait_seconds(body.get("wait_timeout"))
        delivery = sea_results.negotiate(body, ResultSettings.of(workspace), arrow.UTC)
        row_limit = body.get("row_limit")
        if row_limit is not None and (not isinstance(row_limit, int) or row_limit < 0):
            raise invalid("row_limit must be a non-negative integer.")
        parameters = _parameters(body.get("parameters"))
        tags = querytags.parse_list(body.get("query_tags"))
        session_id = body.get("session_id")
        ephemeral = not session_id
        if ephemeral:
            session = open_session(request, warehouse_id, body.get("catalog"), body.get("schema"), None)
        else:
            found = service.session(str(session_id))
            if found is None:
                raise not_found(f"Session {session_id}")
            session = found
        delivery.time_zone = arrow.session_time_zone(session.engine_session.conf, session.configuration)
        try:
            statement = service.execute(
                session,
                text,
                parameters=parameters,
                statement_tags=tags,
                row_limit=row_limit or None,
                asynchronous=wait == 0,
            )
        finally:
            if ephemeral:
                service.close_session(session.id, keep_statements=True)
        statement.delivery = delivery
        state = statement.state(service.clock.time())
        return statement_json(statement, "PENDING" if state == "RUNNING" else state, ResultFiles.of(workspace))

    @router.route("GET", _BASE + "/{statement_id}")
    def get(request: Request) -> dict[str, Any]:
        statement = statement_of(request)
        statement.wait(service.status_wait)
        return statement_json(statement, statement.state(service.clock.time()), ResultFiles.of(workspace))

    @router.route("GET", _BASE + "/{statement_id}/result/chunks/{chunk_index}")
    def get_chunk(request: Request) -> dict[str, Any]:
        statement = statement_of(request)
        state = statement.state(service.clock.time())
        if state != "SUCCEEDED" or statement.result is None:
            raise ApiError(400, "BAD_REQUEST", f"Statement {statement.id} has no result: its state is {state}.")
        try:
            index = int(request.params["chunk_index"])
        except ValueError:
            raise invalid(f"Invalid chunk index {request.params['chunk_index']!r}.") from None
        return _chunk(statement, index, ResultFiles.of(workspace))

    @router.route("POST", _BASE + "/{statement_id}/cancel")
    def cancel(request: Request) -> dict[str, Any]:
        service.cancel(statement_of(request))
        return {}

    @router.route("DELETE", _BASE + "/{statement_id}")
    def close(request: Request) -> dict[str, Any]:
        statement = service.statement(request.params["statement_id"])
        if statement is not None:
            service.close(statement)
        return {}
