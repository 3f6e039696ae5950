"""Fixtures of the end-to-end tests: an injectable clock for the embedded stack, and the schedule's tick."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


_frontier: list[datetime] = []  # where the next test's clock starts: past every timer an earlier test left


@pytest.fixture
def clock(stack):
    """The stack's clock, moved to a time past every timer earlier tests wrote (those are fired once at the
    start), so the ticks of this test fire only this test's timers."""
    from chalicelib.services.deps import deps

    d = deps()
    saved = d.clock
    start = max([saved() + timedelta(days=3650), *_frontier]).replace(second=0, microsecond=0)
    fake = Clock(start)
    d.clock = fake
    for _ in range(100):
        if tick() == 0:
            break
    yield fake
    d.clock = saved
    _frontier.append(fake.now + timedelta(days=120))  # beyond the 90 days a snooze or reminder may reach


def tick() -> int:
    from chalicelib.services import timers
    from chalicelib.services.deps import deps

    return timers.fire_due(deps())


