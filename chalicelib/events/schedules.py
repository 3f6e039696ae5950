"""The one-minute schedule: fires due timers (SLA alerts, reminders and snoozes come with later issues)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.services import timers
from chalicelib.services.deps import deps

bp = Blueprint(__name__)


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="every_minute")
def every_minute(event: Any) -> dict[str, Any]:
    fired = timers.fire_due(deps())
    return {"fired": fired}
