"""`make bench`: run the four ingest benchmarks in one process and print a table (results in bench/results/).

1. DynamoDB requests per inbound webhook (cold and warm), and per inbound message in the stream handler.
2. Ingest latency through the runner vs a bare PutItem (and vs health GET + PutItem), interleaved samples.
3. A burst of 2,000 webhooks from 16 threads with duplicates: errors, lost and doubled messages, throughput.
4. Cold import of `app` vs boto3 + chalice + pynamodb.
Automation: DynamoDB requests of an idle tick and per fired timer, fire lag of 1,000 timers, requests per outgoing
webhook delivery (bench/automation_bench.py).
Tasks: read units of "my overdue" with 10,000 tasks vs 100, and DynamoDB requests per create (bench/tasks_bench.py).
Analytics: dashboard read units at 100k vs 1k messages, counter write units per message, export time vs the library
and its peak memory (bench/analytics_bench.py).
Search: query p95 at 100,000 documents vs the bare engine, and webhook -> findable lag (bench/search_bench.py).
Backups: export of a 100,000-item workspace, seconds and memory; import (bench/backup_bench.py).

A failing figure is reported and the others still run; the exit code is non-zero only when the stack cannot start.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import report

REPO_ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench")


def machine_info() -> dict[str, Any]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "commit": git_commit(), "cpus": cpus,
        "python": platform.python_version(), "platform": platform.platform(), "machine": platform.machine(),
        "load": load_average(),
    }


def load_average() -> str:
    """1-minute load average (other work on the machine skews absolute figures; ratios share it)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def git_commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def section(name: str, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one figure; a failure becomes {"error": ...} (with the traceback on stderr) instead of stopping the run."""
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        result = measure()
    except Exception as err:
        log.exception("%s failed", name)
        return {"error": f"{type(err).__name__}: {err}"}
    result["section_seconds"] = round(time.perf_counter() - started, 1)
    print(f"[bench] {name} done in {result['section_seconds']} s", file=sys.stderr, flush=True)
    return result


def run_stack_sections(results: dict[str, Any]) -> bool:
    """Figures 1-3 on one embedded stack. False when the stack did not start."""
    from bench import burst, calls, harness, latency

    try:
        stack = harness.start_stack()
    except Exception as err:
        log.exception("the embedded stack did not start")
        for key in ("ddb_calls", "ingest_latency", "burst"):
            results[key] = {"error": f"stack did not start: {type(err).__name__}: {err}"}
        return False
    try:
        channel = harness.new_channel(stack)
        results["ddb_calls"] = section("DynamoDB calls per webhook", lambda: calls.measure(stack, channel))
        results["ingest_latency"] = section("ingest latency", lambda: latency.measure(stack, channel))
        burst_channel = harness.new_channel(stack)
        results["burst"] = section("burst", lambda: burst.measure(stack, burst_channel))
        from bench import automation_bench

        results["automation"] = section("timers and outgoing webhooks", lambda: automation_bench.measure(stack))
        from bench import tasks_bench

        results["tasks"] = section("tasks", lambda: tasks_bench.measure(stack))
        from bench import analytics_bench

        results["analytics"] = section("analytics", lambda: analytics_bench.measure(stack))
        from bench import surveys_bench

        results["surveys"] = section("surveys", lambda: surveys_bench.measure(stack))
        from bench import search_bench

        results["search"] = section("full-text search", lambda: search_bench.measure(stack))
        from bench import backup_bench

        results["backup"] = section("backup export of 100,000 items", lambda: backup_bench.measure(stack))
    except Exception as err:
        log.exception("benchmark setup failed")
        for key in ("ddb_calls", "ingest_latency", "burst"):
            results.setdefault(key, {"error": f"setup failed: {type(err).__name__}: {err}"})
    finally:
        harness.stop_stack(stack)
    return True


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    started = time.perf_counter()
    results: dict[str, Any] = {"meta": machine_info()}
    from bench import imports

    results["cold_import"] = section("cold import", imports.measure)  # first: while the machine is quiet
    started_ok = run_stack_sections(results)
    from bench import deploy_bench, frontend_bench

    results["frontend"] = section("frontend sizes and webhook -> console latency", frontend_bench.run)
    results["deploy"] = section("Lambda bundle, packaged cold import, cost", deploy_bench.run)
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    results["meta"]["load_at_end"] = load_average()
    try:  # the figures first: a report that cannot render one of them must not lose the run
        path = report.write_json(results)
        saved = f"results: {path.relative_to(REPO_ROOT)}"
    except OSError as err:
        saved = f"could not write the results: {err}"
    print(report.render(results))
    print(saved)
    return 0 if started_ok else 1


if __name__ == "__main__":
    sys.exit(main())
