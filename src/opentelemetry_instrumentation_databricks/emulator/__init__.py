"""Deprecated location of the emulator: it is now the top-level package :mod:`databricks_emulator`.

This alias is kept for one release and warns on import; ``from databricks_emulator import Emulator`` replaces
``from opentelemetry_instrumentation_databricks.emulator import Emulator``.
"""

from __future__ import annotations

import warnings

warnings.warn(
    "opentelemetry_instrumentation_databricks.emulator moved to the databricks_emulator package; "
    "import databricks_emulator instead (this alias goes away in the next release)",
    DeprecationWarning,
    stacklevel=2,
)

from databricks_emulator import DEFAULT_TOKEN, ApiError, Clock, Emulator, Fault  # noqa: E402

__all__ = ["DEFAULT_TOKEN", "ApiError", "Clock", "Emulator", "Fault"]
