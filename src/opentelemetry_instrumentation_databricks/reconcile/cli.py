"""``databricks-otel-reconcile``: run the reconciler once, report estimate accuracy, or report billed cost by job.

::

    databricks-otel-reconcile run --state reconcile.sqlite --records /mnt/otel/span-records [--discount 0.8] [--json]
    databricks-otel-reconcile accuracy --since 7d --state reconcile.sqlite --records ... [--json]
    databricks-otel-reconcile report --by dagster_job_name|dagster_asset_key|warehouse|compute_type|TAG --since 7d
        [--records /mnt/otel/span-records] [--discount 0.8] [--json|--csv]

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
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from .configurator import SPAN_RECORD_DIR
from .source import SystemTablesUnavailable

_logger = logging.getLogger(__name__)


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if days < 0:
        raise argparse.ArgumentTypeError(f"{days} would read from the future: give 0 or more days")
    return days


def _discount(text: str) -> float:
    from .wiring import parse_discount

    try:
        return parse_discount(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _existing_file(text: str) -> str:
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"no state store at {text!r}: give the --state that `run` wrote")
    return text


def _existing_directory(text: str) -> str:
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(
            f"no directory {text!r}: give the directory the SpanIdRecorder writes (--records or {SPAN_RECORD_DIR})"
        )
    return text


def _records_option(command: argparse.ArgumentParser, help_text: str, *, required: bool = False) -> None:
    """``--records``, defaulting to ``OTEL_INSTRUMENTATION_DATABRICKS_SPAN_RECORD_DIR`` (where the recorder writes)."""
    default = os.environ.get(SPAN_RECORD_DIR) or None
    command.add_argument(
        "--records",
        type=_existing_directory,
        default=default,
        required=required and default is None,
        help=f"{help_text} (default {SPAN_RECORD_DIR})",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="databricks-otel-reconcile", description=__doc__.split("\n\n")[0].replace("``", "")
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="put billed cost that arrived since the last run into the traces")
    run.add_argument("--state", required=True, help="the state store (SQLite file; created on the first run)")
    _records_option(run, "directory of span-time id records (SpanIdRecorder)")
    _billing_connection(run)
    run.add_argument(
        "--lookback-days", type=_days, default=30, help="days of billing to read on the first run (default 30)"
    )
    run.add_argument("--json", action="store_true", help="machine-readable output")
    accuracy = commands.add_parser("accuracy", help="estimate vs billed per execution method")
    accuracy.add_argument("--since", required=True, help="7d, 24h, or an ISO date / date-time (UTC)")
    accuracy.add_argument("--state", required=True, type=_existing_file, help="the state store `run` keeps")
    _records_option(accuracy, "directory of span-time id records", required=True)
    accuracy.add_argument("--json", action="store_true", help="machine-readable output")
    report = commands.add_parser("report", help="billed cost by Dagster job, asset, warehouse, compute type or tag")
    report.add_argument(
        "--by",
        required=True,
        type=_dimension,
        help="dagster_job_name, dagster_asset_key, warehouse, compute_type, or any tag key (e.g. team)",
    )
    report.add_argument("--since", required=True, help="7d, 24h, or an ISO date / date-time (UTC)")
    _records_option(
        report, "directory of span-time id records: job runs and pipeline updates are attributed as `run` does"
    )
    _billing_connection(report)
    formats = report.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help="machine-readable output")
    formats.add_argument("--csv", action="store_true", help="one CSV line per value, for spreadsheets")
    return parser


def _billing_connection(command: argparse.ArgumentParser) -> None:
    command.add_argument("--host", help="workspace URL (default DATABRICKS_HOST)")
    command.add_argument("--http-path", help="the billing warehouse's HTTP path (default DATABRICKS_HTTP_PATH)")
    command.add_argument("--warehouse-id", help="or its id (default DATABRICKS_WAREHOUSE_ID)")
    command.add_argument("--token", help="prefer DATABRICKS_TOKEN: arguments show in process lists")
    command.add_argument(
        "--discount", type=_discount, default=1.0, help="factor on list price in (0, 1] (0.8 = 20%% off; default 1)"
    )


def _dimension(text: str) -> str:
    from .report import dimension

    try:
        return dimension(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for chatty in ("databricks.sql", "databricks.sdk", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.command == "accuracy":
        return _accuracy(parser, arguments)
    if arguments.command == "report":
        return _report(parser, arguments)
    from .reconciler import Reconciler
    from .wiring import BillingWarehouseUnreachable

    reconciler = Reconciler.from_environment(
        state_path=arguments.state,
        records_directory=arguments.records,
        host=arguments.host,
        http_path=arguments.http_path,
        warehouse_id=arguments.warehouse_id,
        token=arguments.token,
        discount=arguments.discount,
        lookback_days=arguments.lookback_days,
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
    except BillingWarehouseUnreachable as error:
        _logger.debug("billing connection failed", exc_info=True)
        print(f"databricks-otel-reconcile: {error}; the watermark is kept", file=sys.stderr)
        return 1
    except Exception as error:
        _logger.exception("reconciliation stopped; the watermark is kept and the next run continues")
        print(f"databricks-otel-reconcile: {error}", file=sys.stderr)
        return 1
    finally:
        reconciler.source.close()
        if reconciler.meter_provider is not None:
            reconciler.meter_provider.shutdown()
        reconciler.exporter.shutdown()
        reconciler.state.close()
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
    ]
    if result.comparison():
        lines.append(f"attributed_cost         {result.comparison()}")
    lines.append(f"watermark               {result.watermark}")
    return "\n".join(lines)


def _since(parser: argparse.ArgumentParser, text: str) -> Any:
    """``--since`` of ``accuracy`` and ``report`` as a UTC date-time; a usage error naming the forms otherwise."""
    from .report import parse_since

    try:
        return parse_since(text, time.time())
    except ValueError as error:
        parser.error(str(error))


def _accuracy(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> int:
    from .accuracy import format_table, load_report, to_json
    from .state import StateStore

    since = _since(parser, arguments.since)

    def progress(count: int) -> None:
        print(f"... {count:,} span records read", file=sys.stderr)

    state = StateStore(arguments.state)
    try:
        units = state.units()
    finally:
        state.close()
    report = load_report(arguments.records, units, since, progress)
    print(to_json(report) if arguments.json else format_table(report))
    return 0


def _report(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> int:
    from .report import billed_report, format_table, to_csv, to_json
    from .source import SqlBillingSource
    from .wiring import BillingWarehouseUnreachable, connection_factory

    since = _since(parser, arguments.since)
    factory = connection_factory(arguments.host, arguments.http_path, arguments.warehouse_id, arguments.token)
    source = SqlBillingSource(factory, discount=arguments.discount)
    try:
        report = billed_report(
            source,
            arguments.by,
            since,
            progress=lambda line: print(line, file=sys.stderr),
            records_directory=arguments.records,
        )
    except SystemTablesUnavailable as error:
        print(f"databricks-otel-reconcile: {error}", file=sys.stderr)
        return 2
    except BillingWarehouseUnreachable as error:
        _logger.debug("billing connection failed", exc_info=True)
        print(f"databricks-otel-reconcile: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        _logger.debug("report failed", exc_info=True)
        print(f"databricks-otel-reconcile: the report stopped: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        source.close()
    print(f"... done in {report.seconds:.1f} s", file=sys.stderr)
    if arguments.json:
        print(to_json(report))
    elif arguments.csv:
        print(to_csv(report), end="")
    else:
        print(format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
