"""DynamoDB Local killed in the middle of a 1,000-webhook burst and restarted (tests/integration/fault_burst.py
runs the scenario in its own process, with its own stack and on-disk tables): every webhook that got 200 is
stored, the others got a status Telegram retries, and the retries store each message exactly once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.counts import COUNTS

REPO_ROOT = Path(__file__).resolve().parents[2]
RETRYABLE = {429, 500, 502, 503, 504}


@pytest.mark.timeout(900)
def test_a_store_killed_mid_burst_loses_no_acknowledged_webhook_and_doubles_none(tmp_path):
    out = tmp_path / "figures.json"
    run = subprocess.run([sys.executable, "-m", "tests.integration.fault_burst", str(out)], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=840)
    assert run.returncode == 0, run.stderr[-4000:]
    figures = json.loads(out.read_text())
    COUNTS["fault burst"] = {k: v for k, v in figures.items() if isinstance(v, int)}
    first = {int(status): count for status, count in figures["first_statuses"].items()}
    assert first.get(200, 0) >= figures["killed_after_answers"], first  # the store was up for these
    assert sum(first.values()) - first.get(200, 0) > 0, "the kill came too late: nothing was refused"
    assert set(first) - {200} <= RETRYABLE, first  # refused with what Telegram retries, never a 4xx
    assert figures["delivered_first_missing"] == 0  # every 200 is stored
    assert figures["never_delivered"] == 0 and figures["missing"] == 0  # the retries got the rest in
    assert figures["doubled"] == 0 and figures["stored_messages"] == figures["total"]  # once each
    assert figures["resent_statuses"] == {"200": figures["resent_delivered"]}  # a repeat is acknowledged
