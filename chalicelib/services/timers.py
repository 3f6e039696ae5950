"""Timers: time-based work (SLA alerts, reminders, snoozes) as items on a sparse index, fired by the schedule.

A timer is claimed by a conditional delete, so two overlapping ticks never fire it twice. Handlers per kind
register in HANDLERS; later issues add SLA and reminders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.observability import logger
from chalicelib.services.deps import Deps
from chalicelib.store import repo
from chalicelib.store.models import TimerItem

HANDLERS: dict[str, Callable[[Deps, TimerItem], None]] = {}


def fire_due(d: Deps) -> int:
    fired = 0
    for timer in repo.due_timers(d.now()):
        if not repo.claim_timer(timer):
            continue
        handler = HANDLERS.get(timer.kind)
        if handler is None:
            logger.warning("timer of unknown kind dropped", extra={"kind": timer.kind})
            continue
        handler(d, timer)
        fired += 1
    return fired


def register(kind: str) -> Callable[[Callable[[Deps, TimerItem], None]], Any]:
    def decorate(fn: Callable[[Deps, TimerItem], None]) -> Callable[[Deps, TimerItem], None]:
        HANDLERS[kind] = fn
        return fn

    return decorate
