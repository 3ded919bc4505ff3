"""A small bounded memory for answers worked out again and again (scans, rendered prompts).

Only ever holds what any caller may see: callers' words and data are never put in one.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Bounded(Generic[K, V]):
    """At most ``size`` entries; all are forgotten when it is full (cheaper than keeping an
    order, and the same prompts come back within a few turns)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: dict[K, V] = {}

    def __contains__(self, key: K) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def values(self) -> list[V]:
        """What is held now (for tests and tools)."""
        return list(self._items.values())

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[key] = value
