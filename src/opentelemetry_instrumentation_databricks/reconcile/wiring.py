"""Wiring from the environment to a running reconciler: the billing warehouse, its connections, the exporters.

Used by the ``databricks-otel-reconcile`` CLI, the ``databricks`` configurator and
:meth:`~.reconciler.Reconciler.from_environment`, so none of them imports another. The billing connection is the SQL
connector's: ``DATABRICKS_HOST``, ``DATABRICKS_HTTP_PATH`` (or ``DATABRICKS_WAREHOUSE_ID``) and ``DATABRICKS_TOKEN``;
a plain ``http://host:port`` host is a local server such as the emulator. Spans go to the exporter that
``OTEL_TRACES_EXPORTER`` names (``otlp``, the default; ``console``; ``none``), metrics likewise with
``OTEL_METRICS_EXPORTER``.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

from ..config import finite_number

MAX_DISCOUNT = 1.0
"""The largest price factor the CLI and the configurator accept: a factor above 1 would bill above list price."""
RETRY_BUDGET_SECONDS = 120.0
"""How long one billing connection may retry an unreachable warehouse (the connector's own default is 900 s)."""
RETRY_ATTEMPTS = 5


class BillingWarehouseUnreachable(ConnectionError):
    """No session could be opened on the billing warehouse: it does not exist, is not running, or refuses the token."""

    def __init__(self, host: str, http_path: str, error: BaseException) -> None:
        super().__init__(
            f"cannot open a session on the SQL warehouse {http_path} at {host} ({type(error).__name__}: {error}). "
            "Check that the warehouse exists and runs (--warehouse-id / --http-path, DATABRICKS_WAREHOUSE_ID / "
            "DATABRICKS_HTTP_PATH) and that the token may use it"
        )


def billing_warehouse(
    host: str | None,
    http_path: str | None,
    warehouse_id: str | None,
    token: str | None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, str, str | None] | None:
    """``(host, http_path, token)`` from the arguments or ``DATABRICKS_*`` variables; ``None`` when incomplete."""
    environ = os.environ if environ is None else environ
    host = host or environ.get("DATABRICKS_HOST")
    warehouse_id = warehouse_id or environ.get("DATABRICKS_WAREHOUSE_ID")
    http_path = (
        http_path
        or environ.get("DATABRICKS_HTTP_PATH")
        or (f"/sql/1.0/warehouses/{warehouse_id}" if warehouse_id else None)
    )
    if not host or not http_path:
        return None
    return host, http_path, token or environ.get("DATABRICKS_TOKEN")


def connect_arguments(host: str, http_path: str, token: str | None) -> dict[str, Any]:
    """``databricks.sql.connect`` keywords for ``host``: a workspace name or URL, or a plain ``http://host:port``
    server such as the emulator (reached through the connector's ``_connection_uri``)."""
    url = urllib.parse.urlsplit(host if "://" in host else f"https://{host}")
    arguments: dict[str, Any] = {
        "server_hostname": url.hostname or host,
        "http_path": http_path,
        "access_token": token,
        "enable_telemetry": False,
        "_retry_stop_after_attempts_duration": RETRY_BUDGET_SECONDS,
        "_retry_stop_after_attempts_count": RETRY_ATTEMPTS,
    }
    if url.scheme == "http":
        arguments["_connection_uri"] = f"http://{url.netloc}/{http_path.lstrip('/')}"
    elif url.port is not None:
        arguments["_port"] = url.port
    return arguments


def connection_factory(
    host: str | None,
    http_path: str | None,
    warehouse_id: str | None,
    token: str | None,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """A zero-argument factory of SQL connector connections, from the arguments or ``DATABRICKS_*`` variables."""
    found = billing_warehouse(host, http_path, warehouse_id, token, environ)
    if found is None:
        raise SystemExit(
            "databricks-otel-reconcile needs a SQL warehouse: --host/DATABRICKS_HOST and "
            "--http-path/DATABRICKS_HTTP_PATH (or --warehouse-id/DATABRICKS_WAREHOUSE_ID), and a token"
        )
    arguments = connect_arguments(*found)

    def connect() -> Any:
        from databricks import sql

        try:
            return sql.connect(**arguments)
        except Exception as error:
            raise BillingWarehouseUnreachable(found[0], found[1], error) from error

    return connect


def build_span_exporter() -> Any:
    name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")[0].strip()
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "none":
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        return InMemorySpanExporter()
    if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf").startswith("grpc"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()


def build_meter_provider(resource: Any = None) -> Any:
    name = os.environ.get("OTEL_METRICS_EXPORTER", "otlp").split(",")[0].strip()
    if name == "none":
        return None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

    if name == "console":
        exporter: Any = ConsoleMetricExporter()
    elif os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf").startswith("grpc"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter()
    readers = [PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)]
    return MeterProvider(metric_readers=readers, **({"resource": resource} if resource is not None else {}))


def parse_discount(value: Any) -> float:
    """A discount factor on list price in (0, ``MAX_DISCOUNT``]; ``ValueError`` saying what is expected otherwise."""
    discount = finite_number(value, "a factor on list price, e.g. 0.8 for 20% off")
    if not 0.0 < discount <= MAX_DISCOUNT:
        raise ValueError(
            f"a factor on list price between 0 (exclusive) and {MAX_DISCOUNT:g}, e.g. 0.8 for 20% off; "
            f"{discount:g} would bill {discount:g}x the list price"
        )
    return discount
