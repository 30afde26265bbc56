"""The emulator's clock: wall time plus whatever the user skipped ahead, or fully frozen time."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone


def checked_speed(speed: object) -> float:
    """``speed`` as simulated seconds per wall-clock second: a finite number > 0, else ``ValueError``."""
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not 0 < speed < float("inf"):
        raise ValueError(f"speed={speed!r}: simulated seconds per wall-clock second, a finite number > 0")
    return float(speed)


class Clock:
    """Simulated time for the emulated workspace.

    ``Clock()`` follows the wall clock; ``Clock(speed=60)`` runs 60 times faster (an hour-long job run takes a
    minute); ``Clock(frozen=True)`` stands still until ``advance()`` moves it.
    Either way ``advance(seconds)`` jumps ahead at once, which is how tests and examples live through hours of
    job runs and billing delays without sleeping.
    """

    def __init__(self, start: datetime | float | None = None, *, frozen: bool = False, speed: float = 1.0) -> None:
        self.speed = checked_speed(speed)
        if isinstance(start, datetime):
            start = start.timestamp()
        self._start = time.time() if start is None else float(start)
        self._frozen = frozen
        self._origin = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()
        self._listeners: list = []

    @property
    def frozen(self) -> bool:
        return self._frozen

    def time(self) -> float:
        """Seconds since the epoch, as the emulated workspace sees them."""
        elapsed = 0.0 if self._frozen else (time.monotonic() - self._origin) * self.speed
        return self._start + elapsed + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    def millis(self) -> int:
        return int(self.time() * 1000)

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (never backwards) and return the new time."""
        if seconds < 0:
            raise ValueError(f"Clock.advance(seconds={seconds!r}): time only moves forward; pass seconds >= 0")
        with self._lock:
            self._offset += seconds
            listeners = list(self._listeners)
        now = self.time()
        for listener in listeners:
            listener(now)
        return now

    def on_advance(self, listener) -> None:
        """Call ``listener(now)`` after every ``advance()``: simulated work uses it to move its state on."""
        with self._lock:
            self._listeners.append(listener)
