"""Embedded mode's asynchronous Lambda invokes: each runs the function's handler on a thread of its own, as
Lambda runs an `Event` invoke in a container of its own (the export worker, services/exports.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from chalicelib.observability import logger


class Workers:
    def __init__(self, handler: Callable[[dict[str, Any], Any], Any]) -> None:
        self._handler = handler
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, payload: dict[str, Any]) -> None:
        thread = threading.Thread(target=self._run, args=(dict(payload),), name="export-worker", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _run(self, payload: dict[str, Any]) -> None:
        try:
            self._handler(payload, None)
        except Exception:  # noqa: BLE001 - as in Lambda: logged, the job's watchdog restarts it
            logger.exception("export worker failed")

    def join(self, timeout: float = 60.0) -> bool:
        """Wait until every started invoke has returned (tests, benchmarks, shutdown). False on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                alive = [t for t in self._threads if t.is_alive()]
            if not alive:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            alive[0].join(min(remaining, 0.5))
