"""A real ``databricks.sdk.WorkspaceClient`` wired to the emulator, deaf to the caller's Databricks settings.

The SDK is imported only when a client is asked for, so the emulator itself does not need it.
"""

from __future__ import annotations

import functools
from typing import Any

from .clock import Clock


def workspace_client(host: str, token: str, clock: Clock, /, **overrides: Any):
    """Build a ``WorkspaceClient`` for ``host``.

    Environment variables (``DATABRICKS_*``) and ``~/.databrickscfg`` profiles are ignored, authentication is the
    emulator's personal access token, and the SDK's retry loop sleeps on the emulator clock: a retried 503 moves
    simulated time forward instead of blocking the caller. ``overrides`` are ``Config`` keywords (pass
    ``clock=None`` to get the SDK's real-time retry clock back).
    """
    from databricks.sdk import WorkspaceClient

    settings: dict[str, Any] = {
        "host": host,
        "token": token,
        "auth_type": "pat",
        "retry_timeout_seconds": 30,
        "http_timeout_seconds": 30,
        "clock": _sdk_clock(clock),
    }
    settings.update(overrides)
    if settings.get("clock") is None:
        settings.pop("clock")
    return WorkspaceClient(config=_config_class()(**settings))


@functools.cache
def _config_class() -> type:
    from databricks.sdk.config import Config

    class EmulatorConfig(Config):
        """A ``Config`` that reads nothing from the environment or config files."""

        @classmethod
        def attributes(cls):
            return Config.attributes()

        def _load_from_env(self) -> None:
            return None

        def _known_file_config_loader(self) -> None:
            return None

    return EmulatorConfig


def _sdk_clock(clock: Clock):
    from databricks.sdk.clock import Clock as SdkClock

    class EmulatorSdkClock(SdkClock):
        """The SDK's retry clock on emulator time: sleeping advances the emulator clock."""

        def time(self) -> float:
            return clock.time()

        def sleep(self, seconds: float) -> None:
            clock.advance(max(0.0, seconds))

    return EmulatorSdkClock()
