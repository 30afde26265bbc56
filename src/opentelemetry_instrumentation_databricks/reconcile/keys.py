"""Reconcile keys: which billed unit a finished span stands for, read from the span's own attributes.

A key names one unit of billed work the way ``system.billing.usage`` (or, for SQL, ``system.query.history``) can
find it again:

=================  ==========================================  =================================================
kind               span                                        billing rows
=================  ==========================================  =================================================
``statement``      SQL statement (connector or SEA), with an   the warehouse-hours it ran in, apportioned by its
                   estimate and ``databricks.statement_id``    task + compilation + fetch time (query.history)
``job_run``        ``databricks.jobs.run``                     ``usage_metadata.job_run_id``
``pipeline_update````databricks.pipelines.update``             ``usage_metadata.dlt_update_id``
``notebook``       notebook cell / command with a notebook id  ``usage_metadata.notebook_id``, within the window
``cluster``        notebook command on an all-purpose cluster  ``usage_metadata.cluster_id``, within the window
=================  ==========================================  =================================================

Usage::

    key = key_of(readable_span)        # None for every span that stands for no billed unit
    if key is not None:
        key.kind, key.unit_id, key.window_start_ns, key.window_end_ns

:func:`key_of` is on the hot path of :class:`~.processor.CostReconcilingSpanProcessor`: a span without
``databricks.compute.type`` (every span that is not Databricks work) is answered after one dict lookup.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..attributes import (
    CLUSTER_ID,
    COMMAND_ID,
    COMPUTE_TYPE,
    DBU_ESTIMATED,
    JOB_RUN_ID,
    JOB_TASK_RUN_ID,
    NOTEBOOK_ID,
    PIPELINE_UPDATE_ID,
    STATEMENT_ID,
    WAREHOUSE_ID,
)

STATEMENT = "statement"
JOB_RUN = "job_run"
PIPELINE_UPDATE = "pipeline_update"
NOTEBOOK = "notebook"
CLUSTER = "cluster"
KINDS = (STATEMENT, JOB_RUN, PIPELINE_UPDATE, NOTEBOOK, CLUSTER)

PIPELINE_UPDATE_SPAN = "databricks.pipelines.update"
_EMPTY: dict[str, Any] = {}


class ReconcileKey(NamedTuple):
    """One billed unit. ``unit_id`` is the statement, run, update, notebook or cluster id; ``scope`` the warehouse
    (statements) or cluster (notebooks); the window (epoch ns) bounds windowed kinds and dates every kind."""

    kind: str
    unit_id: str
    scope: str | None
    window_start_ns: int
    window_end_ns: int

    @property
    def unit(self) -> tuple[str, str]:
        return self.kind, self.unit_id

    @property
    def windowed(self) -> bool:
        return self.kind in (NOTEBOOK, CLUSTER)

    @property
    def lookup_unit(self) -> tuple[str, str]:
        """What a billing lookup answers for: the unit, or for windowed kinds the unit within this span's window
        (``<id>@<start ms>-<end ms>``), so that two commands on one cluster each get their own share."""
        if self.kind not in (NOTEBOOK, CLUSTER):
            return self.kind, self.unit_id
        start_ms = self.window_start_ns // 1_000_000
        return self.kind, f"{self.unit_id}@{start_ms}-{max(self.window_end_ns, self.window_start_ns) // 1_000_000}"


def attributes_of(span: Any) -> dict[str, Any]:
    """The plain dict behind a span's attributes (no copy), for lookups that must not raise internally."""
    attributes = span._attributes
    try:
        return attributes._dict
    except AttributeError:
        return attributes if attributes is not None else _EMPTY


def key_of(span: Any) -> ReconcileKey | None:
    """The reconcile key of a finished (readable) span, or ``None`` when it stands for no billed unit."""
    try:
        attributes = span._attributes._dict
    except AttributeError:
        attributes = attributes_of(span)
    if COMPUTE_TYPE not in attributes:
        return None
    return _key_from(attributes, span.name, span.start_time or 0, span.end_time or span.start_time or 0)


def _key_from(attributes: dict[str, Any], name: str, start: int, end: int) -> ReconcileKey | None:
    estimated = DBU_ESTIMATED in attributes
    statement_id = attributes.get(STATEMENT_ID)
    if statement_id and estimated:
        warehouse_id = attributes.get(WAREHOUSE_ID)
        return ReconcileKey(STATEMENT, str(statement_id), str(warehouse_id) if warehouse_id else None, start, end)
    run_id = attributes.get(JOB_RUN_ID)
    if run_id and estimated and JOB_TASK_RUN_ID not in attributes:
        return ReconcileKey(JOB_RUN, str(run_id), None, start, end)
    update_id = attributes.get(PIPELINE_UPDATE_ID)
    if update_id and (estimated or name == PIPELINE_UPDATE_SPAN):
        return ReconcileKey(PIPELINE_UPDATE, str(update_id), None, start, end)
    cluster_id = attributes.get(CLUSTER_ID)
    notebook_id = attributes.get(NOTEBOOK_ID)
    if notebook_id:
        return ReconcileKey(NOTEBOOK, str(notebook_id), str(cluster_id) if cluster_id else None, start, end)
    if cluster_id and COMMAND_ID in attributes and estimated:
        return ReconcileKey(CLUSTER, str(cluster_id), None, start, end)
    return None
