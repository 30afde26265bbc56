import threading

from opentelemetry import baggage
from opentelemetry import context as otel_context

from opentelemetry_instrumentation_databricks.context import (
    OrchestrationContext,
    current_context,
    load_environment,
    new_opaque_id,
    orchestration_context,
    register_detector,
    unregister_detector,
)


def test_explicit_context_sets_span_attributes():
    with orchestration_context(job_name="nightly", run_id="r1", partition_key="2026-11-27") as context:
        assert current_context() == context
        assert context.attributes == {
            "dagster.job.name": "nightly",
            "dagster.run.id": "r1",
            "dagster.partition.key": "2026-11-27",
        }
    assert not current_context()


def test_nested_blocks_add_to_the_outer_one():
    with orchestration_context(job_name="nightly", run_id="r1"), orchestration_context(op_name="load"):
        context = current_context()
    assert (context.job_name, context.run_id, context.op_name) == ("nightly", "r1", "load")


def test_precedence_explicit_over_baggage_over_detector_over_environment():
    load_environment({"DAGSTER_JOB_NAME": "from-env", "DAGSTER_RUN_ID": "env-run", "DAGSTER_PARTITION_KEY": "p-env"})

    def detector():
        return OrchestrationContext(job_name="from-detector", run_id="detector-run", op_name="detected-op")

    register_detector(detector)
    token = otel_context.attach(baggage.set_baggage("dagster.run.id", "baggage-run"))
    try:
        with orchestration_context(job_name="explicit"):
            context = current_context()
    finally:
        otel_context.detach(token)
        unregister_detector(detector)
        load_environment({})
    assert context.job_name == "explicit"
    assert context.run_id == "baggage-run"
    assert context.op_name == "detected-op"
    assert context.partition_key == "p-env"


def test_failing_detector_is_skipped():
    def broken():
        raise RuntimeError("boom")

    register_detector(broken)
    try:
        with orchestration_context(job_name="ok"):
            assert current_context().job_name == "ok"
    finally:
        unregister_detector(broken)


def test_threads_do_not_see_each_others_context():
    seen = {}

    def work(name):
        with orchestration_context(job_name=name):
            barrier.wait()
            seen[name] = current_context().job_name

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": "a", "b": "b"}


def test_opaque_ids_are_unique_hex():
    ids = {new_opaque_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
