"""Fixtures for the robustness tests: a private emulator, bare-vs-instrumented runs, thread and request counts."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from databricks_emulator import Clock, Emulator
from opentelemetry_instrumentation_databricks import DatabricksInstrumentor

EMULATOR_THREAD_NAMES = ("databricks-emulator", "process_request_thread", "emulator-sql")
LIBRARY_THREAD_NAMES = ("_flush_worker",)
"""The connector's telemetry flusher: one per process while any connection is open, with or without us."""


@dataclass(frozen=True)
class Outcome:
    """What a user's call gave back: its value, or its exception's type and message; and what it cost."""

    value: Any
    error_type: type[BaseException] | None
    error_message: str | None
    requests: int
    elapsed: float

    @property
    def behaviour(self) -> tuple[Any, type[BaseException] | None, str | None]:
        return self.value, self.error_type, self.error_message


def run_call(workspace: Emulator, call: Callable[[], Any], port: int | None = None) -> Outcome:
    """Run the user's call against ``workspace``; the server's port (``port`` once it has stopped) and warehouse id
    in a message are masked, so outcomes against two servers compare."""
    masks = {str(port or workspace.port): "<port>", workspace.warehouse_id: "<warehouse>"}
    before = workspace._app.requests_served
    started = time.perf_counter()
    try:
        value, error_type, message = call(), None, None
    except Exception as exc:  # the point is to compare whatever comes out
        value, error_type, message = None, type(exc), str(exc)
        for text, mask in masks.items():
            message = message.replace(text, mask)
    elapsed = time.perf_counter() - started
    return Outcome(value, error_type, message, workspace._app.requests_served - before, elapsed)


def threads_of_our_process() -> set[threading.Thread]:
    """Live threads, except the emulator's own server threads (the emulator stands in for a remote server)."""
    return {
        thread
        for thread in threading.enumerate()
        if not any(name in thread.name for name in (*EMULATOR_THREAD_NAMES, *LIBRARY_THREAD_NAMES))
    }


def wait_for_threads_to_end(threads: set[threading.Thread], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


@contextlib.contextmanager
def instrumented(telemetry: Any, **options: Any) -> Iterator[Any]:
    instrumentor = DatabricksInstrumentor()
    instrumentor.instrument(
        tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, **options
    )
    try:
        yield telemetry
    finally:
        instrumentor.uninstrument()


@pytest.fixture(scope="module")
def workspace() -> Iterator[Emulator]:
    """An emulator of this module's own, on a frozen clock (retry sleeps of the SDK move it, not the test)."""
    with Emulator(clock=Clock(frozen=True)) as running:
        running.sql_connect().close()
        running.workspace_client().current_user.me()
        yield running


@pytest.fixture
def faults(workspace: Emulator) -> Iterator[Any]:
    workspace.faults.clear()
    yield workspace.faults
    workspace.faults.clear()


@pytest.fixture
def no_thread_leaks(workspace: Emulator) -> Iterator[None]:
    """Fails the test when threads it started (other than the emulator's) are still alive at its end. The libraries'
    own process-wide threads (the connector's telemetry flusher) are started first, by ``workspace``."""
    before = threads_of_our_process()
    yield
    new = threads_of_our_process() - before
    wait_for_threads_to_end(new)
    leaked = [thread.name for thread in new if thread.is_alive()]
    assert not leaked, f"threads left running: {leaked}"
