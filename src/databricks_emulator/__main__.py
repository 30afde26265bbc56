"""``python -m databricks_emulator``: serve an emulated workspace until stopped.

Prints how to reach it (host, token, http_path, a ``databricks.sql.connect`` call for Thrift and for SEA, and
the ``DATABRICKS_*`` exports for the SDK), then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .app import DEFAULT_TOKEN, Emulator
from .clock import Clock
from .workspace import WAREHOUSE_SIZES


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 0 and 65535")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m databricks_emulator",
        description="Serve a local emulated Databricks workspace (SQL warehouse, REST APIs) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=_port, default=0, help="port to listen on (default: any free port)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the personal access token clients must send")
    parser.add_argument(
        "--warehouse-size", default="Small", choices=WAREHOUSE_SIZES, help="size of the default SQL warehouse"
    )
    parser.add_argument("--frozen", action="store_true", help="freeze the emulator clock (it moves only when advanced)")
    return parser


def _call(function: str, kwargs: dict[str, Any]) -> str:
    arguments = "".join(f"    {key}={value!r},\n" for key, value in kwargs.items())
    return f"{function}(\n{arguments})"


def describe(workspace: Emulator) -> str:
    """The connection instructions printed at start-up."""
    thrift = _call("sql.connect", workspace.connect_kwargs())
    sea = _call("sql.connect", workspace.connect_kwargs(use_sea=True))
    clock = "frozen (advance it from code)" if workspace.clock.frozen else "following the wall clock"
    return "\n".join(
        [
            f"Databricks emulator listening on {workspace.host}",
            f"  host:         {workspace.host}",
            f"  token:        {workspace.token}",
            f"  http_path:    {workspace.http_path}",
            f"  warehouse id: {workspace.warehouse_id} ({workspace.warehouse.cluster_size})",
            f"  clock:        {clock}",
            "",
            "SDK and CLI:",
            f"  export DATABRICKS_HOST={workspace.host}",
            f"  export DATABRICKS_TOKEN={workspace.token}",
            "",
            "SQL connector, Thrift (the default protocol):",
            "  from databricks import sql",
            "  " + thrift.replace("\n", "\n  "),
            "",
            "SQL connector, Statement Execution API:",
            "  " + sea.replace("\n", "\n  "),
            "",
            "Press Ctrl-C to stop.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    clock = Clock(frozen=options.frozen)
    with Emulator(port=options.port, token=options.token, warehouse_size=options.warehouse_size, clock=clock) as ws:
        print(describe(ws), flush=True)
        while not stop.wait(0.5):
            pass
    print("Databricks emulator stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
