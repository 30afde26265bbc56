"""Zero-config orchestration context from Dagster: the running op or asset, or the Dagster Pipes session.

Two detectors, registered with :func:`~opentelemetry_instrumentation_databricks.context.register_detector` when
the instrumentation starts and ``dagster`` or ``dagster-pipes`` is installed:

- :class:`DagsterStepDetector` reads the execution context Dagster keeps in a context variable while an op or
  asset body runs (``dagster._core.execution.context.compute.current_execution_context``; on versions without
  it, ``OpExecutionContext.get()``): job name, run id, op (node handle, e.g. ``my_graph.my_op``), asset key
  (``/``-joined, several keys of a multi-asset joined by ``,``) and partition key (``start...end`` for a range);
- :class:`DagsterPipesDetector` reads ``dagster_pipes.PipesContext`` inside an external process started with
  Dagster Pipes (e.g. a Databricks job launched by ``PipesDatabricksClient``): job name, run id, asset key(s) and
  partition key of the launching run.

Neither imports Dagster: a detector looks for the module in ``sys.modules``, since no op can be running before
the process imported Dagster. Each answer is computed once per step (kept on Dagster's context object) or per
Pipes session, so a statement pays a dictionary lookup and a context-variable read.

Usage (the instrumentor does this itself)::

    from opentelemetry_instrumentation_databricks.dagster.detection import install_detectors

    install_detectors()
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ..context import OrchestrationContext, register_detector, unregister_detector

_logger = logging.getLogger(__name__)

_COMPUTE_MODULE = "dagster._core.execution.context.compute"
_CONTEXT_VARIABLE = "current_execution_context"
_PIPES_MODULE = "dagster_pipes"
_CACHE_ATTRIBUTE = "_otel_databricks_orchestration_context"


def _joined_asset_keys(keys: Iterable[str]) -> str | None:
    ordered = sorted(keys)
    return ",".join(ordered) if ordered else None


def _key_range(start: str, end: str) -> str:
    return start if start == end else f"{start}...{end}"


def step_context_of(execution: Any) -> OrchestrationContext:
    """The orchestration context of a Dagster ``AssetExecutionContext``/``OpExecutionContext`` (or check context)."""
    op = execution.op_execution_context
    asset_key = None
    if op.has_assets_def:
        asset_key = _joined_asset_keys(key.to_user_string() for key in op.selected_asset_keys)
    partition_key = None
    if op.has_partition_key:
        partition_key = str(op.partition_key)
    elif op.has_partition_key_range:
        key_range = op.partition_key_range
        partition_key = _key_range(str(key_range.start), str(key_range.end))
    return OrchestrationContext(
        job_name=op.job_name,
        run_id=op.run_id,
        op_name=str(op.node_handle),
        asset_key=asset_key,
        partition_key=partition_key,
    )


def pipes_context_of(pipes: Any) -> OrchestrationContext:
    """The orchestration context of a ``dagster_pipes.PipesContext`` (the launching run's ids)."""
    asset_key = _joined_asset_keys(pipes.asset_keys) if pipes.is_asset_step else None
    partition_key = None
    if pipes.is_partition_step:
        key_range = pipes.partition_key_range
        partition_key = _key_range(str(key_range["start"]), str(key_range["end"]))
    return OrchestrationContext(
        job_name=pipes.job_name, run_id=pipes.run_id, asset_key=asset_key, partition_key=partition_key
    )


class DagsterStepDetector:
    """The context of the Dagster op or asset whose body is running in this thread (or task), else ``None``."""

    def __init__(self) -> None:
        self._current: Callable[[], Any] | None = None
        self._unsupported = False

    def __call__(self) -> OrchestrationContext | None:
        current = self._current
        if current is None:
            if self._unsupported:
                return None
            current = self._find_current()
            if current is None:
                return None
        execution = current()
        if execution is None:
            return None
        cached = getattr(execution, _CACHE_ATTRIBUTE, None)
        if cached is not None:
            return cached
        context = step_context_of(execution)
        with contextlib.suppress(AttributeError):
            setattr(execution, _CACHE_ATTRIBUTE, context)
        return context

    def _find_current(self) -> Callable[[], Any] | None:
        module = sys.modules.get(_COMPUTE_MODULE)
        if module is None:
            return None
        variable = getattr(module, _CONTEXT_VARIABLE, None)
        if variable is not None:
            self._current = variable.get
            return self._current
        op_context_class = getattr(sys.modules.get("dagster"), "OpExecutionContext", None)
        if op_context_class is None or not hasattr(op_context_class, "get"):
            self._unsupported = True
            _logger.debug("this Dagster keeps no current execution context: Dagster fields come from elsewhere")
            return None

        def op_context() -> Any:
            try:
                return op_context_class.get()
            except Exception:
                return None

        self._current = op_context
        return op_context


class DagsterPipesDetector:
    """The launching run's context inside a Dagster Pipes external process, else ``None``."""

    def __init__(self) -> None:
        self._cached: tuple[Any, OrchestrationContext | None] = (None, None)

    def __call__(self) -> OrchestrationContext | None:
        module = sys.modules.get(_PIPES_MODULE)
        if module is None:
            return None
        pipes_class = module.PipesContext
        if not pipes_class.is_initialized():
            return None
        session = pipes_class.get()
        cached_session, context = self._cached
        if session is not cached_session:
            context = pipes_context_of(session)
            self._cached = (session, context)
        return context


STEP_DETECTOR = DagsterStepDetector()
PIPES_DETECTOR = DagsterPipesDetector()


def install_detectors() -> None:
    """Register both detectors (idempotent); Dagster fields then reach every span and tag with no user code."""
    register_detector(PIPES_DETECTOR)
    register_detector(STEP_DETECTOR)


def uninstall_detectors() -> None:
    unregister_detector(STEP_DETECTOR)
    unregister_detector(PIPES_DETECTOR)
