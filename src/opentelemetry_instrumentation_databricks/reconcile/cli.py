"""``databricks-otel-reconcile``: run the reconciler once, or report estimate accuracy.

::

    databricks-otel-reconcile run --state reconcile.sqlite --records /mnt/otel/span-records [--discount 0.8] [--json]
    databricks-otel-reconcile accuracy --since 2026-11-01 --state reconcile.sqlite --records ... [--json]

Billing connection (the SQL connector; ``pip install databricks-sql-connector``): ``--host``/``DATABRICKS_HOST``,
``--http-path``/``DATABRICKS_HTTP_PATH`` (or ``--warehouse-id``/``DATABRICKS_WAREHOUSE_ID``),
``--token``/``DATABRICKS_TOKEN``. Spans go to the exporter ``OTEL_TRACES_EXPORTER`` names (``otlp``, the default,
configured by ``OTEL_EXPORTER_OTLP_*``; ``console``; ``none``); metrics to ``OTEL_METRICS_EXPORTER`` likewise.
Exit status: 0 done, 2 system tables unavailable (the message names the grant), 1 any other failure (the
watermark is kept; the next run continues).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import sys
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from .source import SqlBillingSource, SystemTablesUnavailable

_logger = logging.getLogger(__name__)


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

        return sql.connect(**arguments)

    return connect


def _span_exporter() -> Any:
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


def _meter_provider(resource: Any = None) -> Any:
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


def build_reconciler(
    *,
    state_path: str,
    records_directory: str | None = None,
    host: str | None = None,
    http_path: str | None = None,
    warehouse_id: str | None = None,
    token: str | None = None,
    discount: float = 1.0,
    lookback_days: int = 30,
    exporter: Any = None,
    meter_provider: Any = None,
) -> Any:
    from .reconciler import Reconciler, reconciler_resource
    from .state import StateStore

    state = StateStore(state_path)
    source = SqlBillingSource(connection_factory(host, http_path, warehouse_id, token), discount=discount)
    return Reconciler(
        source,
        exporter if exporter is not None else _span_exporter(),
        state,
        records_directory=records_directory,
        meter_provider=meter_provider if meter_provider is not None else _meter_provider(reconciler_resource(state)),
        lookback_days=lookback_days,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="databricks-otel-reconcile", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="put billed cost that arrived since the last run into the traces")
    run.add_argument("--state", required=True, help="the state store (SQLite file)")
    run.add_argument("--records", help="directory of span-time id records (SpanIdRecorder)")
    run.add_argument("--host")
    run.add_argument("--http-path")
    run.add_argument("--warehouse-id")
    run.add_argument("--token", help="prefer DATABRICKS_TOKEN: arguments show in process lists")
    run.add_argument("--discount", type=float, default=1.0, help="factor on list price (0.8 = 20%% off)")
    run.add_argument("--lookback-days", type=int, default=30)
    run.add_argument("--json", action="store_true", help="machine-readable output")
    accuracy = commands.add_parser("accuracy", help="estimate vs billed per execution method")
    accuracy.add_argument("--since", required=True, type=dt.date.fromisoformat, help="YYYY-MM-DD (UTC)")
    accuracy.add_argument("--state", required=True)
    accuracy.add_argument("--records", required=True)
    accuracy.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    arguments = _parser().parse_args(argv)
    if arguments.command == "accuracy":
        return _accuracy(arguments)
    from .reconciler import reconciler_resource
    from .state import StateStore

    meter_provider = _meter_provider(reconciler_resource(StateStore(arguments.state)))
    reconciler = build_reconciler(
        state_path=arguments.state,
        records_directory=arguments.records,
        host=arguments.host,
        http_path=arguments.http_path,
        warehouse_id=arguments.warehouse_id,
        token=arguments.token,
        discount=arguments.discount,
        lookback_days=arguments.lookback_days,
        meter_provider=meter_provider,
    )
    print(
        "... reading billing ingested since the watermark (one SQL statement per slice of usage days)", file=sys.stderr
    )
    started = time.monotonic()
    try:
        result = reconciler.run()
    except SystemTablesUnavailable as error:
        print(f"databricks-otel-reconcile: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        _logger.exception("reconciliation stopped; the watermark is kept and the next run continues")
        print(f"databricks-otel-reconcile: {error}", file=sys.stderr)
        return 1
    finally:
        reconciler.source.close()
        if meter_provider is not None:
            meter_provider.shutdown()
        reconciler.exporter.shutdown()
    seconds = time.monotonic() - started
    print(f"... done in {seconds:.1f} s", file=sys.stderr)
    if arguments.json:
        print(json.dumps({**dataclasses.asdict(result), "seconds": round(seconds, 3)}))
    else:
        print(result_table(result))
    return 0


def result_table(result: Any) -> str:
    """A :class:`~.reconciler.ReconcileResult` for people: what was emitted, billed dollars, what was skipped."""
    parents = ", ".join(f"{source} {count}" for source, count in sorted(result.parents.items())) or "-"
    lines = [
        f"billing spans emitted   {result.emitted}  ({result.restatements} corrections, {result.recovered} recovered)",
        f"{'':24}{'DBU':>12}  {'USD':>12}",
        f"{'attributed':24}{result.attributed_dbu:12.4f}  {result.attributed_usd:12.4f}",
        f"{'unattributed':24}{result.unattributed_dbu:12.4f}  {result.unattributed_usd:12.4f}",
        f"parents                 {parents}",
        f"skipped rows            {result.malformed_rows} malformed, {result.unpriced_rows} unpriced",
        f"watermark               {result.watermark}",
    ]
    return "\n".join(lines)


def _accuracy(arguments: argparse.Namespace) -> int:
    from .accuracy import format_table, load_report, to_json
    from .state import StateStore

    def progress(count: int) -> None:
        print(f"... {count:,} span records read", file=sys.stderr)

    report = load_report(arguments.records, StateStore(arguments.state).units(), arguments.since, progress)
    print(to_json(report) if arguments.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
