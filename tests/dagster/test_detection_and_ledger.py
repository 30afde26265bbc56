"""The Dagster detectors (cheap, cached per step, fall back across Dagster versions) and the step cost ledger
(only this instrumentation's spans, task runs not counted twice, bounded)."""

import sys

import dagster as dg
from opentelemetry.sdk.trace import TracerProvider

from opentelemetry_instrumentation_databricks.context import OrchestrationContext
from opentelemetry_instrumentation_databricks.dagster import detection
from opentelemetry_instrumentation_databricks.dagster.costs import INSTRUMENTATION_SCOPE, StepCostLedger
from opentelemetry_instrumentation_databricks.dagster.detection import DagsterStepDetector

RUN = {"dagster.run.id": "r1", "dagster.op.name": "orders", "dagster.asset.key": "sales/orders"}
STEP = OrchestrationContext(run_id="r1", op_name="orders", asset_key="sales/orders")


def test_step_detector_is_silent_outside_a_step_and_cached_inside_one():
    detector = DagsterStepDetector()
    assert detector() is None
    seen = []

    @dg.multi_asset(specs=[dg.AssetSpec("b"), dg.AssetSpec(["a", "x"])])
    def both():
        seen.extend([detector(), detector()])
        return None

    dg.materialize([both])
    first, second = seen
    assert first is second
    assert first.asset_key == "a/x,b"
    assert first.op_name == "both"
    assert detector() is None


def test_step_detector_falls_back_to_the_public_getter(monkeypatch):
    monkeypatch.setattr(detection, "_CONTEXT_VARIABLE", "variable_of_another_dagster_version")
    detector = DagsterStepDetector()
    seen = []

    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["eu", "us"]))
    def regional():
        seen.append(detector())

    result = dg.materialize([regional], partition_key="eu")
    assert seen[0].run_id == result.run_id
    assert seen[0].partition_key == "eu"
    assert detector() is None


def test_step_detector_waits_for_dagster_to_be_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "dagster._core.execution.context.compute")
    assert DagsterStepDetector()() is None


def _tracer(ledger, scope=INSTRUMENTATION_SCOPE):
    provider = TracerProvider()
    provider.add_span_processor(ledger)
    return provider.get_tracer(scope)


def _span(tracer, name, **attributes):
    tracer.start_span(name, attributes={**RUN, **attributes}).end()


def test_ledger_counts_statements_and_runs_once_and_skips_parts_that_are_not_summable():
    ledger = StepCostLedger()
    tracer = _tracer(ledger)
    _span(tracer, "SELECT", **{"db.system.name": "databricks", "databricks.statement_id": "s1"}, **_cost(0.5))
    _span(tracer, "databricks.jobs.submit", **{"databricks.job.run_id": "7"})
    _span(tracer, "databricks.jobs.run", **{"databricks.job.run_id": "7"}, **_cost(2.0))
    _span(tracer, "databricks.jobs.task_run", **_cost(2.0), **{"databricks.cost.summable": False})
    _span(_tracer(ledger, "someone.else"), "SELECT", **{"db.system.name": "databricks"}, **_cost(9.0))
    summary = ledger.summary(STEP)
    assert (summary.statements, summary.job_runs) == (1, 1)
    assert summary.dbu_estimated == 2.5
    assert summary.cost_estimated_usd == 0.25
    assert summary.statement_ids == ("s1",)
    assert summary.job_run_ids == ("7",)
    assert ledger.summary(OrchestrationContext(run_id="other")).units_of_work == 0
    assert ledger.summary(OrchestrationContext()).units_of_work == 0


def test_ledger_is_bounded_in_steps_and_ids():
    ledger = StepCostLedger(max_steps=2, max_ids=3)
    tracer = _tracer(ledger)
    for number in range(5):
        _span(tracer, "SELECT", **{"db.system.name": "databricks", "databricks.statement_id": f"s{number}"}, **_cost(1))
    summary = ledger.summary(STEP)
    assert summary.statements == 5
    assert summary.statement_ids == ("s0", "s1", "s2")
    assert summary.ids_left_out >= 2
    for run in ("r2", "r3"):
        tracer.start_span("SELECT", attributes={"dagster.run.id": run, **_cost(1)}).end()
    assert ledger.summary(STEP).units_of_work == 0
    assert ledger.steps_dropped == 1


def _cost(dbu):
    return {"databricks.dbu.estimated": float(dbu), "databricks.cost.estimated_usd": dbu / 10}
