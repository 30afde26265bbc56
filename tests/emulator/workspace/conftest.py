"""Fixtures for the emulator's workspace REST services, driven by the real ``databricks-sdk`` over HTTP."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from databricks_emulator import Clock, Emulator
from databricks_emulator.lifecycle import Timing, lifecycle


@pytest.fixture(autouse=True)
def _no_databricks_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("DATABRICKS_", "ARM_")) or name == "GOOGLE_CREDENTIALS":
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(clock=Clock(frozen=True)) as running:
        yield running


@pytest.fixture
def ws(emulator: Emulator) -> Iterator[Emulator]:
    """The module's emulator with default timing, no scripted outcomes, no faults and no auto-advance."""
    state = lifecycle(emulator.workspace)
    state.timing = Timing()
    state.outcomes.clear()
    emulator.auto_advance_on_poll = None
    emulator.faults.clear()
    yield emulator
    emulator.faults.clear()


@pytest.fixture(scope="module")
def w(emulator: Emulator):
    return emulator.workspace_client()


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything (an SDK waiter, a retry loop) sleeps for real."""

    def forbidden(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) called: tests must not wait for real")

    monkeypatch.setattr(time, "sleep", forbidden)
