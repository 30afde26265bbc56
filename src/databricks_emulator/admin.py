"""The emulator's own admin API (not a Databricks API): read and advance its clock from outside the process.

``GET /emulator/v1/clock`` answers ``{"time": ..., "frozen": ..., "speed": ...}``; ``POST /emulator/v1/clock/advance``
with ``{"seconds": 3600}`` moves simulated time forward and answers the new clock. Both need the workspace token.
From a shell: ``python -m databricks_emulator advance 3600 --host http://127.0.0.1:8765``.
"""

from __future__ import annotations

import math
from typing import Any

from .http import HttpApp, Request, invalid
from .workspace import Workspace

CLOCK_PATH = "/emulator/v1/clock"
ADVANCE_PATH = "/emulator/v1/clock/advance"


def register(app: HttpApp, workspace: Workspace) -> None:
    """Add the admin routes."""
    clock = workspace.clock

    def state() -> dict[str, Any]:
        return {"time": clock.time(), "frozen": clock.frozen, "speed": clock.speed}

    @app.router.route("GET", CLOCK_PATH)
    def get_clock(request: Request) -> dict[str, Any]:
        return state()

    @app.router.route("POST", ADVANCE_PATH)
    def advance(request: Request) -> dict[str, Any]:
        seconds = request.json().get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise invalid('seconds: give the number of simulated seconds to advance, e.g. {"seconds": 3600}')
        if seconds < 0:
            raise invalid(f"seconds={seconds}: the clock only moves forward; give 0 or more")
        clock.advance(float(seconds))
        return state()
