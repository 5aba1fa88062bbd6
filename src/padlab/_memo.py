"""Bounded memo tables shared by threads: the one place that evicts from them."""

from __future__ import annotations

from typing import TypeVar

V = TypeVar("V")


def remember(table: dict, key: object, value: V, limit: int) -> V:
    """Store ``value`` under ``key``, first dropping the oldest entry if ``table`` is full.

    Safe when several threads fill the same table (an entry another thread dropped first is
    simply gone); returns ``value``.

    Examples
    --------
    >>> table = {}
    >>> [remember(table, k, k * k, limit=2) for k in range(3)], table
    ([0, 1, 4], {1: 1, 2: 4})
    """
    if len(table) >= limit:
        try:
            del table[next(iter(table))]
        except (KeyError, RuntimeError, StopIteration):  # another thread changed it meanwhile
            pass
    table[key] = value
    return value
