"""What the fuzzers tried, per target: examples, parsed, events, refused (and, for the API, 5xx found).

Filled by tests/fuzz/*; printed at the end of the pytest run by tests/fuzz/conftest.py.
"""

from __future__ import annotations

COUNTS: dict[str, dict[str, int]] = {}
