"""One bounded GET of a Databricks REST resource, outside the SDK's retry loop and outside our own patch.

For the instrumentation's own look-ups (a warehouse's size, a pipeline's event log): a single attempt with a
timeout, so a slow or absent workspace costs at most ``timeout`` seconds and never a span of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def get_json(url: str, headers: Mapping[str, str], timeout: float) -> Any:
    """The decoded JSON body of ``GET url``; any failure (network, HTTP status, JSON) raises."""
    import urllib.request  # here, not at the top: it costs every importer of the package ~6 ms

    request = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)
