"""A step's :class:`~.costs.CostSummary` shown where Dagster users look: asset metadata and the run's log.

- the step goes on: the totals so far are added to each asset the step materializes (``add_asset_metadata``;
  for a plain op with one output, ``add_output_metadata``). Later reports overwrite earlier keys, so the
  materialization carries the step's whole Databricks cost, and Dagster plots it across materializations;
- the step is failing (an exception leaves a client block): an ``AssetObservation`` with the same metadata for
  each asset of the step, because a failed step records no materialization;
- both: one line in the run's log.

Usage::

    report_step_cost(LEDGER.summary(current_context()), failed=False)
"""

from __future__ import annotations

import logging
from typing import Any

import dagster

from .costs import CostSummary

_logger = logging.getLogger(__name__)

PREFIX = "databricks/"


def cost_metadata(summary: CostSummary) -> dict[str, dagster.MetadataValue]:
    """The summary as Dagster metadata: numbers Dagster can plot, and the ids to find the work in Databricks."""
    value = dagster.MetadataValue
    metadata: dict[str, dagster.MetadataValue] = {
        f"{PREFIX}dbu_estimated": value.float(round(summary.dbu_estimated, 9)),
        f"{PREFIX}cost_estimated_usd": value.float(round(summary.cost_estimated_usd, 9)),
        f"{PREFIX}cost_status": value.text(summary.cost_status),
        f"{PREFIX}statements": value.int(summary.statements),
        f"{PREFIX}job_runs": value.int(summary.job_runs),
    }
    if summary.pipeline_updates:
        metadata[f"{PREFIX}pipeline_updates"] = value.int(summary.pipeline_updates)
    if summary.failed:
        metadata[f"{PREFIX}failed"] = value.int(summary.failed)
    for name, ids in (
        ("statement_ids", summary.statement_ids),
        ("job_run_ids", summary.job_run_ids),
        ("pipeline_update_ids", summary.pipeline_update_ids),
        ("trace_ids", summary.trace_ids),
    ):
        if ids:
            metadata[f"{PREFIX}{name}"] = value.json(list(ids))
    if summary.ids_left_out:
        metadata[f"{PREFIX}ids_left_out"] = value.int(summary.ids_left_out)
    return metadata


def describe(summary: CostSummary) -> str:
    parts = [f"{summary.statements} statement(s)", f"{summary.job_runs} job run(s)"]
    if summary.pipeline_updates:
        parts.append(f"{summary.pipeline_updates} pipeline update(s)")
    return (
        f"Databricks work of this step so far: {', '.join(parts)}; "
        f"{summary.dbu_estimated:.6g} DBU, ${summary.cost_estimated_usd:.6g} ({summary.cost_status})"
    )


def current_op_context() -> Any | None:
    """Dagster's ``OpExecutionContext`` of the running step, or ``None`` outside of one."""
    try:
        return dagster.OpExecutionContext.get()
    except dagster.DagsterInvariantViolationError:
        return None


def report_step_cost(summary: CostSummary, *, failed: bool) -> bool:
    """Put ``summary`` on the running step (see the module docstring); ``False`` outside of a Dagster step."""
    op = current_op_context()
    if op is None:
        return False
    metadata = cost_metadata(summary)
    op.log.info(describe(summary))
    asset_keys = sorted(op.selected_asset_keys, key=lambda key: key.to_user_string()) if op.has_assets_def else []
    if not failed:
        try:
            _add_metadata(op, asset_keys, metadata)
            return True
        except dagster.DagsterInvariantViolationError:
            _logger.debug("cost metadata could not join the step's outputs: reported as observations", exc_info=True)
    _observe(op, asset_keys, metadata)
    return True


def _add_metadata(op: Any, asset_keys: list[dagster.AssetKey], metadata: dict[str, dagster.MetadataValue]) -> None:
    if asset_keys:
        asset = dagster.AssetExecutionContext.get()
        for key in asset_keys:
            asset.add_asset_metadata(metadata, asset_key=key)
    elif len(op.op_def.output_defs) == 1 and not op.op_def.output_defs[0].is_dynamic:
        op.add_output_metadata(metadata)


def _observe(op: Any, asset_keys: list[dagster.AssetKey], metadata: dict[str, dagster.MetadataValue]) -> None:
    partition = op.partition_key if op.has_partition_key else None
    for key in asset_keys:
        op.log_event(dagster.AssetObservation(asset_key=key, partition=partition, metadata=metadata))
