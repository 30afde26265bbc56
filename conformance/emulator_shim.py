"""A pytest plugin that points the connector's end-to-end suite at an in-process emulator.

Loaded by :mod:`conformance.connector_e2e` with ``-p conformance.emulator_shim``. It starts an
:class:`~databricks_emulator.Emulator`, exports the ``DATABRICKS_*`` variables the suite's fixtures read, and
wraps ``databricks.sql.connect`` so that each connection reaches the local plain-HTTP server (the only thing the
suite cannot say through its own variables). It deselects the tests that need mocked retries, UC-volume
staging or streaming uploads, and writes every outcome to the JSON file named by ``EMULATOR_CONFORMANCE_REPORT``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from databricks_emulator import Emulator

EXCLUDED_MIXINS = (
    "PySQLRetryTestsMixin",
    "PySQLStagingIngestionTestSuiteMixin",
    "PySQLUCVolumeTestSuiteMixin",
    "PySQLStreamingPutTestSuiteMixin",
)
_ADDRESS_KEYS = ("server_hostname", "_connection_uri", "_port", "enable_telemetry")

_emulator: Emulator | None = None
_outcomes: dict[str, str] = {}
_excluded: list[str] = []


def _local_connect(original: Callable[..., Any]) -> Callable[..., Any]:
    def connect(*args: Any, **kwargs: Any) -> Any:
        assert _emulator is not None
        local = _emulator.connect_kwargs(use_sea=bool(kwargs.get("use_sea")))
        merged = {key: value for key, value in local.items() if key not in _ADDRESS_KEYS}
        merged.update(kwargs)
        merged.update({key: local[key] for key in _ADDRESS_KEYS if key in local})
        if "_connection_uri" not in local:
            merged.pop("_connection_uri", None)
        return original(*args, **merged)

    return connect


def pytest_configure(config: pytest.Config) -> None:
    global _emulator
    import databricks.sql

    _emulator = Emulator().start()
    os.environ.update(
        DATABRICKS_SERVER_HOSTNAME=_emulator.server_hostname,
        DATABRICKS_HTTP_PATH=_emulator.http_path,
        DATABRICKS_TOKEN=_emulator.token,
        DATABRICKS_CATALOG=_emulator.catalog,
        DATABRICKS_SCHEMA=_emulator.schema,
    )
    databricks.sql.connect = _local_connect(databricks.sql.connect)


def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.get("EMULATOR_CONFORMANCE_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as report:
            json.dump({"outcomes": _outcomes, "excluded": _excluded}, report, indent=1)
    if _emulator is not None:
        _emulator.stop()


def _defining_class(item: pytest.Item) -> str:
    function = getattr(item, "function", None)
    qualname = getattr(function, "__qualname__", "")
    return qualname.split(".", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        (dropped if _defining_class(item) in EXCLUDED_MIXINS else kept).append(item)
    _excluded.extend(item.nodeid for item in dropped)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.outcome != "passed":
        if report.outcome == "skipped" and report.when == "setup":
            _outcomes[report.nodeid] = "skipped"
        elif report.nodeid not in _outcomes or _outcomes[report.nodeid] == "passed":
            _outcomes[report.nodeid] = report.outcome
