"""The :class:`Emulator`: a local Databricks workspace that the real connector and the real SDK talk to."""

from __future__ import annotations

import importlib
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from .clock import Clock
from .http import Fault, HttpApp
from .workspace import Warehouse, Workspace

DEFAULT_TOKEN = "dapi-emulator-0000000000000000"

# Each module has ``register(app: HttpApp, workspace: Workspace) -> None``; the order does not matter.
SERVICE_MODULES = (
    "databricks_emulator.sql.thrift",
    "databricks_emulator.sql.statements",
    "databricks_emulator.sql.links",
    "databricks_emulator.warehouses",
    "databricks_emulator.discovery",
    "databricks_emulator.clusters",
    "databricks_emulator.pipelines",
    "databricks_emulator.jobs",
    "databricks_emulator.commands",
    "databricks_emulator.system_tables",
    "databricks_emulator.admin",
)


class Emulator:
    """A local Databricks workspace on 127.0.0.1.

    ::

        with Emulator() as ws:
            with ws.sql_connect() as conn, conn.cursor() as cursor:
                cursor.execute("SELECT 1")
            ws.clock.advance(3600)

    ``warehouse_size`` is the size of the default SQL warehouse; ``clock`` lets a caller share or pre-set
    simulated time (``Clock(frozen=True)`` for fully deterministic tests).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        warehouse_size: str = "Small",
        clock: Clock | None = None,
        catalog: str = "main",
        schema: str = "default",
    ) -> None:
        self.clock = clock or Clock()
        self.token = token
        self.catalog = catalog
        self.schema = schema
        self._requested_port = port
        self._app = HttpApp(token)
        self.workspace = Workspace(self.clock, default_catalog=catalog, default_schema=schema)
        self.warehouse: Warehouse = self.workspace.add_warehouse("Emulator Warehouse", warehouse_size)
        self.port: int | None = None
        for name in SERVICE_MODULES:
            importlib.import_module(name).register(self._app, self.workspace)

    # life cycle
    def start(self) -> Emulator:
        if self.port is None:
            self.port = self._app.start(self._requested_port)
            self.workspace.host = self.host
        return self

    def stop(self) -> None:
        self._app.stop()
        self.port = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # where to connect
    @property
    def server_hostname(self) -> str:
        return "127.0.0.1"

    @property
    def host(self) -> str:
        """The workspace URL, as the SDK's ``Config(host=...)`` takes it."""
        if self.port is None:
            raise RuntimeError("the emulator is not running: call start() or use it as a context manager")
        return f"http://127.0.0.1:{self.port}"

    @property
    def warehouse_id(self) -> str:
        return self.warehouse.id

    @property
    def http_path(self) -> str:
        return self.warehouse.http_path

    @property
    def faults(self):
        """Fault switches: ``ws.faults.add(r"/api/2.2/jobs/runs/get", Fault(status=503, times=1))``."""
        return self._app.faults

    @property
    def sql(self):
        """The SQL warehouse service (engine, sessions, ``latency_model``, ``history``) behind both protocols."""
        from .sql.service import SqlService

        return SqlService.of(self.workspace)

    @property
    def result_delivery(self):
        """How results travel (:class:`~.sql.delivery.ResultSettings`): rows per chunk, when Thrift clients get
        cloud-fetch links, the inline limit. ``ws.result_delivery.chunk_rows = 10`` pages a 25-row result."""
        from .sql.delivery import ResultSettings

        return ResultSettings.of(self.workspace)

    @property
    def result_files(self):
        """The downloadable result files behind cloud-fetch and ``EXTERNAL_LINKS`` links
        (:class:`~.sql.links.ResultFiles`: ``lifetime_seconds``, ``max_bytes``, ``evicted``, ``downloads``)."""
        from .sql.links import ResultFiles

        return ResultFiles.of(self.workspace)

    @property
    def query_history(self) -> list:
        """A snapshot of every SQL statement run so far (:class:`~.sql.history.QueryRecord`), oldest first."""
        return self.sql.history.records()

    def connect_kwargs(self, *, use_sea: bool = False, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``databricks.sql.connect`` that are right for this local, plain-HTTP server."""
        return self.connect_kwargs_for(self.host, self.token, self.http_path, use_sea=use_sea, **overrides)

    @staticmethod
    def connect_kwargs_for(
        host: str, token: str, http_path: str, *, use_sea: bool = False, **overrides: Any
    ) -> dict[str, Any]:
        """The same, for an emulator running elsewhere (``python -m ...emulator`` prints host, token, http_path)."""
        address = urlsplit(host)
        kwargs: dict[str, Any] = {
            "server_hostname": address.hostname,
            "http_path": http_path,
            "access_token": token,
            "enable_telemetry": False,
            "_retry_stop_after_attempts_count": 1,
            "_retry_stop_after_attempts_duration": 1,
            "_retry_delay_min": 0.1,
            "_retry_delay_max": 5.0,
            "_socket_timeout": 30,
        }
        if use_sea:
            kwargs.update(use_sea=True, server_hostname=f"http://{address.hostname}", _port=address.port)
        else:
            kwargs["_connection_uri"] = f"{host.rstrip('/')}{http_path}"
        kwargs.update(overrides)
        return kwargs

    def sql_connect(self, **kwargs: Any):
        """A real ``databricks.sql`` connection to this emulator (Thrift by default, ``use_sea=True`` for SEA)."""
        from databricks import sql

        return sql.connect(**self.connect_kwargs(**kwargs))

    # workspace services: jobs, pipelines, clusters, commands
    def workspace_client(self, **config: Any):
        """A real ``databricks.sdk.WorkspaceClient`` for this emulator, deaf to ``DATABRICKS_*`` variables and
        config profiles, whose retry sleeps advance the emulator clock. ``config`` overrides ``Config`` keywords."""
        from .client import workspace_client

        return workspace_client(self.host, self.token, self.clock, **config)

    @property
    def timing(self):
        """Default simulated durations (:class:`~.lifecycle.Timing`): cluster start-up, task types, pipelines."""
        from .lifecycle import lifecycle

        return lifecycle(self.workspace).timing

    @property
    def outcomes(self):
        """Scripted endings (:class:`~.lifecycle.Outcomes`): ``ws.outcomes.task("FAILED", task_key="etl")``."""
        from .lifecycle import lifecycle

        return lifecycle(self.workspace).outcomes

    @property
    def auto_advance_on_poll(self) -> float | str | None:
        """``None``, seconds the clock moves before each status poll, or ``"settle"`` (see ``Lifecycle``)."""
        from .lifecycle import lifecycle

        return lifecycle(self.workspace).auto_advance_on_poll

    @auto_advance_on_poll.setter
    def auto_advance_on_poll(self, value: float | str | None) -> None:
        from .lifecycle import lifecycle

        lifecycle(self.workspace).auto_advance_on_poll = value

    def add_cluster(self, name: str = "Emulator Cluster", **spec: Any) -> str:
        """An all-purpose cluster that is already RUNNING; returns its id. ``spec`` is a ``clusters/create`` body."""
        from .clusters import clusters

        service = clusters(self.workspace)
        defaults = {"spark_version": "16.4.x-scala2.12", "node_type_id": "m5d.large"}
        body = service.validate({**defaults, **spec, "cluster_name": name})
        with self.workspace.lock:
            cluster = service.new(body, source="UI")
            cluster.start(self.clock.time() - self.timing.cluster_start_seconds)
        return cluster.cluster_id

    @property
    def job_runs(self) -> tuple:
        """Every job run so far (:class:`~.records.JobRunRecord`, with its task runs), as of now, oldest first."""
        from .runs import runs

        return runs(self.workspace).records()

    @property
    def pipeline_updates(self) -> tuple:
        """Every pipeline update so far (:class:`~.records.PipelineUpdateRecord`), as of now, oldest first."""
        from .pipelines import pipelines

        return pipelines(self.workspace).records()

    @property
    def clusters(self) -> tuple:
        """Every cluster with its sessions (:class:`~.records.ClusterRecord`): all-purpose, job and pipeline."""
        from .clusters import clusters

        now = self.clock.time()
        with self.workspace.lock:
            found = clusters(self.workspace).table.values()
            return tuple(c.record(now) for c in found if c.sessions and c.sessions[0].requested <= now)

    @property
    def billing(self):
        """The billing side (:class:`~.system_tables.Billing`): arrival delays, rates, list prices, usage policies,
        warehouse scaling and ``restate``/``retract`` corrections behind ``system.billing.usage``."""
        from .system_tables import system_tables

        return system_tables(self.workspace).billing

    @property
    def commands(self) -> tuple:
        """Every notebook command so far (:class:`~.records.CommandRecord`), as of now, oldest first."""
        from .commands import commands

        return commands(self.workspace).records()


__all__ = ["Clock", "Emulator", "Fault"]
