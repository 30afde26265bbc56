"""Run databricks-sql-connector's own end-to-end tests against the emulator and print the pass rate.

Usage::

    git --git-dir=<mirror of databricks/databricks-sql-python> archive v4.4.0 | tar -x -C /tmp/dbsql
    python conformance/connector_e2e.py /tmp/dbsql [-k EXPR] [--junit FILE]

The argument is a source checkout of the connector (its ``tests/e2e``); nothing is fetched at run time and the
installed connector is the one under test. The suite runs unchanged in a child pytest with
:mod:`conformance.emulator_shim` loaded, which starts the emulator and redirects connections to it. The figure
is reported per group: core (``TestPySQLCoreSuite``, ``TestPySQLUnityCatalogSuite``), parameterized queries,
complex types and async. Tests that depend on mocked retries or UC-volume staging are excluded and listed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

GROUPS = {
    "core": (
        "tests/e2e/test_driver.py::TestPySQLCoreSuite",
        "tests/e2e/test_driver.py::TestPySQLUnityCatalogSuite",
    ),
    "parameterized queries": ("tests/e2e/test_parameterized_queries.py",),
    "complex types": ("tests/e2e/test_complex_types.py",),
    "async": ("tests/e2e/test_driver.py::TestPySQLAsyncQueriesSuite",),
}
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def group_of(nodeid: str) -> str | None:
    for group, prefixes in GROUPS.items():
        if any(
            nodeid == prefix or nodeid.startswith(prefix + "::") or nodeid.startswith(prefix + "[")
            for prefix in prefixes
        ):
            return group
    return None


def run_suite(checkout: Path, extra: Sequence[str]) -> dict:
    """Run the selected e2e tests in a child pytest; returns ``{"outcomes": {nodeid: outcome}, "excluded": [...]}``."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "outcomes.json"
        environment = dict(os.environ)
        environment["EMULATOR_CONFORMANCE_REPORT"] = str(report)
        environment["PYTHONPATH"] = os.pathsep.join(
            [str(REPOSITORY_ROOT), str(checkout), environment.get("PYTHONPATH", "")]
        )
        targets = [target for prefixes in GROUPS.values() for target in prefixes]
        command = [
            sys.executable,
            "-m",
            "pytest",
            *targets,
            "-p",
            "conformance.emulator_shim",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rN",
            "--tb=line",
            "-o",
            "addopts=",
            *extra,
        ]
        subprocess.run(command, cwd=checkout, env=environment, check=False)
        if not report.exists():
            raise SystemExit("the e2e run produced no report: see the pytest output above")
        return json.loads(report.read_text(encoding="utf-8"))


def summarize(results: dict) -> str:
    lines = []
    tally: dict[str, Counter] = {group: Counter() for group in GROUPS}
    for nodeid, outcome in sorted(results["outcomes"].items()):
        group = group_of(nodeid)
        if group is None:
            continue
        tally[group][outcome] += 1
        lines.append(f"{outcome.upper():8} {nodeid}")
    lines.append("")
    lines.append("Excluded (mocked retries, UC-volume staging, streaming uploads):")
    lines.extend(f"  {nodeid}" for nodeid in sorted(results["excluded"]))
    lines.append("")
    total = Counter()
    for group, counts in tally.items():
        total.update(counts)
        lines.append(_figure(group, counts))
    lines.append(_figure("all four groups", total))
    return "\n".join(lines)


def _figure(label: str, counts: Counter) -> str:
    ran = counts["passed"] + counts["failed"]
    rate = f"{100 * counts['passed'] / ran:.1f}%" if ran else "n/a"
    return f"{label:24} {counts['passed']:3} passed / {ran:3} run ({rate}), {counts['skipped']} skipped by the suite"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("checkout", type=Path, help="a source checkout of databricks-sql-python (with tests/e2e)")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments, e.g. -k fetchone")
    options = parser.parse_args(argv)
    if not (options.checkout / "tests" / "e2e").is_dir():
        parser.error(f"{options.checkout} has no tests/e2e: pass the root of a databricks-sql-python checkout")
    print(summarize(run_suite(options.checkout.resolve(), options.pytest_args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
