"""The ``system`` catalog's tables in the SQL engine, filled from the workspace's records when they are read.

Nothing happens on ordinary statements. When a statement reads ``system.<schema>.<table>`` the engine calls
:meth:`SystemTables.refresh` with the tables it names; each is re-derived only if what it depends on changed
since it was last written: the emulator clock (to the second, or exactly on a frozen clock), the number of
statements, job runs, pipeline updates and clusters, the warehouses' settings, and ``ws.billing``'s settings and
scripts (list prices depend on ``ws.billing`` alone).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from functools import cached_property

import duckdb

from ..clusters import clusters
from ..pipelines import pipelines
from ..runs import runs
from ..sql.names import private_catalog
from ..sql.service import SqlService
from ..workspace import Workspace
from . import billing as billing_tables
from .attributed_cost import ATTRIBUTED_COST, attributed_rows
from .billing import Billing, UsageRow
from .compute import WAREHOUSE_EVENTS, RunningPeriod, running_periods, warehouse_event_rows
from .lakeflow import (
    JOB_RUN_TIMELINE,
    JOB_TASK_RUN_TIMELINE,
    PIPELINE_UPDATE_TIMELINE,
    job_run_rows,
    job_task_rows,
    pipeline_update_rows,
)
from .query import HISTORY, history_rows
from .snapshot import Snapshot, take
from .tables import TableSpec, replace_rows
from .usage_model import hourly, meters

CATALOG = "system"
SPECS: tuple[TableSpec, ...] = (
    billing_tables.USAGE,
    billing_tables.LIST_PRICES,
    ATTRIBUTED_COST,
    HISTORY,
    JOB_RUN_TIMELINE,
    JOB_TASK_RUN_TIMELINE,
    PIPELINE_UPDATE_TIMELINE,
    WAREHOUSE_EVENTS,
)
_EXTENSION_KEY = "system_tables"


class Derivation:
    """One snapshot of the workspace and what is derived from it, each part computed at most once."""

    def __init__(self, snapshot: Snapshot, billing: Billing) -> None:
        self.snapshot = snapshot
        self.billing = billing

    @cached_property
    def periods(self) -> list[RunningPeriod]:
        return running_periods(self.snapshot, list(self.billing.scale_requests))

    @cached_property
    def usage(self) -> list[UsageRow]:
        """Every usage row, visible or pending."""
        found = meters(self.snapshot, self.billing.rates, self.periods, self.billing.usage_policies)
        return self.billing.rows(hourly(found, self.snapshot.now, self.snapshot.workspace_id))

    def rows(self, spec: TableSpec) -> list[tuple]:
        snapshot, account = self.snapshot, self.billing.account_id
        now = snapshot.now
        timelines = now - self.billing.timeline_delay.total_seconds()
        history = now - self.billing.query_history_delay.total_seconds()
        producers: dict[str, Callable[[], list[tuple]]] = {
            "usage": lambda: billing_tables.usage_values(self.usage, account, snapshot.workspace_id, now),
            "list_prices": lambda: billing_tables.price_values(self.billing.prices, account),
            "history": lambda: history_rows(snapshot, account, history),
            "attributed_cost": lambda: attributed_rows(
                snapshot,
                self.usage,
                self.periods,
                account,
                history_visible_before=history,
                billing_visible_before=now - self.billing.attributed_cost_delay.total_seconds(),
            ),
            "job_run_timeline": lambda: job_run_rows(snapshot, account, timelines),
            "job_task_run_timeline": lambda: job_task_rows(snapshot, account, timelines),
            "pipeline_update_timeline": lambda: pipeline_update_rows(snapshot, account, timelines),
            "warehouse_events": lambda: warehouse_event_rows(snapshot, account, self.periods, timelines),
        }
        return producers[spec.name]()


class SystemTables:
    """The system tables of one emulated workspace, kept in the SQL engine's private ``system`` database."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.billing = Billing(_clock=workspace.clock)
        self.billing._derive = lambda: self.derive().usage
        self.reads = 0
        self.refreshes = 0
        self._database = private_catalog(CATALOG)
        self._specs = {(spec.schema, spec.name): spec for spec in SPECS}
        self._versions: dict[TableSpec, tuple] = {}
        self._lock = threading.Lock()
        self._cursor: duckdb.DuckDBPyConnection | None = None

    def install(self, service: SqlService) -> None:
        """Create the (empty) tables in the service's engine and ask it to call :meth:`refresh` on reads."""
        self._cursor = service.engine.duckdb_cursor()
        for spec in SPECS:
            self._cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._database}"."{spec.schema}"')
            self._cursor.execute(spec.create_sql(self._database))
        service.engine.on_catalog_read(CATALOG, self.refresh)

    def derive(self) -> Derivation:
        return Derivation(take(self.workspace), self.billing)

    def refresh(self, tables: Iterable[tuple[str, str]]) -> None:
        """Bring the named ``(schema, table)`` system tables up to date (unknown names are ignored)."""
        wanted = [self._specs[key] for key in {(s.lower(), t.lower()) for s, t in tables} if key in self._specs]
        if not wanted or self._cursor is None:
            return
        with self._lock:
            self.reads += 1
            if ATTRIBUTED_COST in wanted and not self._offer(ATTRIBUTED_COST, self.billing.attributed_cost_enabled):
                wanted.remove(ATTRIBUTED_COST)
            versions = {spec: self._version(spec) for spec in wanted}
            stale = [spec for spec, version in versions.items() if self._versions.get(spec) != version]
            if not stale:
                return
            derivation = self.derive()
            for spec in stale:
                replace_rows(self._cursor, self._database, spec, derivation.rows(spec))
                self._versions[spec] = versions[spec]
            self.refreshes += 1

    def _offer(self, spec: TableSpec, enabled: bool) -> bool:
        """Create ``spec``'s table when ``enabled``, else drop it (a Beta table the account does not have)."""
        assert self._cursor is not None
        if enabled:
            self._cursor.execute(spec.create_sql(self._database))
        else:
            self._cursor.execute(f"DROP TABLE IF EXISTS {spec.qualified(self._database)}")
            self._versions.pop(spec, None)
        return enabled

    def _version(self, spec: TableSpec) -> tuple:
        """What ``spec``'s rows depend on: list prices on ``ws.billing`` only, query history on the statements and
        the clock, everything else on every record, the warehouses, the clock and ``ws.billing``."""
        workspace = self.workspace
        billing = self.billing.settings_key()
        if spec is billing_tables.LIST_PRICES:
            return billing
        now = workspace.clock.time()
        now_key = now if workspace.clock.frozen else math.floor(now)
        history = SqlService.of(workspace).history
        if spec is HISTORY:
            return (now_key, len(history), history.dropped, billing)
        with workspace.lock:
            warehouses = tuple(
                (
                    w.id,
                    w.cluster_size,
                    w.warehouse_type,
                    w.enable_serverless_compute,
                    w.min_num_clusters,
                    w.max_num_clusters,
                    w.auto_stop_mins,
                    tuple(sorted(w.tags.items())),
                )
                for w in workspace.warehouses.values()
            )
            counts = (
                len(runs(workspace).table),
                len(pipelines(workspace).updates),
                len(clusters(workspace).table),
            )
        return (now_key, len(history), history.dropped, counts, warehouses, billing)


def system_tables(workspace: Workspace) -> SystemTables:
    """The workspace's :class:`SystemTables`, created (not yet installed) on first use."""
    with workspace.lock:
        found = workspace.extensions.get(_EXTENSION_KEY)
        if found is None:
            found = workspace.extensions[_EXTENSION_KEY] = SystemTables(workspace)
        return found


def register(app: object, workspace: Workspace) -> None:
    """Install the system tables into the workspace's SQL warehouse engine (a service module of the emulator)."""
    system_tables(workspace).install(SqlService.of(workspace))
