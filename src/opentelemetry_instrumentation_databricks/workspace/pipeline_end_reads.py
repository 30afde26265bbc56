"""Reading a finished pipeline update's end event off the caller's thread, and never losing its span.

The poll that first shows an update terminal claims it (on the caller's thread, no I/O) and hands it here; one
daemon thread, alive only while reads wait, reads the pipeline's events page (``READ_TIMEOUT_SECONDS`` at most)
and emits the span. The user's poll never waits for the event log::

    reads = PipelineEndReads(tracker)
    reads.submit(update, started, client, time_ns())   # returns at once
    reads.drain(5.0)   # waits at most 5 s; what is still unread is emitted with observed timing

Bounds: at most ``max_pending`` (``MAX_PENDING_READS``) reads wait or run at a time; when that many are pending, the
next update's span is emitted at once, on the caller's thread, with observed timing (``emitted_at_once`` counts
them): a span is never dropped for want of room.

Nothing is lost at shutdown: pending reads are drained, each wait bounded (``DRAIN_TIMEOUT_SECONDS`` in total),
then emitted with observed timing, when

- the instrumentor uninstruments (:meth:`PipelineEndReads.drain` of its tracker);
- the interpreter exits: an ``atexit`` handler, (re-)registered each time the reader thread starts, so it runs
  before the ``TracerProvider``'s own ``atexit`` shutdown (handlers run last-registered-first) of any provider
  created before that first pending read;
- the user calls ``force_flush()`` or ``shutdown()`` on an SDK ``TracerProvider`` (:mod:`.flush_hooks`).

A read still in flight when its drain gives up finishes in the background and is discarded: the span was emitted.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from time import monotonic
from typing import TYPE_CHECKING, Any

from .pipeline_updates import emit_update, read_end
from .runs import StartedRun

if TYPE_CHECKING:
    from .tracker import Tracker

_logger = logging.getLogger(__name__)

MAX_PENDING_READS = 256
READ_TIMEOUT_SECONDS = 10.0
DRAIN_TIMEOUT_SECONDS = 5.0
THREAD_NAME = "databricks-pipeline-end-read"

_with_pending_reads: weakref.WeakSet[PipelineEndReads] = weakref.WeakSet()


@dataclass(eq=False, slots=True)
class _PendingRead:
    update: Mapping[str, Any]
    started: StartedRun | None
    client: Any
    observed_ns: int
    done: bool = field(default=False)


class PipelineEndReads:
    """Pending end-event reads of one tracker's pipeline updates; see the module docstring."""

    def __init__(
        self, tracker: Tracker, max_pending: int = MAX_PENDING_READS, read_timeout: float = READ_TIMEOUT_SECONDS
    ) -> None:
        self.max_pending = max_pending
        self.read_timeout = read_timeout
        self.emitted_at_once = 0
        """Spans emitted on the caller's thread, with observed timing, because ``max_pending`` reads were pending."""
        self._tracker = tracker
        self._waiting: deque[_PendingRead] = deque()
        self._unfinished: set[_PendingRead] = set()
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._unfinished)

    def submit(self, update: Mapping[str, Any], started: StartedRun | None, client: Any, observed_ns: int) -> None:
        """Read the update's end event in the background and emit its span then; never blocks on I/O."""
        read = _PendingRead(update, started, client, observed_ns)
        started_worker = False
        with self._lock:
            queued = len(self._unfinished) < self.max_pending
            if queued:
                self._waiting.append(read)
                self._unfinished.add(read)
                if self._worker is None:
                    self._worker = threading.Thread(target=self._run, name=THREAD_NAME, daemon=True)
                    self._worker.start()
                    started_worker = True
        if started_worker:
            _with_pending_reads.add(self)
            atexit.unregister(drain_all)
            atexit.register(drain_all)
        if not queued:
            self.emitted_at_once += 1
            read.done = True
            self._emit(read, None)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait at most ``timeout`` seconds (``DRAIN_TIMEOUT_SECONDS`` when ``None``) for the pending reads, then
        emit what is left with observed timing. ``True`` when every pending read finished in time."""
        deadline = monotonic() + max(DRAIN_TIMEOUT_SECONDS if timeout is None else timeout, 0.0)
        with self._lock:
            while self._unfinished and self._finished.wait(max(deadline - monotonic(), 0.0)):
                pass
            left = [read for read in self._unfinished if not read.done]
            for read in left:
                read.done = True
            self._unfinished.clear()
            self._waiting.clear()
        for read in sorted(left, key=lambda read: read.observed_ns):
            self._emit(read, None)
        return not left

    def _run(self) -> None:
        """Work through the waiting reads, then end: the thread lives only while reads wait."""
        while True:
            with self._lock:
                if not self._waiting:
                    self._worker = None
                    return
                read = self._waiting.popleft()
            end_ns = self._read(read)
            with self._lock:
                if read.done:
                    continue
                read.done = True
                self._unfinished.discard(read)
                self._finished.notify_all()
            self._emit(read, end_ns)

    def _read(self, read: _PendingRead) -> int | None:
        update_id = str(read.update["update_id"])
        try:
            return read_end(read.client, read.update.get("pipeline_id"), update_id, self.read_timeout)
        except Exception:  # the event log is a better clock, not a requirement
            _logger.debug("reading the end of pipeline update %s failed", update_id, exc_info=True)
            return None

    def _emit(self, read: _PendingRead, end_ns: int | None) -> None:
        try:
            emit_update(self._tracker, read.update, read.started, end_ns, read.observed_ns)
        except Exception:
            self._tracker.log_once("databricks.pipelines.update span")


def drain_all(timeout: float | None = None) -> bool:
    """Drain every tracker's pending reads within ``timeout`` seconds in total (``DRAIN_TIMEOUT_SECONDS`` when
    ``None``): at exit, on a provider's flush."""
    deadline = monotonic() + max(DRAIN_TIMEOUT_SECONDS if timeout is None else timeout, 0.0)
    drained = True
    for reads in list(_with_pending_reads):
        if len(reads):
            drained = reads.drain(deadline - monotonic()) and drained
    return drained
