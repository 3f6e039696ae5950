"""What a warm Lambda keeps for a few seconds: per-workspace lists read on every stream record (team settings,
rules, outgoing webhook subscriptions). This process forgets an entry when it changes it; others see the change
when the entry runs out."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class WarmCache(Generic[T]):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[str, tuple[float, T]] = {}

    def get(self, key: str, load: Callable[[], T]) -> T:
        hit = self._entries.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        value = load()
        self._entries[key] = (time.monotonic() + self.seconds, value)
        return value

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)
