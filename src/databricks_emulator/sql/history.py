"""Query history: one :class:`QueryRecord` per statement, the source of ``system.query.history``.

Durations are the time a statement took on the emulator's clock (:func:`fitted` splits it into phases), or, where
no time passes (a frozen clock) and for asynchronous statements, those of a replaceable latency model (a
deterministic function of the statement), so history shows realistic, non-zero timings even on a frozen clock; the
emulator never advances the shared clock for a statement. The store is bounded: past ``max_records`` the oldest
records are dropped and counted.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

_METADATA_TYPES = frozenset({"USE", "SET", "SHOW", "DESCRIBE", "METADATA"})
_PARALLELISM = {
    "2X-Small": 2,
    "X-Small": 4,
    "Small": 8,
    "Medium": 16,
    "Large": 32,
    "X-Large": 64,
    "2X-Large": 128,
    "3X-Large": 256,
    "4X-Large": 512,
}


@dataclass
class QueryRecord:
    """One statement as ``system.query.history`` would show it (times from the emulator clock, UTC)."""

    statement_id: str
    session_id: str | None
    warehouse_id: str
    statement_text: str
    statement_type: str
    query_tags: dict[str, str | None]
    start_time: datetime
    end_time: datetime
    execution_status: str
    error_message: str | None
    produced_rows: int
    total_duration_ms: int
    total_task_duration_ms: int
    compilation_duration_ms: int
    execution_duration_ms: int
    result_fetch_duration_ms: int
    client_application: str | None
    protocol: str
    catalog: str | None = None
    schema: str | None = None


@dataclass(frozen=True)
class StatementProfile:
    """What a latency model knows about a statement once it has run."""

    statement_text: str
    statement_type: str
    produced_rows: int
    failed: bool
    warehouse_size: str


@dataclass(frozen=True)
class Durations:
    """Simulated phase durations of one statement, in milliseconds."""

    compilation_ms: int
    execution_ms: int
    result_fetch_ms: int
    task_ms: int

    @property
    def total_ms(self) -> int:
        return self.compilation_ms + self.execution_ms + self.result_fetch_ms


LatencyModel = Callable[[StatementProfile], Durations]


def default_latency_model(profile: StatementProfile) -> Durations:
    """A few milliseconds per statement: compilation grows with the text, execution and fetch with the rows.

    Task time is execution time spread over the warehouse's (nominal) parallelism; metadata statements (USE,
    SET, SHOW, DESCRIBE and the Thrift metadata calls) run no tasks.
    """
    if profile.statement_type in _METADATA_TYPES:
        return Durations(compilation_ms=1, execution_ms=2, result_fetch_ms=1 if profile.produced_rows else 0, task_ms=0)
    compilation = 4 + len(profile.statement_text) // 100
    if profile.failed:
        return Durations(compilation_ms=compilation, execution_ms=1, result_fetch_ms=0, task_ms=0)
    execution = 8 + profile.produced_rows // 1_000
    fetch = 1 + profile.produced_rows // 5_000 if profile.produced_rows else 0
    parallelism = _PARALLELISM.get(profile.warehouse_size, 8)
    task = execution * min(parallelism, 1 + profile.produced_rows // 10_000)
    return Durations(compilation_ms=compilation, execution_ms=execution, result_fetch_ms=fetch, task_ms=task)


def fitted(durations: Durations, total_ms: int) -> Durations:
    """``durations`` scaled to last ``total_ms`` in all (phases in the same proportions; task time scaled with
    execution time, so a statement that ran no tasks still runs none)."""
    if durations.total_ms <= 0:
        return Durations(compilation_ms=0, execution_ms=total_ms, result_fetch_ms=0, task_ms=0)
    factor = total_ms / durations.total_ms
    compilation = round(durations.compilation_ms * factor)
    fetch = min(total_ms - compilation, round(durations.result_fetch_ms * factor))
    execution = total_ms - compilation - fetch
    task = round(durations.task_ms * execution / durations.execution_ms) if durations.execution_ms > 0 else 0
    return Durations(compilation_ms=compilation, execution_ms=execution, result_fetch_ms=fetch, task_ms=task)


def typical_latency_model(profile: StatementProfile) -> Durations:
    """Durations of the order a running Databricks SQL warehouse shows for small statements (a few hundred
    milliseconds: compilation, a scan, the fetch), growing with the text and the rows like
    :func:`default_latency_model`; for paced workloads (``ws.sql.pace``) whose statements should outlast the
    client's own overhead of a few milliseconds."""
    quick = default_latency_model(profile)
    if profile.statement_type in _METADATA_TYPES:
        return Durations(compilation_ms=20, execution_ms=30, result_fetch_ms=quick.result_fetch_ms, task_ms=0)
    if profile.failed:
        return Durations(compilation_ms=60 + quick.compilation_ms, execution_ms=10, result_fetch_ms=0, task_ms=0)
    execution = 180 + quick.execution_ms
    task = round(execution * quick.task_ms / quick.execution_ms) if quick.execution_ms else 0
    return Durations(
        compilation_ms=60 + quick.compilation_ms,
        execution_ms=execution,
        result_fetch_ms=10 + quick.result_fetch_ms,
        task_ms=task,
    )


@dataclass
class QueryHistory:
    """A bounded, thread-safe store of :class:`QueryRecord` (oldest dropped first; ``dropped`` counts them)."""

    max_records: int = 1_000_000
    dropped: int = 0
    _records: deque[QueryRecord] = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_records < 1:
            raise ValueError(f"QueryHistory(max_records={self.max_records!r}): keep at least one record")
        self._records = deque(maxlen=self.max_records)

    def append(self, record: QueryRecord) -> None:
        with self._lock:
            if len(self._records) == self.max_records:
                self.dropped += 1
            self._records.append(record)

    def records(self) -> list[QueryRecord]:
        """A snapshot, oldest first."""
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
