"""Every benchmark of the issue in one run on one machine, reported as ratios.

    python benchmarks/run_all.py            # the full run (about 10 minutes on 2 cores)
    python benchmarks/run_all.py --quick    # fewer rounds and spans, to check that everything runs

1. SQL per-statement overhead, client side: bare connector vs this instrumentation vs contrib dbapi (spans only)
   vs the floor (one span + one histogram record); end to end against the emulator (``sql_overhead.py``);
2. the same with dbapi under ``OTEL_SEMCONV_STABILITY_OPT_IN=database`` (span + duration histogram: the
   like-for-like peer), in a child process because dbapi reads that variable once;
3. per-call overhead of the ``ApiClient.do`` patch (``workspace_overhead.py``);
4. pass-through cost of the cost-reconciling span processor for spans without a reconcile key
   (``reconcile_passthrough.py``);
5. import time of the package vs ``opentelemetry.instrumentation.dbapi`` in fresh interpreters (``import_time.py``);
6. memory at 1M spans processed by the instrumentation and held by the reconciling processor (``memory_1m.py``).

The reconciler's scale benchmark (``reconcile_scale.py``) takes much longer and runs on its own.

Each writes ``benchmarks/results/<name>.json``; this runner adds ``benchmarks/results/summary.json`` with the ratios.
Absolute times vary between machines and with load; run on an idle machine (check ``uptime``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import import_time  # noqa: E402
import memory_1m  # noqa: E402
import reconcile_passthrough  # noqa: E402
import sql_overhead  # noqa: E402
import workspace_overhead  # noqa: E402

RESULTS = HERE / "results" / "summary.json"
DBAPI_DATABASE_RESULTS = HERE / "results" / "sql_overhead_dbapi_database.json"


def sql_with_dbapi_database_semconv(rounds: int, calls: int) -> dict[str, Any]:
    environment = {**os.environ, "OTEL_SEMCONV_STABILITY_OPT_IN": "database"}
    command = [
        sys.executable,
        str(HERE / "sql_overhead.py"),
        f"--rounds={rounds}",
        f"--calls={calls}",
        f"--results={DBAPI_DATABASE_RESULTS}",
    ]
    subprocess.run(command, check=True, env=environment)
    return json.loads(DBAPI_DATABASE_RESULTS.read_text())


def summarize(results: dict[str, Any], load: str) -> dict[str, Any]:
    sql, sql_database = results["sql"], results["sql_dbapi_database"]
    workspace = results["workspace"]
    return {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_at_start": load,
        "sql_overhead_us": sql["overhead_us"]["ours"],
        "sql_ours_to_dbapi_spans_only": sql["ratio_ours_to_dbapi"],
        "sql_ours_to_dbapi_database_semconv": sql_database["ratio_ours_to_dbapi"],
        "sql_dbapi_database_semconv_to_its_floor": sql_database["overhead_us"]["dbapi"]
        / sql_database["overhead_us"]["floor"],
        "sql_ours_to_floor": sql["ratio_ours_to_floor"],
        "sql_end_to_end_overhead_share": sql["end_to_end_overhead_share"],
        "workspace_overhead_over_floor_span": workspace["overhead_over_floor"],
        "workspace_overhead_over_loop_span": workspace["overhead_over_loop_span"],
        "reconcile_passthrough_us": results["reconcile_passthrough"]["overhead_us"],
        "import_ms": results["import_time"]["importtime_cumulative_ms"],
        "import_ours_to_dbapi": results["import_time"]["ratio_ours_to_dbapi"],
        "import_loads_connector_or_sdk": results["import_time"]["imports_connector_or_sdk"],
        "memory_spans": results["memory"]["spans"],
        "memory_processed_rss_growth_mib": results["memory"]["processed"]["rss_growth_after_first_tenth_mib"],
        "memory_held_rss_growth_mib": results["memory"]["held"]["rss_growth_after_first_tenth_mib"],
        "memory_held_at_end": results["memory"]["held"]["held_at_end"],
    }


def _sql_ratios(sql: dict[str, Any], sql_database: dict[str, Any]) -> dict[str, float]:
    """One run's SQL ratios, for the spread between runs."""
    return {
        "sql_ours_to_floor": sql["ratio_ours_to_floor"],
        "sql_ours_to_dbapi_database_semconv": sql_database["ratio_ours_to_dbapi"],
    }


def print_summary(summary: dict[str, Any]) -> None:
    passthrough = summary["reconcile_passthrough_us"]
    lines = [
        f"summary ({summary['cpus']} cpus, load average at start {summary['load_average_at_start']}):",
        f"  SQL overhead per statement                  {summary['sql_overhead_us']:8.1f} us",
        f"  ours / dbapi (spans only)                   {summary['sql_ours_to_dbapi_spans_only']:8.2f}",
        f"  ours / dbapi (semconv database: +histogram) {summary['sql_ours_to_dbapi_database_semconv']:8.2f}"
        "  target <= 1",
        f"  dbapi (database) / floor                    {summary['sql_dbapi_database_semconv_to_its_floor']:8.2f}",
        f"  ours / floor (span + histogram)             {summary['sql_ours_to_floor']:8.2f}  target <= 1.5",
        f"  end to end share of a SELECT 1              {summary['sql_end_to_end_overhead_share']:8.1%}",
        "  ApiClient.do overhead / its floor           "
        + ", ".join(f"{name} {value:.2f}" for name, value in summary["workspace_overhead_over_floor_span"].items())
        + "  target <= 2",
        "  ApiClient.do overhead / a loop span         "
        + ", ".join(f"{name} {value:.2f}" for name, value in summary["workspace_overhead_over_loop_span"].items()),
        f"  reconciling processor pass-through          foreign {passthrough['foreign']:.2f} us, "
        f"unkeyed {passthrough['unkeyed']:.2f} us  target < 1 us",
        f"  import ours / dbapi                         {summary['import_ours_to_dbapi']:8.2f}  "
        f"({summary['import_ms']['ours']:.0f} ms vs {summary['import_ms']['dbapi']:.0f} ms; loads connector/SDK: "
        f"{summary['import_loads_connector_or_sdk']})",
        f"  memory over {summary['memory_spans']:,} spans after the first tenth: processed "
        f"{summary['memory_processed_rss_growth_mib']:+.1f} MiB, held {summary['memory_held_rss_growth_mib']:+.1f} "
        f"MiB ({summary['memory_held_at_end']:,} held at the end)",
    ]
    print("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds and 50,000 spans: checks that all runs")
    parser.add_argument("--sql-runs", type=int, default=3, help="how many times the SQL ratios are measured (spread)")
    options = parser.parse_args(argv)
    rounds, calls, spans, runs = (3, 50, 50_000, 3) if options.quick else (30, 300, 1_000_000, 15)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    results = {
        "sql": sql_overhead.main([f"--rounds={rounds}", f"--calls={calls}"]),
        "sql_dbapi_database": sql_with_dbapi_database_semconv(rounds, calls),
        "workspace": workspace_overhead.main([f"--rounds={max(rounds * 2 // 3, 3)}", f"--calls={calls * 5 // 3}"]),
        "reconcile_passthrough": reconcile_passthrough.main([f"--rounds={rounds}"]),
        "import_time": import_time.main([f"--runs={runs}"]),
        "memory": memory_1m.main([f"--spans={spans}"]),
    }
    summary = summarize(results, load)
    summary["runs"] = [_sql_ratios(results["sql"], results["sql_dbapi_database"])]
    for _ in range(max(options.sql_runs, 1) - 1):
        again = sql_overhead.main([f"--rounds={rounds}", f"--calls={calls}", "--results=/dev/null"])
        summary["runs"].append(_sql_ratios(again, sql_with_dbapi_database_semconv(rounds, calls)))
    for name in summary["runs"][0]:
        summary[name] = statistics.median(run[name] for run in summary["runs"])
    summary["sql_ratios_are_the_median_of_runs"] = len(summary["runs"])
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print_summary(summary)
    print(f"written to {RESULTS}")
    return summary


if __name__ == "__main__":
    main()
