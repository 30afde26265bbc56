"""Databricks' own cost of each statement, ``system.billing.attributed_cost`` (Beta), beside ours.

The reconciler apportions every warehouse-hour itself (:mod:`.query`). Where the account has the attributed cost
table (Beta: queries on SQL warehouses only, records typically within 24 hours, *active* usage: the warehouse's idle
time is in no record), the reconciler reads Databricks' figure for each statement it bills and writes it on the
statement's billing span beside its own:

* ``databricks.billing.attributed_cost.dbu``: the DBUs the table attributes to the statement;
* ``databricks.billing.attributed_cost.deviation``: ``(ours - Databricks') / Databricks'`` over the statement's
  whole billed total (``+0.05``: our apportioning gave it 5% more).

It is a cross-check, never the billed figure: apportioned statements plus ``warehouse_idle`` still add up to
``system.billing.usage``, and that is what the metrics count. A statement billed before its attributed record
arrived carries no comparison (the table is read when the statement is billed, not again).

The documented columns of the table stop at ``record_id`` (``cpq_`` followed by the statement id),
``usage_metadata`` and ``identity_metadata``, so the column holding the quantity is found when the table is first
read (``DESCRIBE TABLE``): the first of :data:`QUANTITY_COLUMNS` it has, or the one named in
``OTEL_INSTRUMENTATION_DATABRICKS_BILLING_ATTRIBUTED_COST``. A table that is absent or not granted turns the
comparison off with one info line; one without a known quantity column, with one warning that names its columns
and the variable to set.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .query import SAFE_ID

_logger = logging.getLogger(__name__)

TABLE = "system.billing.attributed_cost"
RECORD_PREFIX = "cpq_"
QUANTITY_COLUMNS = ("usage_quantity", "attributed_quantity", "attributed_usage_quantity", "active_usage_quantity")
"""Tried in order when no column is configured (``usage_quantity`` is the name ``system.billing.usage`` uses)."""
AUTO = "auto"
OFF = "off"
BATCH = 1_000
"""Statement ids per read."""
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
SETTING_VARIABLE = "OTEL_INSTRUMENTATION_DATABRICKS_BILLING_ATTRIBUTED_COST"


def parse_setting(value: Any) -> str:
    """``auto`` (use the table when readable), ``off``, or the name of the table's quantity column."""
    text = str(value).strip()
    if text.lower() in ("", AUTO, "true", "on"):
        return AUTO
    if text.lower() in (OFF, "false", "none"):
        return OFF
    if not _COLUMN.fullmatch(text):
        raise ValueError("expected auto, off, or the name of the table's quantity column, e.g. usage_quantity")
    return text.lower()


def describe_sql() -> str:
    return f"DESCRIBE TABLE {TABLE}"


def quantity_sql(statement_ids: Sequence[str], column: str) -> str:
    """Attributed DBUs per record of the statements ``statement_ids`` (already checked against ``SAFE_ID``)."""
    records = ", ".join(f"'{RECORD_PREFIX}{statement_id}'" for statement_id in statement_ids)
    return (
        f"SELECT a.record_id, SUM(CAST(a.{column} AS DOUBLE)) AS dbu FROM {TABLE} AS a "
        f"WHERE a.record_id IN ({records}) GROUP BY a.record_id"
    )


def deviation(ours: float, theirs: float) -> float | None:
    """``(ours - theirs) / theirs``; ``None`` when Databricks attributes nothing to the statement."""
    return (ours - theirs) / theirs if theirs > 0 else None


class AttributedCost:
    """Reads ``system.billing.attributed_cost`` through ``rows`` (one read-only statement -> its rows, e.g.
    :meth:`.source.SqlBillingSource.rows`). ``setting``: see :func:`parse_setting`."""

    def __init__(self, rows: Callable[[str], list[Sequence[Any]]], setting: str = AUTO) -> None:
        self._rows = rows
        self.setting = parse_setting(setting)
        self._column: str | None = None
        self._probed = self.setting == OFF
        self.malformed_rows = 0

    @property
    def column(self) -> str | None:
        """The quantity column in use; ``None`` when the comparison is off (found on first use)."""
        if not self._probed:
            self._probed = True
            self._column = self._probe()
        return self._column

    def dbu(self, statement_ids: Iterable[str]) -> dict[str, float]:
        """Attributed DBUs of those of ``statement_ids`` the table has a record of."""
        ids = [i for i in dict.fromkeys(statement_ids) if SAFE_ID.fullmatch(i)]
        column = self.column if ids else None
        found: dict[str, float] = {}
        if column is None:
            return found
        for start in range(0, len(ids), BATCH):
            try:
                rows = self._rows(quantity_sql(ids[start : start + BATCH], column))
            except Exception as error:
                _logger.warning("reading %s failed (%s); statements are not compared with it in this run", TABLE, error)
                self._column = None
                return found
            for row in rows:
                try:
                    record_id, value = str(row[0]), row[1]
                    if not record_id.startswith(RECORD_PREFIX) or value is None or isinstance(value, bool):
                        raise ValueError(record_id)
                    found[record_id[len(RECORD_PREFIX) :]] = float(value)
                except (ValueError, TypeError, IndexError):
                    self.malformed_rows += 1
        return found

    def _probe(self) -> str | None:
        try:
            names = [str(row[0]).strip().lower() for row in self._rows(describe_sql()) if row and row[0]]
        except Exception as error:
            _logger.info(
                "%s is not readable here (%s); statements are billed by our apportioning alone, without "
                "Databricks' per-statement figure beside it",
                TABLE,
                str(error)[:200],
            )
            return None
        columns = [name for name in names if not name.startswith("#")]
        if "record_id" not in columns:
            _logger.warning("%s has no record_id column (columns: %s); not compared", TABLE, ", ".join(columns))
            return None
        if self.setting != AUTO:
            if self.setting in columns:
                return self.setting
            _logger.warning(
                "%s=%s: %s has no such column (columns: %s); not compared. Set it to the column holding the "
                "attributed DBUs, or to off.",
                SETTING_VARIABLE,
                self.setting,
                TABLE,
                ", ".join(columns),
            )
            return None
        for candidate in QUANTITY_COLUMNS:
            if candidate in columns:
                return candidate
        _logger.warning(
            "%s has none of the quantity columns %s (columns: %s); not compared. Set %s to the column holding the "
            "attributed DBUs, or to off.",
            TABLE,
            ", ".join(QUANTITY_COLUMNS),
            ", ".join(columns),
            SETTING_VARIABLE,
        )
        return None
