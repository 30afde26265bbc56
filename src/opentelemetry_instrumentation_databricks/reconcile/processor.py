"""``CostReconcilingSpanProcessor``: hold spans of billed work briefly, and forward them with billed cost if known.

Usage (programmatic)::

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry_instrumentation_databricks.reconcile import CostReconcilingSpanProcessor, SqlBillingSource

    source = SqlBillingSource(lambda: sql.connect(server_hostname=..., http_path=..., access_token=...))
    provider = TracerProvider()
    provider.add_span_processor(
        CostReconcilingSpanProcessor(BatchSpanProcessor(OTLPSpanExporter()), source=source, hold_seconds=300)
    )

Under ``opentelemetry-instrument`` see :mod:`.configurator`.

What it does with each finished span:

* no reconcile key (:func:`.keys.key_of`; everything that is not a statement, job run, pipeline update, notebook
  or command span): handed straight to the wrapped processor, after one dict lookup;
* with a key: held for at most ``hold_seconds``. ONE background thread looks the held keys up in batches of
  ``batch_size`` (one SQL per batch) every ``lookup_interval_seconds``. A span whose billing is found is forwarded as
  a new span with ``databricks.dbu.billed``, ``databricks.cost.billed_usd``, ``databricks.cost.source=billing`` and
  ``databricks.cost.estimate_error``, plus the Dagster context and ``databricks.tag.<key>`` user tags it lacks
  from the unit's billing tags (:mod:`.attribution`; ``databricks.billing.attribution_source`` is ``span`` when the
  span had its own context); a span whose time is up is forwarded with its estimate and
  ``databricks.cost.status=pending`` (the reconciler adds the billed cost later).

Bounds: at most ``max_held`` spans are held; when full the oldest is released at once as ``pending`` (never
dropped; :attr:`released_early` counts them). ``force_flush`` and ``shutdown`` release every span still held as
``pending`` and flush/shut down the wrapped processor. With ``flush_lookup_seconds > 0`` they first ask for one last
lookup round of the held spans and wait for it at most that long (and ``force_flush``'s own timeout). It is off by
default: billing is rarely there yet at exit, and a warehouse that has to wake up would hold the exit that long.
A source that fails or hangs never blocks ``on_end`` and never loses a span: failures are counted
(:attr:`lookup_failures`), logged once, and the spans go out when their time is up.

Billing rows usually arrive hours after the work, so on a live process most spans leave as ``pending``; the
processor pays off for long holds, replays and late-ending runs. The reconciler (:mod:`.reconciler`) is the
complete path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from ..attributes import (
    BILLING_ATTRIBUTION_SOURCE,
    COMPUTE_TYPE,
    COST_BILLED_USD,
    COST_ESTIMATE_ERROR,
    COST_SOURCE,
    COST_STATUS,
    DBU_BILLED,
)
from .attribution import SPAN, SPAN_RECORD, attribution, context_of_span
from .keys import ReconcileKey, attributes_of, key_of
from .source import BilledCost, BillingSource
from .spans import BILLING, PENDING, estimate_error, with_attributes

_logger = logging.getLogger(__name__)

_MARKER = COMPUTE_TYPE
_PENDING_ATTRIBUTES = {COST_STATUS: PENDING}


class _Held:
    __slots__ = ("deadline", "key", "next_lookup", "span")

    def __init__(self, span: ReadableSpan, key: ReconcileKey, deadline: float) -> None:
        self.span = span
        self.key = key
        self.deadline = deadline
        self.next_lookup = 0.0


class CostReconcilingSpanProcessor(SpanProcessor):
    """Wraps a span processor; adds billed cost to spans of billed work when the billing source already has it."""

    def __init__(
        self,
        wrapped_processor: SpanProcessor,
        source: BillingSource,
        *,
        hold_seconds: float = 60.0,
        max_held: int = 10_000,
        batch_size: int = 500,
        lookup_interval_seconds: float = 5.0,
        flush_lookup_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_held < 1 or batch_size < 1:
            raise ValueError("max_held and batch_size must be at least 1")
        if hold_seconds < 0 or lookup_interval_seconds <= 0 or flush_lookup_seconds < 0:
            raise ValueError("hold_seconds and flush_lookup_seconds must be >= 0 and lookup_interval_seconds > 0")
        self.wrapped_processor = wrapped_processor
        self.source = source
        self.hold_seconds = hold_seconds
        self.max_held = max_held
        self.batch_size = batch_size
        self.lookup_interval_seconds = lookup_interval_seconds
        self.flush_lookup_seconds = flush_lookup_seconds
        self.clock = clock
        self.tag_keys: tuple[str, ...] = tuple(getattr(source, "tag_keys", ()))
        self.released_early = 0
        self.lookup_failures = 0
        self.billed = 0
        self.pending = 0
        self.lookups_done = threading.Event()
        """Set after each background round (tests wait on it instead of sleeping)."""
        self._forward = wrapped_processor.on_end
        self._held: OrderedDict[int, _Held] = OrderedDict()
        self._sequence = 0
        self._fresh = 0
        self._look_up_all = False
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._failure_logged = False
        self._round_waiters: list[threading.Event] = []
        self._thread = threading.Thread(target=self._run, name="databricks-cost-reconciler", daemon=True)
        self._thread.start()

    # the SpanProcessor interface
    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.wrapped_processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            marked = _MARKER in span._attributes._dict
        except AttributeError:
            marked = _MARKER in attributes_of(span)
        if not marked:
            self._forward(span)
            return
        key = key_of(span)
        if key is None or self._stopped:
            if key is not None:
                self._release_pending(span)
            else:
                self._forward(span)
            return
        released = []
        now = self.clock()
        with self._lock:
            self._sequence += 1
            self._held[self._sequence] = _Held(span, key, now + self.hold_seconds)
            self._fresh += 1
            if len(self._held) > self.max_held:
                released.append(self._held.popitem(last=False)[1])
                self.released_early += 1
            while self._held:
                oldest = next(iter(self._held.values()))
                if oldest.deadline > now:
                    break
                released.append(self._held.popitem(last=False)[1])
            full_batch = self._fresh >= self.batch_size
        for held in released:
            self._release_pending(held.span)
        if full_batch:
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self._last_lookup(timeout_millis / 1000)
        self._release_all()
        return self.wrapped_processor.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._last_lookup(self.flush_lookup_seconds)
        self._stopped = True
        self._wake.set()
        self._release_all()
        self._thread.join(timeout=5.0)
        self.wrapped_processor.shutdown()

    # state
    @property
    def held(self) -> int:
        return len(self._held)

    def lookup_now(self) -> None:
        """Look every held span up once more, on the background thread, now (callers that know billing just
        arrived); otherwise a held span is looked up when it arrives and then once per lookup interval."""
        self._look_up_all = True
        self._wake.set()

    # the background thread
    def _last_lookup(self, timeout_seconds: float) -> None:
        """One more lookup round for the held spans, waited for at most ``flush_lookup_seconds`` (and the caller's
        timeout); whatever it has not billed by then leaves as pending."""
        wait = min(self.flush_lookup_seconds, timeout_seconds)
        if wait <= 0 or self._stopped or not self._held or not self._thread.is_alive():
            return
        done = threading.Event()
        with self._lock:
            self._round_waiters.append(done)
        self._look_up_all = True
        self._wake.set()
        done.wait(wait)

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self.lookup_interval_seconds)
            self._wake.clear()
            if self._stopped:
                break
            with self._lock:
                waiters, self._round_waiters = self._round_waiters, []
            try:
                self._round()
            except Exception:
                _logger.exception("cost reconciliation round failed; held spans are released when their time is up")
            for waiter in waiters:
                waiter.set()
            self.lookups_done.set()
        with self._lock:
            waiters, self._round_waiters = self._round_waiters, []
        for waiter in waiters:
            waiter.set()

    def _round(self) -> None:
        """Look up the held spans that are due (new ones, and the others once per ``lookup_interval_seconds``), or
        all of them after :meth:`lookup_now` and at flush: never the same spans again on every new one."""
        self._release_expired()
        now = self.clock()
        with self._lock:
            due = float("inf") if self._look_up_all else now
            self._look_up_all = False
            batches = [(sequence, held) for sequence, held in self._held.items() if held.next_lookup <= due]
            for _, held in batches:
                held.next_lookup = now + self.lookup_interval_seconds
            self._fresh = 0
        for start in range(0, len(batches), self.batch_size):
            batch = batches[start : start + self.batch_size]
            try:
                found = self.source.lookup([held.key for _, held in batch])
            except Exception:
                self.lookup_failures += 1
                if not self._failure_logged:
                    self._failure_logged = True
                    _logger.warning("billing lookup failed; spans go out with their estimate as pending", exc_info=True)
                break
            for sequence, held in batch:
                cost = found.get(held.key.lookup_unit)
                if cost is not None and self._claim(sequence):
                    self._release_billed(held.span, cost)
            if self._stopped:
                return
        self._release_expired()

    def _release_expired(self) -> None:
        now = self.clock()
        expired = []
        with self._lock:
            while self._held:
                sequence, held = next(iter(self._held.items()))
                if held.deadline > now:
                    break
                del self._held[sequence]
                expired.append(held)
        for held in expired:
            self._release_pending(held.span)

    def _claim(self, sequence: int) -> bool:
        with self._lock:
            return self._held.pop(sequence, None) is not None

    def _release_all(self) -> None:
        with self._lock:
            held = list(self._held.values())
            self._held.clear()
        for item in held:
            self._release_pending(item.span)

    def _release_billed(self, span: ReadableSpan, cost: BilledCost) -> None:
        extra: dict[str, Any] = {}
        try:
            extra.update(self._attribution(span, cost))
        except Exception:
            _logger.debug("could not attribute a billed span; forwarding it with its cost only", exc_info=True)
        extra.update({DBU_BILLED: cost.dbu, COST_SOURCE: BILLING})
        if cost.usd is not None:
            extra[COST_BILLED_USD] = cost.usd
        error = estimate_error(attributes_of(span), cost.dbu, cost.usd)
        if error is not None:
            extra[COST_ESTIMATE_ERROR] = error
        self.billed += 1
        self._safe_forward(span, extra)

    def _attribution(self, span: ReadableSpan, cost: BilledCost) -> dict[str, Any]:
        own = attributes_of(span)
        found = attribution(
            kind=cost.kind,
            recorded=[context_of_span(own, self.tag_keys)],
            tags=cost.tags,
            user_keys=self.tag_keys,
            billing_facts={},
        )
        extra: dict[str, Any] = {name: value for name, value in found.attributes.items() if name not in own}
        extra[BILLING_ATTRIBUTION_SOURCE] = SPAN if found.source == SPAN_RECORD else found.source
        return extra

    def _release_pending(self, span: ReadableSpan) -> None:
        self.pending += 1
        self._safe_forward(span, _PENDING_ATTRIBUTES)

    def _safe_forward(self, span: ReadableSpan, extra: dict[str, Any]) -> None:
        try:
            replacement = with_attributes(span, extra)
        except Exception:
            _logger.debug("could not copy a span; forwarding it unchanged", exc_info=True)
            replacement = span
        self._forward(replacement)
