"""The SQL warehouse behind both wire protocols: sessions, statements, their simulated timing and history.

Thrift (:mod:`.thrift`) and the Statement Execution API (:mod:`.statements`) are two doors into the same
:class:`SqlService`: a statement has one id, one history record and one life cycle whichever door it came in.
Statements run on DuckDB on a bounded pool of workers. A synchronous statement is answered finished as soon as DuckDB is
done, and on a moving clock its history shows the time it really took on the emulator's clock (from its arrival to its
result, in whole milliseconds and at least one: the answer waits out the rest of its last millisecond, so its history
never ends after its answer), split into phases as the latency model would split it; on a frozen clock, where no time
passes, the latency model's durations. An asynchronous one (Thrift without direct results, or ``wait_timeout=0s``) takes
the latency model's duration: it reports RUNNING until the emulator clock reaches that simulated end. Setting
``ws.sql.pace`` makes a synchronous statement last its latency model's duration too (the answer waits for it on a moving
clock), for workloads that compare what clients measure with query history (``examples/reconcile.py``). A statement
DuckDB has not finished within :attr:`SqlService.execution_wait` real seconds is answered RUNNING and goes on in the
background (a cross join of two large ranges really is long), so a client can poll it and cancel it: a cancel interrupts
DuckDB.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import duckdb

from ..clock import Clock
from ..workspace import Workspace
from . import errors, querytags
from .engine import EngineSession, Parameter, SqlEngine, StatementResult
from .history import (
    Durations,
    LatencyModel,
    QueryHistory,
    QueryRecord,
    StatementProfile,
    default_latency_model,
    fitted,
)
from .ids import new_statement_id

MAX_SESSIONS = 10_000
MAX_OPEN_STATEMENTS = 10_000
MAX_RUNNING_STATEMENTS = 8
EXECUTION_WAIT_SECONDS = 5.0
STATUS_WAIT_SECONDS = 1.0
_EXTENSION_KEY = "sql"
_KNOWN_CLIENTS = {
    "PyDatabricksSqlConnector": "Databricks SQL Connector for Python",
    "databricks-sdk-py": "Databricks SDK for Python",
}
_STATEMENT_TYPES = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "USE", "SHOW", "DESCRIBE", "SET"}
)


def client_application(user_agent: str | None) -> str | None:
    """The client name query history shows for a User-Agent: a known client spelled out, else its first product."""
    if not user_agent:
        return None
    products = [token.split("/", 1)[0] for token in user_agent.split() if "/" in token]
    for product in products:
        if product in _KNOWN_CLIENTS:
            return _KNOWN_CLIENTS[product]
    named = [product for product in products if product != "unknown"]
    return named[0] if named else user_agent.split(None, 1)[0]


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


@dataclass(eq=False)
class SqlSession:
    """A SQL session on one warehouse, opened through one protocol."""

    id: str
    warehouse_id: str
    protocol: str
    engine_session: EngineSession
    tags: dict[str, str | None]
    configuration: dict[str, str]
    client_application: str | None
    statement_ids: set[str] = field(default_factory=set)
    closed: bool = False
    executing: int = 0

    @property
    def catalog(self) -> str:
        return self.engine_session.catalog

    @property
    def schema(self) -> str:
        return self.engine_session.schema


@dataclass(eq=False)
class Statement:
    """One statement's life: result or error, simulated start and end, and what the client did with it."""

    id: str
    session: SqlSession
    record: QueryRecord
    result: StatementResult | None
    error: errors.SqlError | None
    started: float
    finishes: float
    asynchronous: bool
    durations: Durations
    canceled: bool = False
    closed: bool = False
    position: int = 0
    delivery: Any = None
    """How the protocol that ran it serves its result (e.g. :class:`.thrift_results.ThriftDelivery`)."""
    done: threading.Event = field(default_factory=threading.Event)
    """Set once DuckDB has finished (at once for a statement answered finished)."""
    cancel_event: threading.Event = field(default_factory=threading.Event)
    """Set to stop the statement while DuckDB executes it."""

    def state(self, now: float) -> str:
        """``PENDING``, ``RUNNING``, ``SUCCEEDED``, ``FAILED``, ``CANCELED`` or ``CLOSED`` at simulated ``now``."""
        if self.closed:
            return "CLOSED"
        if self.canceled:
            return "CANCELED"
        if self.running(now):
            return "RUNNING"
        return "FAILED" if self.error is not None else "SUCCEEDED"

    def running(self, now: float) -> bool:
        if self.canceled or self.closed:
            return False
        return not self.done.is_set() or (self.asynchronous and now < self.finishes)

    def wait(self, seconds: float) -> None:
        """Wait (real time, at most ``seconds``) for DuckDB to finish a statement still executing: a status
        request long-polls as a warehouse's does, instead of answering RUNNING at once to a client that asks
        again at once."""
        self.done.wait(seconds)


class SqlService:
    """Sessions and statements of every SQL warehouse of one emulated workspace, and their query history."""

    def __init__(self, workspace: Workspace, *, catalog: str = "main", schema: str = "default") -> None:
        self.workspace = workspace
        self.clock: Clock = workspace.clock
        self.engine = SqlEngine(default_catalog=catalog, default_schema=schema)
        self.history = QueryHistory()
        self.latency_model: LatencyModel = default_latency_model
        self.pace = False
        """Answer a synchronous statement only once the latency model's duration has passed on a moving clock (a
        real wait of that duration / the clock's speed), so clients see statements take that long; off by default,
        so that tests never wait."""
        self.execution_wait = EXECUTION_WAIT_SECONDS
        """Real seconds a request waits for DuckDB before it answers a statement RUNNING."""
        self.status_wait = STATUS_WAIT_SECONDS
        """Real seconds a status request waits (long-polls) for a statement DuckDB is still executing."""
        self.evicted_sessions = 0
        self.evicted_statements = 0
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, SqlSession] = OrderedDict()
        self._statements: OrderedDict[str, Statement] = OrderedDict()
        self._workers = concurrent.futures.ThreadPoolExecutor(
            max_workers=MAX_RUNNING_STATEMENTS, thread_name_prefix="emulator-sql"
        )

    @classmethod
    def of(cls, workspace: Workspace) -> SqlService:
        """The workspace's SQL service, created on first use."""
        with workspace.lock:
            service = workspace.extensions.get(_EXTENSION_KEY)
            if service is None:
                catalog = getattr(workspace, "default_catalog", "main")
                schema = getattr(workspace, "default_schema", "default")
                service = workspace.extensions[_EXTENSION_KEY] = cls(workspace, catalog=catalog, schema=schema)
            return service

    # sessions
    def open_session(
        self,
        *,
        session_id: str,
        warehouse_id: str,
        protocol: str,
        catalog: str | None = None,
        schema: str | None = None,
        configuration: Mapping[str, str] | None = None,
        user_agent: str | None = None,
    ) -> SqlSession:
        """Open a session; raises :class:`errors.SqlError` if the initial catalog or schema does not exist."""
        configuration = {str(key): str(value) for key, value in (configuration or {}).items()}
        tags_text = next((value for key, value in configuration.items() if key.upper() == "QUERY_TAGS"), None)
        session = SqlSession(
            id=session_id,
            warehouse_id=warehouse_id,
            protocol=protocol,
            engine_session=self.engine.open_session(catalog, schema, configuration),
            tags=querytags.parse_serialized(tags_text),
            configuration=configuration,
            client_application=client_application(user_agent),
        )
        stopping: list[Statement] = []
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > MAX_SESSIONS:
                _, evicted = self._sessions.popitem(last=False)
                stopping += self._close_session_locked(evicted)
                self.evicted_sessions += 1
        self._stop(stopping)
        return session

    def session(self, session_id: str) -> SqlSession | None:
        with self._lock:
            return self._sessions.get(session_id)

    def close_session(self, session_id: str, *, keep_statements: bool = False) -> bool:
        """Close a session and (unless ``keep_statements``) its statements; False if it was not open."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
            if session is None:
                return False
            stopping = self._close_session_locked(session, keep_statements=keep_statements)
        self._stop(stopping)
        return True

    def _close_session_locked(self, session: SqlSession, *, keep_statements: bool = False) -> list[Statement]:
        """Close ``session``; returns the statements DuckDB still executes for it, to :meth:`_stop` unlocked."""
        session.closed = True
        stopping = [
            statement
            for statement_id in (() if keep_statements else session.statement_ids)
            if (statement := self._statements.get(statement_id)) is not None and not statement.done.is_set()
        ]
        for statement_id in () if keep_statements else session.statement_ids:
            statement = self._statements.pop(statement_id, None)
            if statement is not None:
                statement.closed = True
                statement.result = None
        if not keep_statements:
            session.statement_ids.clear()
        if session.executing == 0:
            session.engine_session.close()
        return stopping

    def _stop(self, statements: Sequence[Statement]) -> None:
        for statement in statements:
            self.engine.cancel(statement.session.engine_session, statement.cancel_event, statement.done)

    def active_sessions(self, warehouse_id: str) -> int:
        with self._lock:
            return sum(1 for session in self._sessions.values() if session.warehouse_id == warehouse_id)

    # statements
    def execute(
        self,
        session: SqlSession,
        text: str,
        *,
        parameters: Sequence[Parameter] = (),
        statement_tags: Mapping[str, str | None] | None = None,
        row_limit: int | None = None,
        asynchronous: bool = False,
    ) -> Statement:
        """Run one statement in ``session``; a SQL failure is the statement's ``error``, never an exception.

        Waits up to :attr:`execution_wait` real seconds for DuckDB; a statement still executing then is returned
        RUNNING and completes in the background.
        """
        started = self.clock.time()
        with self._lock:
            session.executing += 1
        cancel = threading.Event()
        future = self._workers.submit(self._run, session, text, parameters, row_limit, cancel)
        try:
            result, error = future.result(timeout=self.execution_wait)
        except concurrent.futures.TimeoutError:
            statement = self._finish(
                session, text, _statement_type(text), started, None, None, statement_tags, asynchronous, executing=True
            )
            statement.cancel_event = cancel
            future.add_done_callback(lambda finished: self._complete(statement, *finished.result()))
            return statement
        statement_type = result.statement_type if result is not None else _statement_type(text)
        return self._finish(session, text, statement_type, started, result, error, statement_tags, asynchronous)

    def _run(
        self,
        session: SqlSession,
        text: str,
        parameters: Sequence[Parameter],
        row_limit: int | None,
        cancel: threading.Event,
    ) -> tuple[StatementResult | None, errors.SqlError | None]:
        try:
            return self.engine.execute(session.engine_session, text, parameters, row_limit, cancel), None
        except errors.SqlError as failure:
            return None, failure
        finally:
            with self._lock:
                session.executing -= 1
                if session.closed and session.executing == 0:
                    session.engine_session.close()

    def _complete(self, statement: Statement, result: StatementResult | None, error: errors.SqlError | None) -> None:
        """Record the outcome of a statement that went on executing after it was answered RUNNING."""
        if not (statement.canceled or statement.closed):
            now = self.clock.time()
            produced_rows = len(result.rows) if result is not None else 0
            durations = self._durations(statement.session, statement.record.statement_text, result, error)
            statement.durations = durations
            statement.finishes = max(now, statement.started + durations.total_ms / 1000.0)
            record = statement.record
            if result is not None:
                record.statement_type = result.statement_type
            record.execution_status = "FAILED" if error is not None else "FINISHED"
            record.error_message = error.message if error is not None else None
            record.produced_rows = produced_rows
            record.end_time = _utc(statement.finishes)
            record.total_duration_ms = round((statement.finishes - statement.started) * 1000)
            record.execution_duration_ms = max(0, record.total_duration_ms - record.compilation_duration_ms)
            statement.result, statement.error = result, error
        statement.done.set()

    def run_metadata(
        self,
        session: SqlSession,
        description: str,
        producer: Callable[[duckdb.DuckDBPyConnection], StatementResult],
    ) -> Statement:
        """Answer a metadata call (Thrift GetTables and the like) from the metastore, as a recorded statement."""
        started = self.clock.time()
        result: StatementResult | None = None
        error: errors.SqlError | None = None
        try:
            with session.engine_session.lock:
                result = producer(session.engine_session.cursor)
        except errors.SqlError as failure:
            error = failure
        except duckdb.Error as failure:
            error = errors.from_duckdb(failure)
        return self._finish(session, description, "METADATA", started, result, error, None, False)

    def _finish(
        self,
        session: SqlSession,
        text: str,
        statement_type: str,
        started: float,
        result: StatementResult | None,
        error: errors.SqlError | None,
        statement_tags: Mapping[str, str | None] | None,
        asynchronous: bool,
        *,
        executing: bool = False,
    ) -> Statement:
        produced_rows = len(result.rows) if result is not None else 0
        durations = self._durations(session, text, result, error, statement_type)
        if not asynchronous and not executing and not self.clock.frozen:
            if self.pace:
                self._wait_until(started + durations.total_ms / 1000.0)
            took_ms = max(1, math.ceil((self.clock.time() - started) * 1000))
            self._wait_until(started + took_ms / 1000.0)
            durations = fitted(durations, took_ms)
        finishes = started + durations.total_ms / 1000.0
        statement_id = new_statement_id()
        record = QueryRecord(
            statement_id=statement_id,
            session_id=session.id,
            warehouse_id=session.warehouse_id,
            statement_text=text,
            statement_type=statement_type,
            query_tags=querytags.merge(session.tags, statement_tags or {}),
            start_time=_utc(started),
            end_time=_utc(finishes),
            execution_status="FAILED" if error is not None else "FINISHED",
            error_message=error.message if error is not None else None,
            produced_rows=produced_rows,
            total_duration_ms=durations.total_ms,
            total_task_duration_ms=durations.task_ms,
            compilation_duration_ms=durations.compilation_ms,
            execution_duration_ms=durations.execution_ms,
            result_fetch_duration_ms=durations.result_fetch_ms,
            client_application=session.client_application,
            protocol=session.protocol,
            catalog=session.catalog,
            schema=session.schema,
        )
        self.history.append(record)
        statement = Statement(
            id=statement_id,
            session=session,
            record=record,
            result=result,
            error=error,
            started=started,
            finishes=finishes,
            asynchronous=asynchronous,
            durations=durations,
        )
        if not executing:
            statement.done.set()
        with self._lock:
            self._statements[statement_id] = statement
            session.statement_ids.add(statement_id)
            while len(self._statements) > MAX_OPEN_STATEMENTS:
                _, evicted = self._statements.popitem(last=False)
                evicted.session.statement_ids.discard(evicted.id)
                evicted.closed = True
                evicted.result = None
                self.evicted_statements += 1
        return statement

    def _wait_until(self, instant: float) -> None:
        remaining = instant - self.clock.time()
        while remaining > 0:
            time.sleep(remaining / self.clock.speed)
            remaining = instant - self.clock.time()

    def _durations(
        self,
        session: SqlSession,
        text: str,
        result: StatementResult | None,
        error: errors.SqlError | None,
        statement_type: str | None = None,
    ) -> Durations:
        warehouse = self.workspace.warehouses.get(session.warehouse_id)
        profile = StatementProfile(
            statement_text=text,
            statement_type=statement_type or (result.statement_type if result is not None else _statement_type(text)),
            produced_rows=len(result.rows) if result is not None else 0,
            failed=error is not None,
            warehouse_size=warehouse.cluster_size if warehouse is not None else "Small",
        )
        return self.latency_model(profile)

    def statement(self, statement_id: str) -> Statement | None:
        with self._lock:
            return self._statements.get(statement_id)

    def cancel(self, statement: Statement) -> None:
        """Cancel a statement that is still running (simulated or in DuckDB); a finished one is left as it is."""
        now = self.clock.time()
        if not statement.running(now):
            return
        statement.canceled = True
        statement.result = None
        if not statement.done.is_set():
            self.engine.cancel(statement.session.engine_session, statement.cancel_event, statement.done)
        record = statement.record
        elapsed_ms = max(0, round((now - statement.started) * 1000))
        record.execution_status = "CANCELED"
        record.end_time = _utc(now)
        record.total_duration_ms = elapsed_ms
        record.execution_duration_ms = max(0, elapsed_ms - record.compilation_duration_ms)
        record.result_fetch_duration_ms = 0
        record.produced_rows = 0

    def close(self, statement: Statement) -> None:
        """Release a statement's result (interrupting DuckDB if it is still at it); later requests see it CLOSED."""
        if not statement.done.is_set() and not statement.canceled:
            self.engine.cancel(statement.session.engine_session, statement.cancel_event, statement.done)
        statement.closed = True
        statement.result = None
        with self._lock:
            self._statements.pop(statement.id, None)
            statement.session.statement_ids.discard(statement.id)

    def query_history(self) -> list[QueryRecord]:
        return self.history.records()

    def shutdown(self) -> None:
        stopping: list[Statement] = []
        with self._lock:
            for session in list(self._sessions.values()):
                stopping += self._close_session_locked(session)
            self._sessions.clear()
            self._statements.clear()
        self._stop(stopping)
        self._workers.shutdown(wait=True, cancel_futures=True)
        self.engine.close()


def _statement_type(text: str) -> str:
    words = text.lstrip(" \t\r\n(").split(None, 1)
    first = words[0].upper() if words else ""
    if first in ("WITH", "VALUES", "FROM", "TABLE"):
        return "SELECT"
    if first in ("DESC",):
        return "DESCRIBE"
    return first if first in _STATEMENT_TYPES else "OTHER"
