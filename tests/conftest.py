"""Shared fixtures: clean Databricks credentials out of the environment, in-memory telemetry, the instrumentor."""

from __future__ import annotations

import os

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_CREDENTIAL_PREFIXES = ("DATABRICKS_", "ARM_", "OTEL_INSTRUMENTATION_DATABRICKS_", "DAGSTER_")

for _name in list(os.environ):
    if _name.startswith(_CREDENTIAL_PREFIXES) or _name == "GOOGLE_CREDENTIALS":
        del os.environ[_name]


class Telemetry:
    """A tracer and meter provider whose output the test can read."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metric_reader])

    def spans(self):
        return self.exporter.get_finished_spans()

    def metric_points(self, name: str) -> list:
        data = self.metric_reader.get_metrics_data()
        points = []
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


@pytest.fixture
def telemetry():
    return Telemetry()


@pytest.fixture
def instrument(telemetry):
    """``instrument(**options)`` instruments with the test's providers; the patches come off after the test."""
    from opentelemetry_instrumentation_databricks import DatabricksInstrumentor

    instrumentor = DatabricksInstrumentor()

    def _instrument(**options):
        instrumentor.instrument(
            tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider, **options
        )
        return telemetry

    yield _instrument
    instrumentor.uninstrument()


@pytest.fixture(scope="session")
def emulator():
    """One emulated workspace for the whole session (tests use their own tables and tags)."""
    from databricks_emulator import Emulator

    with Emulator() as workspace:
        yield workspace
