"""The reconciler's state store: what was emitted per unit, the outbox of deltas in flight, and the watermark.

One SQLite file (WAL journal, every change in one transaction)::

    units(kind, unit_id, dbu, usd, emissions)     -- cumulative totals already emitted AND acknowledged
    outbox(kind, unit_id, dbu, usd, delta_dbu, delta_usd, emission, payload)  -- deltas written, not yet acknowledged
    meta(name, value)                               -- watermark, complete_before_ms, pending values of both

The protocol is in :mod:`.reconciler`'s docstring.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Emitted:
    dbu: float
    usd: float
    emissions: int


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
                    "SELECT unit_id, dbu, usd, emissions FROM units "
                    f"WHERE kind = ? AND unit_id IN ({','.join('?' * len(chunk))})",
                    [kind, *chunk],
                )
                for unit_id, dbu, usd, emissions in rows:
                    found[(kind, unit_id)] = Emitted(dbu, usd, emissions)
        return found

    def outbox(self) -> list[OutboxEntry]:
        rows = self._db.execute(
            "SELECT kind, unit_id, dbu, usd, delta_dbu, delta_usd, emission, payload FROM outbox ORDER BY rowid"
        ).fetchall()
        return [OutboxEntry(*row[:7], json.loads(row[7])) for row in rows]

    def totals_by_kind(self) -> dict[str, tuple[float, float]]:
        rows = self._db.execute("SELECT kind, SUM(dbu), SUM(usd) FROM units GROUP BY kind").fetchall()
        return {kind: (dbu, usd) for kind, dbu, usd in rows}

    def units(self) -> dict[tuple[str, str], Emitted]:
        rows = self._db.execute("SELECT kind, unit_id, dbu, usd, emissions FROM units").fetchall()
        return {(kind, unit_id): Emitted(dbu, usd, n) for kind, unit_id, dbu, usd, n in rows}

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
                "INSERT OR REPLACE INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (e.kind, e.unit_id, e.dbu, e.usd, e.delta_dbu, e.delta_usd, e.emission, json.dumps(e.payload))
                    for e in entries
                ],
            )
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(f"pending_{k}", v) for k, v in meta.items()])

    def commit_outbox(self) -> int:
        """Move every outbox entry into ``units`` and promote the pending meta values (step 4)."""
        with self.transaction() as db:
            moved = db.execute(
                "INSERT OR REPLACE INTO units SELECT kind, unit_id, dbu, usd, emission FROM outbox"
            ).rowcount
            db.execute("DELETE FROM outbox")
            for name, value in db.execute("SELECT name, value FROM meta WHERE name LIKE 'pending_%'").fetchall():
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name[len("pending_") :], value))
            db.execute("DELETE FROM meta WHERE name LIKE 'pending_%'")
        return moved
