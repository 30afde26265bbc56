"""Deprecated: ``python -m opentelemetry_instrumentation_databricks.emulator`` runs ``databricks_emulator``."""

from __future__ import annotations

import runpy

from . import Emulator  # noqa: F401  (the import warns once about the move)

runpy.run_module("databricks_emulator", run_name="__main__", alter_sys=True)
