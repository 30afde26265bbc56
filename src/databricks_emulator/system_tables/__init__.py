"""The emulated workspace's system tables: ``system.billing``, ``.query``, ``.lakeflow`` and ``.compute``.

Queried with Databricks SQL like any table, through either wire protocol or the Statement Execution API; derived
from what ran on the emulator (:mod:`.usage_model` is the "true" billing model). ``ws.billing``
(:class:`.billing.Billing`) sets arrival delays, prices and policies and scripts corrections.
"""

from __future__ import annotations

from .billing import Billing, UsageRow
from .catalog import SystemTables, register, system_tables

__all__ = ["Billing", "SystemTables", "UsageRow", "register", "system_tables"]
