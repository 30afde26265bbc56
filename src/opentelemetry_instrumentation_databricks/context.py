"""Orchestration context: which Dagster job, run, op/asset and partition a piece of Databricks work belongs to.

Sources, strongest first:

1. ``with orchestration_context(job_name=..., run_id=...):`` around the work;
2. OpenTelemetry baggage with the span attribute names as keys (``dagster.job.name``, ``dagster.run.id``...),
   so a context set by an upstream service travels with the trace;
3. detectors registered with :func:`register_detector` (the Dagster integration adds one);
4. ``DAGSTER_JOB_NAME``, ``DAGSTER_RUN_ID``, ``DAGSTER_OP_NAME``, ``DAGSTER_ASSET_KEY`` and
   ``DAGSTER_PARTITION_KEY`` environment variables, read once when the instrumentation starts.

A field missing from a stronger source is taken from a weaker one.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from opentelemetry.baggage import _BAGGAGE_KEY
from opentelemetry.context import get_value

from .attributes import (
    DAGSTER_ASSET_KEY,
    DAGSTER_JOB_NAME,
    DAGSTER_OP_NAME,
    DAGSTER_OPAQUE_ID,
    DAGSTER_PARTITION_KEY,
    DAGSTER_RUN_ID,
)

_logger = logging.getLogger(__name__)

JOB_NAME = DAGSTER_JOB_NAME
RUN_ID = DAGSTER_RUN_ID
OP_NAME = DAGSTER_OP_NAME
ASSET_KEY = DAGSTER_ASSET_KEY
PARTITION_KEY = DAGSTER_PARTITION_KEY
OPAQUE_ID = DAGSTER_OPAQUE_ID

_ATTRIBUTE_OF_FIELD = {
    "job_name": JOB_NAME,
    "run_id": RUN_ID,
    "op_name": OP_NAME,
    "asset_key": ASSET_KEY,
    "partition_key": PARTITION_KEY,
}
_FIELD_OF_BAGGAGE_KEY = {attribute: name for name, attribute in _ATTRIBUTE_OF_FIELD.items()}
_ENVIRONMENT_VARIABLES = {
    "job_name": "DAGSTER_JOB_NAME",
    "run_id": "DAGSTER_RUN_ID",
    "op_name": "DAGSTER_OP_NAME",
    "asset_key": "DAGSTER_ASSET_KEY",
    "partition_key": "DAGSTER_PARTITION_KEY",
}


@dataclass(frozen=True)
class OrchestrationContext:
    """The orchestration ids of the current work; every field is optional."""

    job_name: str | None = None
    run_id: str | None = None
    op_name: str | None = None
    asset_key: str | None = None
    partition_key: str | None = None
    attributes: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        attributes = {}
        for name, attribute in _ATTRIBUTE_OF_FIELD.items():
            value = getattr(self, name)
            if value is not None:
                attributes[attribute] = value
        object.__setattr__(self, "attributes", attributes)

    def __bool__(self) -> bool:
        return bool(self.attributes)

    def over(self, weaker: OrchestrationContext) -> OrchestrationContext:
        """This context with its missing fields taken from ``weaker``."""
        if not weaker:
            return self
        if not self:
            return weaker
        return OrchestrationContext(
            **{name: getattr(self, name) or getattr(weaker, name) for name in _ATTRIBUTE_OF_FIELD}
        )


EMPTY = OrchestrationContext()
_explicit: ContextVar[OrchestrationContext | None] = ContextVar("databricks_orchestration_context", default=None)
_detectors: list[Callable[[], OrchestrationContext | None]] = []
_environment = EMPTY


@contextmanager
def orchestration_context(
    job_name: str | None = None,
    run_id: str | None = None,
    op_name: str | None = None,
    asset_key: str | None = None,
    partition_key: str | None = None,
) -> Iterator[OrchestrationContext]:
    """Attach orchestration ids to all Databricks work inside the block (nested blocks add to outer ones)."""
    values = {"job_name": job_name, "run_id": run_id, "op_name": op_name, "asset_key": asset_key}
    values["partition_key"] = partition_key
    context = OrchestrationContext(**{k: None if v is None else str(v) for k, v in values.items()})
    outer = _explicit.get()
    if outer is not None:
        context = context.over(outer)
    token = _explicit.set(context)
    try:
        yield context
    finally:
        _explicit.reset(token)


def register_detector(detector: Callable[[], OrchestrationContext | None]) -> None:
    """Add a source of context (e.g. the running Dagster op); it must be cheap and must not raise."""
    if detector not in _detectors:
        _detectors.append(detector)


def unregister_detector(detector: Callable[[], OrchestrationContext | None]) -> None:
    if detector in _detectors:
        _detectors.remove(detector)


def load_environment(environ: Mapping[str, str] | None = None) -> OrchestrationContext:
    """Read the ``DAGSTER_*`` variables; the instrumentation calls this once at ``instrument()``."""
    global _environment
    environ = os.environ if environ is None else environ
    _environment = OrchestrationContext(
        **{name: environ.get(variable) or None for name, variable in _ENVIRONMENT_VARIABLES.items()}
    )
    return _environment


def current_context() -> OrchestrationContext:
    """The orchestration context of the calling code, from all sources."""
    context = _environment
    for detector in _detectors:
        try:
            detected = detector()
        except Exception:  # a detector must never break the user's call
            _logger.debug("orchestration context detector %r failed", detector, exc_info=True)
            continue
        if detected:
            context = detected.over(context)
    entries = get_value(_BAGGAGE_KEY)
    if entries and isinstance(entries, dict):
        from_baggage = {
            _FIELD_OF_BAGGAGE_KEY[key]: str(value) for key, value in entries.items() if key in _FIELD_OF_BAGGAGE_KEY
        }
        if from_baggage:
            context = OrchestrationContext(**from_baggage).over(context)
    explicit = _explicit.get()
    if explicit is not None:
        context = explicit.over(context)
    return context


def new_opaque_id() -> str:
    """A fresh id for one unit of work, written both on the span and into Databricks tags."""
    return random.getrandbits(128).to_bytes(16, "big").hex()
