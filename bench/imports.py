"""Figure 4: cold import of the Lambda entry point (`import app`) versus its three big dependencies.

Each command runs in a fresh interpreter from the repository root with bytecode caching allowed (a warm-up run
writes the .pyc files first), 7 runs each, alternating. `-X importtime` (quietest of 3 runs) then shows where
`import app` spends its time: the largest cumulative import of each non-stdlib package, who pulls in what the
baseline does not import, and that extra self time by package - the difference the ratio measures.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stats import ratio

REPO_ROOT = Path(__file__).resolve().parents[1]
APP = "import app"
BASELINE = "import boto3, chalice, pynamodb.models"
GOAL_RATIO = 1.3


@dataclass(frozen=True)
class ImportLine:
    """One line of `-X importtime`: microseconds of the module alone and with what it imported first."""

    module: str
    depth: int
    self_us: int
    cumulative_us: int

    @property
    def package(self) -> str:
        return self.module.split(".")[0]


def measure(*, runs: int = 7) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for code in (APP, BASELINE):  # warm-up: write the bytecode caches, warm the page cache
        _run(code, env)
    app_times: list[float] = []
    base_times: list[float] = []
    for i in range(runs):
        pair = [(APP, app_times), (BASELINE, base_times)]
        for code, times in pair if i % 2 == 0 else reversed(pair):
            times.append(_run(code, env))
    app_lines = _importtime(APP, env)
    base_lines = _importtime(BASELINE, env)
    app_ms = statistics.median(app_times) * 1000
    base_ms = statistics.median(base_times) * 1000
    base_modules = {x.module for x in base_lines}
    added = [x for x in app_lines if x.module not in base_modules]
    return {
        "goal_ratio": GOAL_RATIO, "runs": runs,
        "app_median_ms": round(app_ms, 1), "baseline_median_ms": round(base_ms, 1), "ratio": ratio(app_ms, base_ms),
        "ratio_of_minimums": ratio(min(app_times), min(base_times)),
        "app_runs_ms": [round(t * 1000, 1) for t in app_times],
        "baseline_runs_ms": [round(t * 1000, 1) for t in base_times],
        "importtime_app_total_ms": _ms(sum(x.self_us for x in app_lines)),
        "importtime_baseline_total_ms": _ms(sum(x.self_us for x in base_lines)),
        "importtime_added_ms": _ms(sum(x.self_us for x in added)),
        "largest_cumulative": largest_by_package(app_lines, base_modules, 8),
        "largest_additions": largest_additions(app_lines, base_modules, 8),
        "added_self_by_package_ms": _by_package(added, 8),
        "self_by_package_ms": _by_package(app_lines, 8),
    }


def _run(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _importtime(code: str, env: dict[str, str], tries: int = 3) -> list[ImportLine]:
    """`-X importtime` of `code`: the quietest of a few runs (least total self time), as parsed lines."""
    runs = [_importtime_once(code, env) for _ in range(tries)]
    return min(runs, key=lambda lines: sum(x.self_us for x in lines))


def _importtime_once(code: str, env: dict[str, str]) -> list[ImportLine]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=REPO_ROOT, env=env, check=True,
                          capture_output=True, text=True)
    return [line for raw in done.stderr.splitlines() if (line := parse_line(raw)) is not None]


def parse_line(raw: str) -> ImportLine | None:
    """`import time:       123 |        456 |   package.module` -> ImportLine (None for the header)."""
    if not raw.startswith("import time:"):
        return None
    parts = raw[len("import time:"):].split("|")
    if len(parts) != 3 or not parts[0].strip().isdigit():
        return None
    name = parts[2].rstrip()
    stripped = name.lstrip()
    return ImportLine(stripped, (len(name) - len(stripped)) // 2, int(parts[0]), int(parts[1]))


def _ours_or_third_party(line: ImportLine) -> bool:
    return line.package not in sys.stdlib_module_names and not line.package.startswith("_")


def parents(lines: list[ImportLine]) -> list[int | None]:
    """Index of each line's importer. importtime prints a module after what it imported, one level deeper."""
    found: list[int | None] = [None] * len(lines)
    stack: list[int] = []
    for i, line in enumerate(lines):
        while stack and lines[stack[-1]].depth > line.depth:
            child = stack.pop()
            if lines[child].depth == line.depth + 1:
                found[child] = i
        stack.append(i)
    return found


def added_cumulative(lines: list[ImportLine], baseline: set[str], up: list[int | None]) -> list[int]:
    """Per line: self time of the modules in its subtree that the baseline does not import (microseconds)."""
    added = [0 if line.module in baseline else line.self_us for line in lines]
    for i, parent in enumerate(up):  # children come before their parent
        if parent is not None:
            added[parent] += added[i]
    return added


def largest_by_package(lines: list[ImportLine], baseline: set[str], count: int) -> list[dict[str, Any]]:
    """The largest cumulative import of each non-stdlib package (ours and third-party; `app` itself excluded),
    with who imported it and how much of it the baseline does not pay."""
    up = parents(lines)
    added = added_cumulative(lines, baseline, up)
    best: dict[str, int] = {}
    for i, line in enumerate(lines):
        if _ours_or_third_party(line) and line.package != "app":
            if line.package not in best or line.cumulative_us > lines[best[line.package]].cumulative_us:
                best[line.package] = i
    ranked = sorted(best.values(), key=lambda i: lines[i].cumulative_us, reverse=True)[:count]
    return [{"module": lines[i].module, "cumulative_ms": _ms(lines[i].cumulative_us), "added_ms": _ms(added[i]),
             "imported_by": lines[p].module if (p := up[i]) is not None else "-"} for i in ranked]


def largest_additions(lines: list[ImportLine], baseline: set[str], count: int) -> list[dict[str, Any]]:
    """Where a package pulls in another one (importer and imported in different packages), by the time the
    baseline does not pay: who brings in what. Nested edges overlap (an edge includes the edges below it)."""
    up = parents(lines)
    added = added_cumulative(lines, baseline, up)
    edges = [i for i, p in enumerate(up) if p is not None and added[i] > 0 and lines[p].package != lines[i].package]
    ranked = sorted(edges, key=lambda i: added[i], reverse=True)[:count]
    return [{"importer": lines[p].module, "module": lines[i].module, "added_ms": _ms(added[i]),
             "cumulative_ms": _ms(lines[i].cumulative_us)} for i in ranked if (p := up[i]) is not None]


def _ms(us: int) -> float:
    return round(us / 1000, 1)


def _by_package(lines: list[ImportLine], count: int) -> dict[str, float]:
    totals: Counter[str] = Counter()
    for line in lines:
        totals[line.package] += line.self_us
    return {name: _ms(us) for name, us in totals.most_common(count)}
