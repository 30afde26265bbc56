"""The reconciler's state store: what was emitted per unit, the outbox of deltas in flight, and the watermark.

One SQLite file (WAL journal, every change in one transaction)::

    units(kind, unit_id, dbu, usd, emissions, labels)  -- cumulative totals already emitted AND acknowledged
    outbox(kind, unit_id, dbu, usd, delta_dbu, delta_usd, emission, payload, labels)  -- deltas not yet acknowledged
    meta(name, value)                               -- watermark, complete_before_ms, pending values of both

``labels`` (JSON) are the billed-metric labels of a unit (:func:`.attribution.metric_labels`), fixed at its first
emission: a restatement keeps them, so a unit never moves between metric series. A state file from before labels
existed gains the column on open (``'{}'``: its units stay in the series of their unit kind and attribution).

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


@dataclass(frozen=True, slots=True)
class Emitted:
    dbu: float
    usd: float
    emissions: int
    labels: dict[str, str] = field(default_factory=dict, hash=False)


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
            """
        )
        for table in ("units", "outbox"):
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if "labels" not in columns:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN labels TEXT NOT NULL DEFAULT '{{}}'")

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
                    "SELECT unit_id, dbu, usd, emissions, labels FROM units "
                    f"WHERE kind = ? AND unit_id IN ({','.join('?' * len(chunk))})",
                    [kind, *chunk],
                )
                for unit_id, dbu, usd, emissions, labels in rows:
                    found[(kind, unit_id)] = Emitted(dbu, usd, emissions, json.loads(labels))
        return found

    def outbox(self) -> list[OutboxEntry]:
        rows = self._db.execute(
            "SELECT kind, unit_id, dbu, usd, delta_dbu, delta_usd, emission, payload, labels FROM outbox ORDER BY rowid"
        ).fetchall()
        return [OutboxEntry(*row[:7], json.loads(row[7]), json.loads(row[8])) for row in rows]

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
                "labels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    )
                    for e in entries
                ],
            )
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(f"pending_{k}", v) for k, v in meta.items()])

    def commit_outbox(self) -> int:
        """Move every outbox entry into ``units`` and promote the pending meta values (step 4)."""
        with self.transaction() as db:
            moved = db.execute(
                "INSERT OR REPLACE INTO units (kind, unit_id, dbu, usd, emissions, labels) "
                "SELECT kind, unit_id, dbu, usd, emission, labels FROM outbox"
            ).rowcount
            db.execute("DELETE FROM outbox")
            for name, value in db.execute("SELECT name, value FROM meta WHERE name LIKE 'pending_%'").fetchall():
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name[len("pending_") :], value))
            db.execute("DELETE FROM meta WHERE name LIKE 'pending_%'")
        return moved


def labels_json(labels: dict[str, str]) -> str:
    """The one spelling of a label set in the state (sorted keys), so equal sets are one series."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))
