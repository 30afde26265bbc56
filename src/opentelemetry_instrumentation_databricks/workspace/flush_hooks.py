"""The user's ``TracerProvider.force_flush()`` and ``shutdown()`` first emit the pipeline update spans still waiting
for their end event, so a flush exports them and a shutdown does not lose them.

A span processor cannot do this: the provider calls its processors in the order they were added, so one added by
``instrument()`` would run after the user's exporting processor had already flushed (or shut down). Instead,
while instrumented, the SDK's ``TracerProvider.force_flush``/``shutdown`` are wrapped (``wrapt``, undone by
``uninstall``): the wrapper drains pending reads (:func:`.pipeline_end_reads.drain_all`, at most
``DRAIN_TIMEOUT_SECONDS`` and, for ``force_flush``, at most its ``timeout_millis``), then calls the original
with the user's arguments, untouched. With nothing pending it adds one check. Without ``opentelemetry-sdk`` it
does nothing. The interpreter's exit is covered by the ``atexit`` handler of :mod:`.pipeline_end_reads`, since the
provider's own exit handler holds the unwrapped method. Usage::

    install()     # in instrument()
    uninstall()   # in uninstrument()
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from opentelemetry.instrumentation.utils import unwrap

from . import pipeline_end_reads

_logger = logging.getLogger(__name__)

_MODULE = "opentelemetry.sdk.trace"
_DEFAULT_FLUSH_MILLIS = 30_000


def _sdk_tracer_provider() -> Any:
    try:
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        return None
    return TracerProvider


def _drain(timeout: float | None) -> None:
    try:
        pipeline_end_reads.drain_all(timeout)
    except Exception:  # the user's flush goes on whatever happens here
        _logger.debug("draining pending pipeline update spans failed", exc_info=True)


def _force_flush(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
    millis = kwargs.get("timeout_millis", args[0] if args else _DEFAULT_FLUSH_MILLIS)
    try:
        timeout: float | None = min(pipeline_end_reads.DRAIN_TIMEOUT_SECONDS, float(millis) / 1000)
    except (TypeError, ValueError):
        timeout = None
    _drain(timeout)
    return wrapped(*args, **kwargs)


def _shutdown(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
    _drain(None)
    return wrapped(*args, **kwargs)


def install() -> None:
    """Wrap the SDK ``TracerProvider``'s ``force_flush`` and ``shutdown`` (no-op without the SDK or when done)."""
    TracerProvider = _sdk_tracer_provider()
    if TracerProvider is None:
        return
    from wrapt import ObjectProxy, wrap_function_wrapper

    for name, wrapper in (("force_flush", _force_flush), ("shutdown", _shutdown)):
        if not isinstance(TracerProvider.__dict__.get(name), ObjectProxy):
            wrap_function_wrapper(_MODULE, f"TracerProvider.{name}", wrapper)


def uninstall() -> None:
    """Restore the SDK ``TracerProvider``'s own ``force_flush`` and ``shutdown``."""
    TracerProvider = _sdk_tracer_provider()
    if TracerProvider is None:
        return
    unwrap(TracerProvider, "force_flush")
    unwrap(TracerProvider, "shutdown")
