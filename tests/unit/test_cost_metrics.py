"""Durations recorded off the hot path are all there at the next collection, and none is lost when many wait."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    PeriodicExportingMetricReader,
)

from opentelemetry_instrumentation_databricks.cost.metrics import MAX_PENDING_DURATIONS, CostMetrics

ATTRIBUTES = {"db.system.name": "databricks", "db.operation.name": "SELECT"}


class KeepingExporter(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.exported: list = []

    def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> MetricExportResult:
        self.exported.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        pass


def _points(reader: InMemoryMetricReader, name: str) -> list:
    data = reader.get_metrics_data()
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def test_every_duration_recorded_before_a_collection_is_in_it():
    reader = InMemoryMetricReader()
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    for seconds in (0.002, 0.2, 2.0):
        metrics.record(seconds, 0.1, 0.07, ATTRIBUTES)
    (histogram,) = _points(reader, "db.client.operation.duration")
    assert histogram.count == 3 and abs(histogram.sum - 2.202) < 1e-9
    metrics.record(1.0, 0.1, 0.07, ATTRIBUTES)
    (histogram,) = _points(reader, "db.client.operation.duration")
    assert histogram.count == 4
    (dbu,) = _points(reader, "databricks.dbu.estimated")
    assert abs(dbu.value - 0.4) < 1e-9


def test_past_a_full_buffer_each_caller_records_its_own_duration_and_none_is_lost():
    reader = InMemoryMetricReader()
    metrics = CostMetrics(MeterProvider(metric_readers=[reader]).get_meter("test"))
    for _ in range(MAX_PENDING_DURATIONS * 2 + 5):
        metrics.record(0.01, 0.0, 0.0, ATTRIBUTES)
    assert len(metrics._pending) == MAX_PENDING_DURATIONS
    (histogram,) = _points(reader, "db.client.operation.duration")
    assert histogram.count == MAX_PENDING_DURATIONS * 2 + 5


def test_shutting_the_meter_provider_down_exports_the_buffered_durations():
    exporter = KeepingExporter()
    provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)])
    metrics = CostMetrics(provider.get_meter("test"))
    metrics.record(0.5, 0.0, 0.0, ATTRIBUTES)
    provider.shutdown()
    counts = [
        point.count
        for data in exporter.exported
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "db.client.operation.duration"
        for point in metric.data.data_points
    ]
    assert counts == [1]
