"""Cell spans in a real IPython shell, and adopting the caller's trace context on the cluster."""

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from opentelemetry_instrumentation_databricks.remote import adopt_trace_context, extract_trace_context, find_traceparent
from opentelemetry_instrumentation_databricks.workspace.notebook import databricks_notebook_facts, instrument_notebook

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def shell():
    interactiveshell = pytest.importorskip("IPython.core.interactiveshell")
    instance = interactiveshell.InteractiveShell.instance()
    yield instance
    interactiveshell.InteractiveShell.clear_instance()


class _Option:
    def __init__(self, value):
        self.value = value

    def isDefined(self):
        return self.value is not None

    def get(self):
        return self.value


class _NotebookContext:
    def notebookId(self):
        return _Option("1234")

    def notebookPath(self):
        return _Option("/Users/me/etl")

    def userName(self):
        return _Option("me@example.com")

    def clusterId(self):
        return _Option("0101-abc")


class _Dbutils:
    class notebook:
        class entry_point:
            @staticmethod
            def getDbutils():
                class _Inner:
                    def notebook(self):
                        class _Notebook:
                            def getContext(self):
                                return _NotebookContext()

                        return _Notebook()

                return _Inner()


def test_each_cell_gets_a_span_with_the_reconcile_keys(shell, telemetry):
    shell.user_ns["dbutils"] = _Dbutils()
    notebook = instrument_notebook(telemetry.tracer_provider, shell=shell, environ={})
    try:
        assert instrument_notebook(telemetry.tracer_provider, shell=shell) is notebook
        shell.run_cell("from opentelemetry import trace\ninner = trace.get_current_span().get_span_context()")
        shell.run_cell("x = 1 / 0")
    finally:
        notebook.uninstrument()
    shell.run_cell("y = 2")
    first, failing = telemetry.spans()
    assert first.name == "databricks.notebook.cell"
    assert first.attributes["databricks.notebook.id"] == "1234"
    assert first.attributes["databricks.notebook.path"] == "/Users/me/etl"
    assert first.attributes["databricks.notebook.user"] == "me@example.com"
    assert first.attributes["databricks.cluster.id"] == "0101-abc"
    assert first.attributes["databricks.compute.type"] == "all_purpose"
    assert shell.user_ns["inner"].span_id == first.context.span_id
    assert first.end_time >= first.start_time
    assert failing.status.status_code is StatusCode.ERROR
    assert failing.attributes["error.type"] == "ZeroDivisionError"
    assert "1 / 0" not in str(dict(failing.attributes))


def test_without_dbutils_the_cluster_comes_from_the_environment():
    facts = databricks_notebook_facts({}, {"DB_CLUSTER_ID": "0202-def", "DATABRICKS_RUNTIME_VERSION": "15.4"})
    assert facts == {"databricks.cluster.id": "0202-def", "databricks.compute.type": "all_purpose"}
    assert databricks_notebook_facts({"dbutils": object()}, {}) == {}


def test_traceparent_sources_in_order():
    assert find_traceparent({"traceparent": "a"}, {"TRACEPARENT": "c"}, ["--traceparent=b"]) == "a"
    assert find_traceparent(None, {"TRACEPARENT": "c"}, ["prog", "--traceparent=b"]) == "b"
    assert find_traceparent(None, {"TRACEPARENT": "c"}, ["prog", "--traceparent", "d"]) == "d"
    assert find_traceparent(None, {"TRACEPARENT": "c"}, []) == "c"
    assert find_traceparent(None, {}, []) is None


def test_adopted_context_makes_new_spans_join_the_callers_trace(telemetry):
    token = otel_context.attach(otel_context.Context())
    try:
        assert adopt_trace_context(environ={"TRACEPARENT": PARENT}, argv=[]) is not None
        with telemetry.tracer_provider.get_tracer("etl").start_as_current_span("transform"):
            pass
    finally:
        otel_context.detach(token)
    (span,) = telemetry.spans()
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"


def test_invalid_traceparent_is_ignored():
    assert extract_trace_context(environ={"TRACEPARENT": "garbage"}, argv=[]) is None
    assert not trace.get_current_span().get_span_context().is_valid
