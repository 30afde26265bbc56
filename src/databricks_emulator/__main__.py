"""``python -m databricks_emulator``: serve an emulated workspace until stopped, or advance a running one's clock.

Prints how to reach it (host, token, http_path, a ``databricks.sql.connect`` call for Thrift and for SEA, and
the ``DATABRICKS_*`` exports for the SDK), then serves until Ctrl-C or SIGTERM::

    python -m databricks_emulator --port 8765 --speed 60     # simulated time 60x faster than the wall clock
    python -m databricks_emulator --port 8765 --frozen       # time moves only when advanced
    python -m databricks_emulator advance 3600 --host http://127.0.0.1:8765
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

from .app import DEFAULT_TOKEN, Emulator
from .clock import Clock, checked_speed
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
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--frozen", action="store_true", help="freeze the emulator clock (it moves only when advanced)")
    pace.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="simulated seconds per wall-clock second (default 1; 60 makes an hour-long run take a minute)",
    )
    return parser


def _speed(text: str) -> float:
    try:
        return checked_speed(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed: give a finite number > 0, e.g. 60") from None


def _advance_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m databricks_emulator advance",
        description="Move a running emulator's clock forward (its admin endpoint; not a Databricks API).",
    )
    parser.add_argument("seconds", type=float, help="simulated seconds to advance, >= 0")
    parser.add_argument("--host", required=True, help="the emulator's URL, as printed at start-up")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="its token (default: the emulator's default)")
    return parser


def advance(argv: Sequence[str]) -> int:
    """``advance SECONDS --host URL``: POST to the admin endpoint and print the new simulated time."""
    from .admin import ADVANCE_PATH

    options = _advance_parser().parse_args(argv)
    request = urllib.request.Request(
        options.host.rstrip("/") + ADVANCE_PATH,
        data=json.dumps({"seconds": options.seconds}).encode(),
        headers={"Authorization": f"Bearer {options.token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            state = json.loads(response.read())
    except urllib.error.HTTPError as error:
        print(f"advance: the emulator refused: {error.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"advance: no emulator answers at {options.host} ({error})", file=sys.stderr)
        return 1
    print(f"clock advanced by {options.seconds:g} s; simulated time now {state['time']:.3f}")
    return 0


def _call(function: str, kwargs: dict[str, Any]) -> str:
    arguments = "".join(f"    {key}={value!r},\n" for key, value in kwargs.items())
    return f"{function}(\n{arguments})"


def describe(workspace: Emulator) -> str:
    """The connection instructions printed at start-up."""
    thrift = _call("sql.connect", workspace.connect_kwargs())
    sea = _call("sql.connect", workspace.connect_kwargs(use_sea=True))
    if workspace.clock.frozen:
        clock = "frozen (advance it: python -m databricks_emulator advance SECONDS --host HOST)"
    elif workspace.clock.speed != 1:
        clock = f"{workspace.clock.speed:g}x the wall clock"
    else:
        clock = "following the wall clock"
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
            "SQL connector, Thrift (the default protocol). A plain-http server needs the connector's private",
            "_connection_uri (Thrift) or _port (SEA): its public keywords always build an https:// URL; the",
            "_retry_* keywords only keep a stopped emulator from being retried for minutes:",
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
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["advance"]:
        return advance(argv[1:])
    options = _parser().parse_args(argv)
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    clock = Clock(frozen=options.frozen, speed=options.speed)
    with Emulator(port=options.port, token=options.token, warehouse_size=options.warehouse_size, clock=clock) as ws:
        print(describe(ws), flush=True)
        while not stop.wait(0.5):
            pass
    print("Databricks emulator stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
