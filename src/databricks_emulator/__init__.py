"""A local Databricks workspace for tests, examples and offline use.

Run it standalone with ``python -m databricks_emulator``, or in-process::

    from databricks_emulator import Emulator

    with Emulator() as ws:
        with ws.sql_connect() as conn, conn.cursor() as cursor:
            cursor.execute("SELECT 1 AS one")

The instrumentation never imports this package.
"""

from .app import DEFAULT_TOKEN, Emulator
from .clock import Clock
from .http import ApiError, Fault

__all__ = ["DEFAULT_TOKEN", "ApiError", "Clock", "Emulator", "Fault"]
