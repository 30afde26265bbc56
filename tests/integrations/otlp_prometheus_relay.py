"""OTLP in, Prometheus exposition out: the part an OpenTelemetry Collector's ``prometheus`` exporter (or Prometheus'
own OTLP receiver, 2.47+) plays between a short-lived process and Prometheus.

The Debian Prometheus on these machines (2.42) has no OTLP receiver, and a cron-run CLI lives too briefly to be
scraped, so tests put this relay in between: it decodes each OTLP/HTTP metrics export of the real exporter, keeps the
latest cumulative point per series and serves them on ``/metrics``. The series identity follows the Collector:
``job`` is ``service.namespace/service.name`` (or ``service.name``), ``instance`` is ``service.instance.id``, the
point's attributes are the other labels (Prometheus scrapes with ``honor_labels: true`` to keep them). So a
process that exports under a new instance id starts a new series, exactly as it would behind a Collector. It is an
:class:`~tests.otlp_receiver.OtlpReceiver`, so trace exports are accepted (and kept) too.
"""

from __future__ import annotations

import re
from typing import Any

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from ..otlp_receiver import OtlpReceiver, attributes_of

_NOT_A_NAME = re.compile(r"[^a-zA-Z0-9_]")
SeriesKey = tuple[str, str, str, tuple[tuple[str, str], ...]]


def prometheus_name(name: str, monotonic_sum: bool) -> str:
    base = _NOT_A_NAME.sub("_", name)
    return f"{base}_total" if monotonic_sum and not base.endswith("_total") else base


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class OtlpPrometheusRelay(OtlpReceiver):
    """An OTLP/HTTP receiver (``endpoint`` is what ``OTEL_EXPORTER_OTLP_ENDPOINT`` takes) whose ``/metrics`` serves
    the latest point of every series it received; ``target`` is what Prometheus scrapes."""

    def __init__(self) -> None:
        super().__init__("http/protobuf")
        self._series: dict[SeriesKey, tuple[str, float]] = {}
        self.exports = 0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def keep(self, request: Any) -> None:
        super().keep(request)
        if not isinstance(request, metrics_service_pb2.ExportMetricsServiceRequest):
            return
        with self._lock:
            self.exports += 1
            for resource_metrics in request.resource_metrics:
                resource = attributes_of(resource_metrics.resource.attributes)
                service = str(resource.get("service.name", "unknown_service"))
                namespace = resource.get("service.namespace")
                job = f"{namespace}/{service}" if namespace else service
                instance = str(resource.get("service.instance.id", ""))
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        self._keep_metric(job, instance, metric)

    def _keep_metric(self, job: str, instance: str, metric: Any) -> None:
        kind = metric.WhichOneof("data")
        if kind not in ("sum", "gauge"):
            return
        data = getattr(metric, kind)
        counter = kind == "sum" and data.is_monotonic
        name = prometheus_name(metric.name, counter)
        for point in data.data_points:
            attributes = attributes_of(point.attributes)
            labels = tuple(sorted((_NOT_A_NAME.sub("_", key), str(value)) for key, value in attributes.items()))
            value = point.as_double if point.WhichOneof("value") == "as_double" else float(point.as_int)
            self._series[(name, job, instance, labels)] = ("counter" if counter else "gauge", value)

    def exposition(self) -> str:
        with self._lock:
            series = sorted(self._series.items())
        lines, typed = [], set()
        for (name, job, instance, labels), (kind, value) in series:
            if name not in typed:
                lines.append(f"# TYPE {name} {kind}")
                typed.add(name)
            pairs = [("job", job), ("instance", instance), *labels]
            rendered = ",".join(f'{key}="{_escape(value)}"' for key, value in pairs)
            lines.append(f"{name}{{{rendered}}} {value!r}")
        return "\n".join(lines) + "\n"


class _RelayHandler(OtlpReceiver.http_handler):
    receiver: OtlpPrometheusRelay

    def do_GET(self) -> None:
        found = self.path == "/metrics"
        body = self.receiver.exposition().encode() if found else b""
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


OtlpPrometheusRelay.http_handler = _RelayHandler
