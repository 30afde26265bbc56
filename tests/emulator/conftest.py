"""Fixtures for the emulator's own tests: a workspace per module, one on a frozen clock, real connector sessions."""

from __future__ import annotations

import os

import pytest

from databricks_emulator import Clock, Emulator


@pytest.fixture(autouse=True)
def _no_databricks_credentials(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("DATABRICKS_", "ARM_")) or name == "GOOGLE_CREDENTIALS":
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def ws():
    """An emulated workspace on the wall clock."""
    with Emulator() as workspace:
        yield workspace


@pytest.fixture(scope="module")
def frozen_ws():
    """An emulated workspace whose clock moves only when a test advances it."""
    with Emulator(clock=Clock(frozen=True)) as workspace:
        yield workspace


@pytest.fixture(params=["thrift", "sea"])
def protocol(request) -> str:
    return request.param


def _connector(workspace, protocol):
    connections = []

    def connect(**kwargs):
        connection = workspace.sql_connect(use_sea=protocol == "sea", **kwargs)
        connections.append(connection)
        return connection

    return connect, connections


@pytest.fixture
def connect(ws, protocol):
    """``connect(**kwargs)``: a real connector connection to ``ws`` over the test's protocol."""
    connect, connections = _connector(ws, protocol)
    yield connect
    for connection in connections:
        connection.close()


@pytest.fixture
def frozen_connect(frozen_ws, protocol):
    """``frozen_connect(**kwargs)``: like ``connect``, to the frozen-clock workspace."""
    connect, connections = _connector(frozen_ws, protocol)
    yield connect
    for connection in connections:
        connection.close()
