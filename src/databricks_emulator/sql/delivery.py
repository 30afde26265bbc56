"""How a statement's result travels, shared by both protocols: inline rows, Arrow batches, or result files.

A :class:`ResultSettings` per workspace holds the knobs (``Emulator.result_delivery``): rows per chunk, the size
from which a Thrift client that can download gets links instead of inline batches, and the largest inline
result the Statement Execution API accepts. An :class:`ArrowResult` is one statement's rows as Arrow, built once
on first use and cut into chunks, each chunk an IPC batch (Thrift inline) or a whole IPC stream (a result file,
LZ4-framed when the client asked for compression)::

    settings = ResultSettings.of(workspace)
    result = ArrowResult(statement.result, ArrowOptions(time_zone="Etc/UTC"), lz4=True, chunk_rows=settings.chunk_rows)
    body = result.file(0, result.row_count)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..workspace import Workspace
from . import arrow
from .arrow import ArrowOptions
from .engine import StatementResult

DEFAULT_CHUNK_ROWS = 100_000
CLOUD_FETCH_MIN_BYTES = 1 << 20
INLINE_LIMIT_BYTES = 25 << 20
_EXTENSION_KEY = "sql.result_settings"


@dataclass
class ResultSettings:
    """Result delivery knobs of one emulated workspace.

    ``chunk_rows``: rows per Arrow batch, result file and Statement Execution chunk. ``cloud_fetch_min_bytes``:
    a Thrift result whose Arrow data is larger goes by links when the client can download (the connector's
    default, ``use_cloud_fetch=True``); 0 sends every Arrow result by link. ``inline_limit_bytes``: with
    ``INLINE_OR_EXTERNAL_LINKS``, results up to this size (Databricks' 25 MiB) come inline, larger ones by link.
    """

    chunk_rows: int = DEFAULT_CHUNK_ROWS
    cloud_fetch_min_bytes: int = CLOUD_FETCH_MIN_BYTES
    inline_limit_bytes: int = INLINE_LIMIT_BYTES

    def __post_init__(self) -> None:
        if not isinstance(self.chunk_rows, int) or self.chunk_rows < 1:
            raise ValueError(f"chunk_rows={self.chunk_rows!r}: rows per result chunk, an integer >= 1")

    @classmethod
    def of(cls, workspace: Workspace) -> ResultSettings:
        with workspace.lock:
            settings = workspace.extensions.get(_EXTENSION_KEY)
            if settings is None:
                settings = workspace.extensions[_EXTENSION_KEY] = cls()
            return settings


def chunk_bounds(row_count: int, chunk_rows: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each chunk; an empty result is one empty chunk."""
    if row_count == 0:
        return [(0, 0)]
    return [(start, min(row_count, start + chunk_rows)) for start in range(0, row_count, chunk_rows)]


class ArrowResult:
    """One result as Arrow: the table is built at first use, then sliced (zero-copy) per chunk."""

    def __init__(self, result: StatementResult, options: ArrowOptions, *, lz4: bool, chunk_rows: int) -> None:
        self.options = options
        self.lz4 = lz4
        self.chunk_rows = chunk_rows
        self.row_count = len(result.rows)
        self._result: StatementResult | None = result
        self._table: Any = None
        self._lock = threading.Lock()

    @property
    def table(self) -> Any:
        with self._lock:
            if self._table is None:
                assert self._result is not None
                self._table = arrow.table(self._result.columns, self._result.rows, self.options)
                self._result = None
            return self._table

    @property
    def nbytes(self) -> int:
        return int(self.table.nbytes)

    def schema_bytes(self) -> bytes:
        return arrow.schema_bytes(self.table.schema)

    def batch(self, start: int, end: int) -> bytes:
        """Rows ``start:end`` as one IPC record-batch message, LZ4-framed if asked."""
        body = arrow.batch_bytes(self.table.slice(start, end - start))
        return arrow.lz4_frame(body) if self.lz4 else body

    def file(self, start: int, end: int) -> tuple[bytes, int]:
        """Rows ``start:end`` as a result file (a whole IPC stream, LZ4-framed if asked) and its unframed size."""
        body = arrow.stream_bytes(self.table.slice(start, end - start))
        return (arrow.lz4_frame(body) if self.lz4 else body), len(body)
