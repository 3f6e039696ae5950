"""Timers: time-based work (SLA alerts, reminders, snoozes, e-mail digests) as items on a sparse index, fired
by the one-minute schedule.

Exactly once, also when two ticks overlap or a tick dies half-way: a tick leases a due timer (a conditional
update, so of two ticks one wins), runs its handler, then deletes it under the lease. A tick that dies after
the lease leaves the timer; the next tick after the lease runs out fires it again, so every handler writes its
effects under keys derived from the timer (its id and due time) and a second run changes nothing. A handler
may move its own timer (`repo.put_timer` with the same id and a new due time): the delete then leaves it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib.observability import logger
from chalicelib.services.deps import Deps
from chalicelib.store import repo
from chalicelib.store.models import TimerItem

HANDLERS: dict[str, Callable[[Deps, TimerItem], None]] = {}
LEASE = timedelta(seconds=50)  # shorter than a tick: the next tick retries what a dead one left
BUDGET_SECONDS = 45.0  # a tick stops taking new timers then; the next one (a minute later) goes on
WORKERS = 8  # in AWS: DynamoDB calls wait on the network. Embedded: 1 (DynamoDB Local shares the CPU)


def fire_due(d: Deps) -> int:
    """Fire every due timer (up to the budget), WORKERS at a time: their work is I/O, each on its own timer."""
    from concurrent.futures import ThreadPoolExecutor

    started = time.monotonic()
    due = itertools.takewhile(lambda _: time.monotonic() - started <= BUDGET_SECONDS, repo.due_timers(d.now()))
    if d.settings.embedded:
        return sum(1 for timer in due if _fire_one(d, timer))
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="timer") as pool:
        return sum(1 for fired in [pool.submit(_fire_one, d, timer) for timer in due] if fired.result())


def _fire_one(d: Deps, timer: TimerItem) -> bool:
    handler = HANDLERS.get(timer.kind)
    if handler is None:
        logger.warning("timer of unknown kind left in place", extra={"kind": timer.kind})
        return False
    token = repo.claim_timer(timer, now=d.now(), lease=LEASE)
    if token is None:
        return False
    try:
        handler(d, timer)
    except Exception:  # noqa: BLE001 - one timer's failure must not stop the others; the lease retries it
        logger.exception("timer handler failed", extra={"kind": timer.kind})
        return False
    repo.finish_timer(timer, token)
    return True


def register(kind: str) -> Callable[[Callable[[Deps, TimerItem], None]], Any]:
    def decorate(fn: Callable[[Deps, TimerItem], None]) -> Callable[[Deps, TimerItem], None]:
        HANDLERS[kind] = fn
        return fn

    return decorate
