"""Shared fixtures: one embedded stack per test session (DynamoDB Local in memory, free ports)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


@pytest.fixture(scope="session")
def stack() -> Iterator[EmbeddedStack]:  # noqa: F821
    """The real runner: HTTP server, Chalice app under /api, stream pump (drained by tests), fake Telegram."""
    from chalicelib.local.dynamodb import free_port
    from chalicelib.local.runner import EmbeddedStack, StackConfig

    saved = dict(os.environ)
    data_dir = tempfile.mkdtemp(prefix="zabota-test-")
    config = StackConfig(port=free_port(), data_dir=data_dir, in_memory=True, start_pump=False,
                         tick_seconds=3600, pump_backoff_base=0.05, pump_max_attempts=3, seed_demo=False)
    os.environ.update({"SEND_BACKOFF_SECONDS": "0.01", "SEND_MAX_ATTEMPTS": "4", "SEND_MAX_WAIT_SECONDS": "5"})
    with EmbeddedStack(config) as running:
        yield running
    os.environ.clear()
    os.environ.update(saved)
