"""Import time of the package against ``opentelemetry.instrumentation.dbapi``, each in fresh interpreters.

Per module, ``--runs`` fresh interpreters run ``python -X importtime -c "import <module>"`` (interleaved with the
other module's runs); the figure is the median cumulative time of the module's own top-level import as Python
reports it, plus the median wall time of the whole interpreter minus that of ``python -c pass``. Each run also
checks that importing the package loaded neither ``databricks.sql`` nor ``databricks.sdk``.

    python benchmarks/import_time.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "import_time.json"
OURS = "opentelemetry_instrumentation_databricks"
PEER = "opentelemetry.instrumentation.dbapi"
_IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s+(.*)$")
_CHECK = "import sys; print('databricks.sql' in sys.modules or 'databricks.sdk' in sys.modules)"


def cumulative_import_microseconds(module: str) -> tuple[int, float]:
    """(cumulative µs of ``module`` as -X importtime reports it, wall seconds of the interpreter)."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - started
    for line in completed.stderr.splitlines():
        found = _IMPORTTIME_LINE.match(line)
        if found and found.group(3).strip() == module:
            return int(found.group(2)), wall
    raise RuntimeError(f"-X importtime reported no line for {module}")


def bare_interpreter_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def measure(runs: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"ours_us": [], "peer_us": [], "ours_wall": [], "peer_wall": [], "bare": []}
    for _ in range(runs):
        microseconds, wall = cumulative_import_microseconds(OURS)
        samples["ours_us"].append(microseconds)
        samples["ours_wall"].append(wall)
        microseconds, wall = cumulative_import_microseconds(PEER)
        samples["peer_us"].append(microseconds)
        samples["peer_wall"].append(wall)
        samples["bare"].append(bare_interpreter_seconds())
    loads_libraries = subprocess.run(
        [sys.executable, "-c", f"import {OURS}; {_CHECK}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    median = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "python": sys.version.split()[0],
        "runs": runs,
        "importtime_cumulative_ms": {"ours": median["ours_us"] / 1000, "dbapi": median["peer_us"] / 1000},
        "ratio_ours_to_dbapi": median["ours_us"] / median["peer_us"],
        "interpreter_wall_over_bare_ms": {
            "ours": (median["ours_wall"] - median["bare"]) * 1000,
            "dbapi": (median["peer_wall"] - median["bare"]) * 1000,
        },
        "imports_connector_or_sdk": loads_libraries == "True",
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    options = parser.parse_args(argv)
    results = measure(options.runs)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    cumulative, wall = results["importtime_cumulative_ms"], results["interpreter_wall_over_bare_ms"]
    print(f"import time, median of {options.runs} fresh interpreters (-X importtime, cumulative):")
    print(f"  {OURS:45} {cumulative['ours']:7.1f} ms   (wall over bare python: {wall['ours']:.0f} ms)")
    print(f"  {PEER:45} {cumulative['dbapi']:7.1f} ms   (wall over bare python: {wall['dbapi']:.0f} ms)")
    print(f"  ours / dbapi                                  {results['ratio_ours_to_dbapi']:7.2f}")
    print(f"  imports databricks-sql-connector or databricks-sdk: {results['imports_connector_or_sdk']}")
    print(f"written to {RESULTS}")
    return results


if __name__ == "__main__":
    main()
