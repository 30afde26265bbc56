"""``databricks-otel-reconcile`` in a child process, as a scheduler runs it: the ``DATABRICKS_*`` variables point at
the emulator's warehouse over plain http, the real OTLP exporters at a local endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from databricks_emulator import Emulator

COMMAND = str(Path(sys.executable).with_name("databricks-otel-reconcile"))


def run_reconcile(
    ws: Emulator, endpoint: str, *arguments: str, metrics: bool = False, **environment: str
) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("OTEL_", "DATABRICKS_"))}
    environ.update(
        DATABRICKS_HOST=ws.host,
        DATABRICKS_HTTP_PATH=ws.http_path,
        DATABRICKS_TOKEN=ws.token,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_METRICS_EXPORTER="otlp" if metrics else "none",
    )
    environ.update(environment)
    return subprocess.run([COMMAND, *arguments], env=environ, capture_output=True, text=True, timeout=120)
