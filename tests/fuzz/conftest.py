"""Prints the fuzzers' counts at the end of the run (examples tried, refused, 5xx found)."""

from __future__ import annotations

from typing import Any

from tests.fuzz.counts import COUNTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not COUNTS:
        return
    terminalreporter.section("fuzzers")
    for target, tally in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{target}: " + ", ".join(f"{k} {v}" for k, v in tally.items()))
