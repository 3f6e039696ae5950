"""Call the schedule handler with EventBridge "Scheduled Event"s, every ``interval_seconds``, in a daemon thread.

A failing handler is logged and tried again at the next tick, as EventBridge would.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

ACCOUNT = "000000000000"


def scheduled_event(
    *, region: str = "us-east-1", rule: str = "every-minute", now: dt.datetime | None = None
) -> dict[str, Any]:
    """The event EventBridge sends to a scheduled rule's Lambda target."""
    moment = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT}:rule/{rule}"],
        "detail": {},
    }


def _default_context() -> Any:
    from chalice.local import LambdaContext

    return LambdaContext(function_name="every_minute", memory_size=1024, max_runtime_ms=60_000)


class Ticker:
    """``start()`` ticks every interval (first tick after one interval); ``tick_now()`` runs one on this thread."""

    def __init__(
        self,
        handler: Handler,
        interval_seconds: float = 60.0,
        *,
        region: str = "us-east-1",
        rule: str = "every-minute",
        context_factory: Callable[[], Any] | None = None,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        self.handler = handler
        self.interval_seconds = interval_seconds
        self.region = region
        self.rule = rule
        self.ticks = 0
        self.failures = 0
        self._context_factory = context_factory or _default_context
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def tick_now(self) -> bool:
        """Call the handler once; True when it returned without raising."""
        event = scheduled_event(region=self.region, rule=self.rule)
        with self._lock:
            self.ticks += 1
            try:
                self.handler(event, self._context_factory())
            except Exception:
                self.failures += 1
                logger.exception("scheduled handler failed (tick %d)", self.ticks)
                return False
        return True

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ticker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            self.tick_now()
