"""A :class:`WorkspacePatches` driven without the network: ``sdk.call(method, path, ...)`` runs the wrapper around
a stand-in for the SDK's ``ApiClient.do`` that records what it was sent and answers as told."""

from __future__ import annotations

from typing import Any

import pytest

from opentelemetry_instrumentation_databricks.config import Settings
from opentelemetry_instrumentation_databricks.cost.metrics import CostMetrics
from opentelemetry_instrumentation_databricks.cost.warehouse_sizes import WarehouseSizes
from opentelemetry_instrumentation_databricks.workspace import WorkspacePatches
from opentelemetry_instrumentation_databricks.workspace.errors import status_codes_of_errors


class _Config:
    host = "https://adb-123.cloud.databricks.com"


class FakeClient:
    _cfg = _Config()


class FakeSdk:
    def __init__(self, telemetry, **options: Any) -> None:
        settings = Settings.load(options, environ={})
        tracer = telemetry.tracer_provider.get_tracer("test")
        metrics = CostMetrics(telemetry.meter_provider.get_meter("test"))
        self.patches = WorkspacePatches(tracer, metrics, settings, WarehouseSizes({}, "Small", False))
        self.patches._status_codes = status_codes_of_errors()
        self.telemetry = telemetry
        self.client = FakeClient()
        self.sent: list[dict[str, Any]] = []

    def call(self, method: str, path: str, *, response: Any = None, raises: BaseException | None = None, **kwargs):
        def original(method, path=None, url=None, query=None, headers=None, body=None, **rest):
            self.sent.append({"method": method, "path": path, "query": query, "body": body})
            if raises is not None:
                raise raises
            return response

        return self.patches._do(original, self.client, (method, path), kwargs)

    def spans(self, name: str | None = None):
        return [span for span in self.telemetry.spans() if name is None or span.name == name]


@pytest.fixture
def sdk(telemetry):
    """``sdk(**options)`` -> a :class:`FakeSdk` with those ``instrument()`` options."""
    return lambda **options: FakeSdk(telemetry, **options)
