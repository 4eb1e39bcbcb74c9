"""Find the items that make an operation fail by splitting the batch in halves (bisection).

``isolate_failures(items, attempt, fatal=(...))`` calls ``attempt(part)`` on ``items`` and, while a
part fails, on its halves, in order, until every failing part is a single item. Returns
``[(item, exception), ...]``: each item that fails on its own, with the exception it raised, in the
order of ``items``.

Guarantees:
- every other item was in exactly one ``attempt`` that returned (so an ``attempt`` that writes
  stores it exactly once), and no item that was returned as failing was in one;
- the parts are attempted in the order of ``items``, each after the parts before it succeeded or
  were split, so ``attempt`` sees what earlier parts wrote (a failure that needs two items together
  shows up when the second is attempted, and only that one is returned);
- at most ``2 * k * ceil(log2(n)) + 1`` attempts for ``k`` failing items of ``n`` (one when none fails);
- an exception of a ``fatal`` type (e.g. ``BatchAbandoned``: stop now) propagates at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def isolate_failures(items: Sequence[T], attempt: Callable[[Sequence[T]], None],
                     fatal: tuple[type[BaseException], ...] = ()) -> list[tuple[T, Exception]]:
    """The items that fail ``attempt`` on their own, with their exceptions (module contract)."""
    failures: list[tuple[T, Exception]] = []
    pending: list[Sequence[T]] = [items] if items else []
    while pending:
        part = pending.pop()
        try:
            attempt(part)
        except fatal:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of a part is split, down to one item
            if len(part) == 1:
                failures.append((part[0], exc))
            else:
                middle = len(part) // 2
                pending += [part[middle:], part[:middle]]  # the first half is popped (attempted) first
    return failures
