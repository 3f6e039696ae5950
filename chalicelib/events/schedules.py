"""The one-minute schedule: fires due timers (SLA alerts, notification digests, and every other timer kind).

Registered on the app in `app.py`, like the stream handler, so it runs with the logger middleware."""

from __future__ import annotations

from typing import Any

import chalicelib.services.exports  # noqa: F401 - the export watchdog (G5)
from chalicelib.services import clusters, merges, notifications, rules, sla, snooze, surveys, timers, webhooks_out  # noqa: F401 - timer kinds
from chalicelib.services.deps import deps


def every_minute(event: Any) -> dict[str, Any]:
    fired = timers.fire_due(deps())
    return {"fired": fired}
