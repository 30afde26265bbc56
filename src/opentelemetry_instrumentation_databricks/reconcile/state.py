"""The reconciler's state store: what was emitted per unit, the outbox of deltas in flight, and the watermark.

One SQLite file (WAL journal, every change in one transaction)::

    units(kind, unit_id, dbu, usd, emissions, labels, context)  -- cumulative totals emitted AND acknowledged
    outbox(kind, unit_id, dbu, usd, delta_dbu, delta_usd, emission, payload, labels, context)  -- not yet acknowledged
    meta(name, value)                               -- watermark, complete_before_ms, pending values of both
    asset_observed(asset_key, partition_key, dbu, usd)  -- billed totals last recorded as Dagster observations

``labels`` (JSON) are the billed-metric labels of a unit (:func:`.attribution.metric_labels`), fixed at its first
emission: a restatement keeps them, so a unit never moves between metric series. ``context`` (JSON) is the unit's
Dagster context and estimate at its first emission (``dagster.asset.key``, ``dagster.partition.key``...,
``estimated_usd``), for billed cost per asset and partition (:meth:`StateStore.asset_totals`). A state file from
before these columns gains them on open (``'{}'``: its units stay in the series of their unit kind and attribution
and belong to no asset).

The protocol is in :mod:`.reconciler`'s docstring.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_CHUNK = 500
_ASSET = "dagster.asset.key"
_PARTITION = "dagster.partition.key"


@dataclass(frozen=True, slots=True)
class Emitted:
    dbu: float
    usd: float
    emissions: int
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    context: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class AssetTotal:
    dbu: float
    usd: float
    units: int
    estimated_usd: float | None
    """The estimates recorded for the units that had one (``None``: none had)."""
    billed_usd_with_estimate: float | None
    """The billed dollars of those same units, the base of an estimate error."""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    kind: str
    unit_id: str
    dbu: float
    usd: float
    delta_dbu: float
    delta_usd: float
    emission: int
    payload: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    context: dict[str, Any] = field(default_factory=dict, hash=False)


class StateStore:
    """``StateStore(path)``; ``":memory:"`` for tests. Safe to reopen after a crash at any point."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS units (
              kind TEXT NOT NULL, unit_id TEXT NOT NULL, dbu REAL NOT NULL, usd REAL NOT NULL,
              emissions INTEGER NOT NULL, PRIMARY KEY (kind, unit_id));
            CREATE TABLE IF NOT EXISTS outbox (
              kind TEXT NOT NULL, unit_id TEXT NOT NULL, dbu REAL NOT NULL, usd REAL NOT NULL,
              delta_dbu REAL NOT NULL, delta_usd REAL NOT NULL, emission INTEGER NOT NULL, payload TEXT NOT NULL,
              PRIMARY KEY (kind, unit_id));
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS asset_observed (
              asset_key TEXT NOT NULL, partition_key TEXT NOT NULL, dbu REAL NOT NULL, usd REAL NOT NULL,
              PRIMARY KEY (asset_key, partition_key));
            """
        )
        for table in ("units", "outbox"):
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for column in ("labels", "context"):
                if column not in columns:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT '{{}}'")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    # reads
    def emitted(self, units: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Emitted]:
        by_kind: dict[str, set[str]] = {}
        for kind, unit_id in units:
            by_kind.setdefault(kind, set()).add(unit_id)
        found: dict[tuple[str, str], Emitted] = {}
        for kind, unit_ids in by_kind.items():
            ids = sorted(unit_ids)
            for first in range(0, len(ids), _CHUNK):
                chunk = ids[first : first + _CHUNK]
                rows = self._db.execute(
                    "SELECT unit_id, dbu, usd, emissions, labels, context FROM units "
                    f"WHERE kind = ? AND unit_id IN ({','.join('?' * len(chunk))})",
                    [kind, *chunk],
                )
                for unit_id, dbu, usd, emissions, labels, context in rows:
                    found[(kind, unit_id)] = Emitted(dbu, usd, emissions, json.loads(labels), json.loads(context))
        return found

    def outbox(self) -> list[OutboxEntry]:
        rows = self._db.execute(
            "SELECT kind, unit_id, dbu, usd, delta_dbu, delta_usd, emission, payload, labels, context FROM outbox "
            "ORDER BY rowid"
        ).fetchall()
        return [OutboxEntry(*row[:7], *(json.loads(value) for value in row[7:])) for row in rows]

    def totals_by_kind(self) -> dict[str, tuple[float, float]]:
        rows = self._db.execute("SELECT kind, SUM(dbu), SUM(usd) FROM units GROUP BY kind").fetchall()
        return {kind: (dbu, usd) for kind, dbu, usd in rows}

    def totals_by_series(self) -> list[tuple[str, dict[str, str], float, float]]:
        """``[(unit kind, labels, dbu, usd)]``: the committed totals per billed-metric series."""
        rows = self._db.execute(
            "SELECT kind, labels, SUM(dbu), SUM(usd) FROM units GROUP BY kind, labels ORDER BY kind, labels"
        ).fetchall()
        return [(kind, json.loads(labels), dbu, usd) for kind, labels, dbu, usd in rows]

    def label_sets(self) -> set[str]:
        """The distinct ``labels`` (JSON) of committed and staged units: the series that exist."""
        rows = self._db.execute("SELECT labels FROM units UNION SELECT labels FROM outbox").fetchall()
        return {labels for (labels,) in rows}

    def asset_totals(self) -> dict[tuple[str, str], AssetTotal]:
        """``{(asset key, partition key or ""): AssetTotal}``: committed billed cost per Dagster asset and partition
        (units whose first emission carried an asset key)."""
        rows = self._db.execute(
            f"""SELECT json_extract(context, '$."{_ASSET}"') AS asset,
                 COALESCE(json_extract(context, '$."{_PARTITION}"'), '') AS part,
                 SUM(dbu), SUM(usd), COUNT(*),
                 SUM(json_extract(context, '$.estimated_usd')),
                 SUM(CASE WHEN json_extract(context, '$.estimated_usd') IS NOT NULL THEN usd END)
               FROM units WHERE asset IS NOT NULL GROUP BY asset, part"""
        ).fetchall()
        return {
            (asset, part): AssetTotal(dbu, usd, n, est, with_est) for asset, part, dbu, usd, n, est, with_est in rows
        }

    def observed_assets(self) -> dict[tuple[str, str], tuple[float, float]]:
        """What :meth:`mark_observed` last recorded per asset and partition: ``(dbu, usd)``."""
        rows = self._db.execute("SELECT asset_key, partition_key, dbu, usd FROM asset_observed").fetchall()
        return {(asset, part): (dbu, usd) for asset, part, dbu, usd in rows}

    def mark_observed(self, totals: dict[tuple[str, str], AssetTotal]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO asset_observed VALUES (?, ?, ?, ?)",
                [(asset, part, total.dbu, total.usd) for (asset, part), total in totals.items()],
            )

    def units(self) -> dict[tuple[str, str], Emitted]:
        rows = self._db.execute("SELECT kind, unit_id, dbu, usd, emissions, labels FROM units").fetchall()
        return {
            (kind, unit_id): Emitted(dbu, usd, n, json.loads(labels)) for kind, unit_id, dbu, usd, n, labels in rows
        }

    def instance_id(self) -> str:
        """A random id made once and kept in ``meta``: the reconciler's ``service.instance.id`` across runs."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('instance_id', ?)", (uuid.uuid4().hex,))
        return str(self.meta("instance_id"))

    def meta(self, name: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row is not None else default

    # writes
    def stage(self, entries: Iterable[OutboxEntry], meta: dict[str, str]) -> None:
        """Write intents and the pending watermark in one transaction (step 2 of the protocol)."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO outbox (kind, unit_id, dbu, usd, delta_dbu, delta_usd, emission, payload, "
                "labels, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.kind,
                        e.unit_id,
                        e.dbu,
                        e.usd,
                        e.delta_dbu,
                        e.delta_usd,
                        e.emission,
                        json.dumps(e.payload),
                        labels_json(e.labels),
                        json.dumps(e.context, sort_keys=True),
                    )
                    for e in entries
                ],
            )
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(f"pending_{k}", v) for k, v in meta.items()])

    def commit_outbox(self) -> int:
        """Move every outbox entry into ``units`` and promote the pending meta values (step 4)."""
        with self.transaction() as db:
            moved = db.execute(
                "INSERT OR REPLACE INTO units (kind, unit_id, dbu, usd, emissions, labels, context) "
                "SELECT kind, unit_id, dbu, usd, emission, labels, context FROM outbox"
            ).rowcount
            db.execute("DELETE FROM outbox")
            for name, value in db.execute("SELECT name, value FROM meta WHERE name LIKE 'pending_%'").fetchall():
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name[len("pending_") :], value))
            db.execute("DELETE FROM meta WHERE name LIKE 'pending_%'")
        return moved


def labels_json(labels: dict[str, str]) -> str:
    """The one spelling of a label set in the state (sorted keys), so equal sets are one series."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))
