"""Get-or-create writes that survive concurrent writers.

Two processes (two trainers, a trainer and the console) can both read "no such row" and both
insert it; the database's unique constraint lets one win and rejects the other with an
IntegrityError. The rejected transaction has rolled back, and re-running it now *finds* the
row the winner wrote, so retrying the whole transaction is the correct, lock-free answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

T = TypeVar("T")

#: one race lost per attempt is plenty: after a loss the row exists and the retry reads it
ATTEMPTS = 3


def retry_on_conflict(write: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Run ``write`` (one whole transaction) again when it lost a unique-constraint race."""
    for attempt in range(attempts):
        try:
            return write()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
