"""Billed Databricks cost on Dagster's asset pages: a job + schedule that runs the reconciler and records billed cost
per asset and partition as ``AssetObservation`` s.

::

    import dagster as dg
    from opentelemetry_instrumentation_databricks.dagster.billing import billing_definitions

    defs = dg.Definitions.merge(
        dg.Definitions(assets=[...]),
        billing_definitions(state_path="/var/lib/otel/reconcile.sqlite", records_directory="/mnt/otel/span-records"),
    )

Each run of the job (hourly by default) runs :class:`~..reconcile.Reconciler` once (``DATABRICKS_*`` / ``OTEL_*``
variables, see :meth:`~..reconcile.Reconciler.from_environment`, or the ``reconciler`` factory you pass), then, for
every Dagster asset and partition whose billed total changed, logs one observation of that asset (and partition)::

    databricks/cost_billed_usd      billed dollars of the asset partition, all corrections included (a total)
    databricks/dbu_billed           billed DBUs, likewise
    databricks/cost_estimated_usd   what the spans estimated for the same units
    databricks/estimate_error       (estimated - billed) / billed over the units that have an estimate
    databricks/billed_units         how many billed units (runs, statements, updates...) the total covers
    databricks/restated             true when the total replaces an earlier observation (a correction arrived)

Exactly once, as a RESTATED TOTAL: each observation carries the asset partition's whole billed cost so far, never a
difference, so the latest observation of a partition is its bill and Dagster's plot over observations shows the cost
as billing settles. The totals come from the reconciler's committed state (units keep the Dagster context of their
first emission), so a rerun with no new billing logs nothing, a restatement logs one new total, and a crash between
logging and recording what was logged repeats the same total (the same value again, never a second dollar).
Multi-asset steps (``dagster.asset.key`` ``a,b``) bill the step, not an asset: they are not split and not observed
(counted in the op's log line). A partition range (``2026-11-01...2026-11-07``) is observed on the asset, its range in
``databricks/partition_range``.

The module has no ``from __future__ import annotations``: Dagster reads the op's ``context`` annotation at run time.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dagster
from dagster import OpExecutionContext

from ..reconcile.state import AssetTotal, StateStore
from .reporting import PREFIX

if TYPE_CHECKING:
    from ..reconcile.reconciler import Reconciler

JOB_NAME = "databricks_billing_reconciliation"
_RANGE = "..."


def _metadata(total: AssetTotal, restated: bool, partition_range: str | None) -> dict[str, Any]:
    value = dagster.MetadataValue
    metadata: dict[str, Any] = {
        f"{PREFIX}cost_billed_usd": value.float(round(total.usd, 9)),
        f"{PREFIX}dbu_billed": value.float(round(total.dbu, 9)),
        f"{PREFIX}billed_units": value.int(total.units),
        f"{PREFIX}restated": value.bool(restated),
    }
    if total.estimated_usd is not None:
        metadata[f"{PREFIX}cost_estimated_usd"] = value.float(round(total.estimated_usd, 9))
        base = total.billed_usd_with_estimate
        if base:
            metadata[f"{PREFIX}estimate_error"] = value.float(round((total.estimated_usd - base) / base, 6))
    if partition_range is not None:
        metadata[f"{PREFIX}partition_range"] = value.text(partition_range)
    return metadata


def billed_observations(
    state: StateStore,
) -> tuple[list[dagster.AssetObservation], int, dict[tuple[str, str], AssetTotal]]:
    """``(observations, multi-asset totals left out, changed totals)`` for every asset partition whose billed total
    differs from the last one recorded; log the observations, then ``state.mark_observed(changed)``."""
    totals = state.asset_totals()
    observed = state.observed_assets()
    observations = []
    changed: dict[tuple[str, str], AssetTotal] = {}
    skipped = 0
    for (asset, partition), total in sorted(totals.items()):
        before = observed.get((asset, partition))
        if before is not None and abs(before[0] - total.dbu) < 1e-9 and abs(before[1] - total.usd) < 1e-9:
            continue
        changed[(asset, partition)] = total
        if "," in asset:
            skipped += 1
            continue
        partition_range = partition if _RANGE in partition else None
        observations.append(
            dagster.AssetObservation(
                asset_key=dagster.AssetKey.from_user_string(asset),
                partition=(partition or None) if partition_range is None else None,
                metadata=_metadata(total, before is not None, partition_range),
            )
        )
    return observations, skipped, changed


def billing_definitions(
    *,
    state_path: str | None = None,
    records_directory: str | None = None,
    reconciler: Callable[[], "Reconciler"] | None = None,
    cron_schedule: str = "0 * * * *",
    job_name: str = JOB_NAME,
) -> dagster.Definitions:
    """A job that reconciles billing and observes billed cost per asset and partition, and its schedule.

    ``reconciler`` builds the :class:`~..reconcile.Reconciler` for one run (default:
    ``Reconciler.from_environment(state_path=..., records_directory=...)``); its state store is where the observed
    totals are kept too.
    """
    if reconciler is None and not state_path:
        raise ValueError("billing_definitions(state_path=...): the reconciler's state store path is needed")

    def build() -> "Reconciler":
        if reconciler is not None:
            return reconciler()
        from ..reconcile.reconciler import Reconciler

        return Reconciler.from_environment(state_path=str(state_path), records_directory=records_directory)

    @dagster.op(name=f"{job_name}_op", description="Reconcile Databricks billing; observe billed cost per asset.")
    def reconcile_and_observe(context: OpExecutionContext) -> None:
        run = build()
        try:
            result = run.run()
            context.log.info(result.summary())
            observations, skipped, changed = billed_observations(run.state)
            for observation in observations:
                context.log_event(observation)
            run.state.mark_observed(changed)
        finally:
            close = getattr(run.source, "close", None)
            if close is not None:
                close()
        context.log.info(
            f"{len(observations)} asset observation(s) of billed cost"
            + (f"; {skipped} multi-asset step total(s) not split onto assets" if skipped else "")
        )

    @dagster.job(name=job_name, description="Billed Databricks cost from system tables, per asset and partition.")
    def billing_job() -> None:
        reconcile_and_observe()

    schedule = dagster.ScheduleDefinition(name=f"{job_name}_schedule", job=billing_job, cron_schedule=cron_schedule)
    return dagster.Definitions(jobs=[billing_job], schedules=[schedule])
