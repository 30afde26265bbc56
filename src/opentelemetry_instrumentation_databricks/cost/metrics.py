"""The metric instruments of the instrumentation: operation duration, estimated DBUs and estimated dollars.

Metric attributes are low-cardinality only (system, operation, compute type, warehouse, Dagster job and asset,
error type); statement, run and trace ids belong on spans.

DBUs and dollars are sums that only grow, so they are kept here as running totals per attribute set and
reported by observable counters when the reader collects: the hot path adds two floats under a lock instead of
making two more SDK measurements. At most ``MAX_SERIES`` attribute sets are kept; further ones are added to one
series marked ``otel.metric.overflow=true``, as the SDK does for its own cardinality limit.

Durations are recorded into the ``db.client.operation.duration`` histogram when the reader collects too: the hot
path appends ``(seconds, attributes)`` to a buffer, and the DBU counter's callback (which every collection runs
before it reads the histogram's storage) records them, so each collection sees every duration that ended before
it, like a direct ``record()``. The buffer holds at most ``MAX_PENDING_DURATIONS``; while it is full (no reader
collected for that many operations), each caller records its own duration directly, like a direct ``record()``:
nothing is dropped and no single call pays for the whole buffer. Shutting the meter provider down collects once
more, so nothing is lost at exit.
What differs from a direct record: the work runs on the reader's thread instead of the caller's, and a
histogram exemplar (off the caller's span anyway: the statement span has ended) carries no span context.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from ..attributes import METRIC_COST_ESTIMATED, METRIC_DBU_ESTIMATED, METRIC_OPERATION_DURATION, METRICS

MAX_SERIES = 2000
MAX_PENDING_DURATIONS = 4096

DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""The semantic-convention buckets, extended to an hour for warehouse queries and runs."""

_OVERFLOW_KEY = (("otel.metric.overflow", True),)
_DESCRIBED = {metric.name: metric for metric in METRICS}


class CostMetrics:
    def __init__(self, meter: Meter) -> None:
        duration = _DESCRIBED[METRIC_OPERATION_DURATION]
        self.duration = meter.create_histogram(
            duration.name,
            unit=duration.unit,
            description=duration.description,
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self._lock = threading.Lock()
        self._totals: dict[tuple, list] = {}
        self._by_identity: dict[int, list] = {}
        self._pending: list[tuple[float, Mapping[str, str]]] = []
        counters = ((METRIC_DBU_ESTIMATED, self._observe_dbu), (METRIC_COST_ESTIMATED, self._observe_dollars))
        for name, callback in counters:
            metric = _DESCRIBED[name]
            meter.create_observable_counter(
                metric.name, callbacks=[callback], unit=metric.unit, description=metric.description
            )

    def record(self, seconds: float, dbu: float, dollars: float, attributes: Mapping[str, str]) -> None:
        """Callers that reuse one attribute mapping per series (as the SQL patch does) skip building its key."""
        totals = self._by_identity.get(id(attributes))
        if totals is None or totals[3] is not attributes:
            totals = self._series(attributes)
        with self._lock:
            totals[0] += dbu
            totals[1] += dollars
            pending = self._pending
            full = len(pending) >= MAX_PENDING_DURATIONS
            if not full:
                pending.append((seconds, attributes))
        if full:
            self.duration.record(seconds, attributes)

    def _series(self, attributes: Mapping[str, str]) -> list:
        key = tuple(attributes.items())
        with self._lock:
            totals = self._totals.get(key)
            if totals is None:
                if len(self._totals) >= MAX_SERIES:
                    key = _OVERFLOW_KEY
                    totals = self._totals.get(key)
                if totals is None:
                    totals = self._totals[key] = [0.0, 0.0, dict(key), attributes]
            if totals[3] is attributes and len(self._by_identity) < MAX_SERIES:
                self._by_identity[id(attributes)] = totals
        return totals

    def record_durations(self) -> None:
        """Hand the buffered durations to the histogram (the collection callback does; so may anyone)."""
        with self._lock:
            pending, self._pending = self._pending, []
        record = self.duration.record
        for seconds, attributes in pending:
            record(seconds, attributes)

    def _observe(self, index: int) -> Iterable[Observation]:
        with self._lock:
            series = [(totals[index], totals[2]) for totals in self._totals.values()]
        return [Observation(value, attributes) for value, attributes in series]

    def _observe_dbu(self, options: CallbackOptions) -> Iterable[Observation]:
        self.record_durations()
        return self._observe(0)

    def _observe_dollars(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._observe(1)
