"""The test split stays sealed while a model trains.

Every choice (epochs, settings, members, seeds) is made on the validation split; the test split
is read once, after training, for reporting. :func:`sealed_test` enforces that in the
experiment service: while it is active, reading ``prepared.splits["test"]`` (or iterating the
splits' tables) raises :class:`TestSplitSealed` instead of quietly leaking test rows into
training, early stopping or a search.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from recforge.core.errors import RecforgeError

SEALED = ("test",)


class TestSplitSealed(RecforgeError):
    """Code read the test split before training ended."""

    __test__ = False  # not a pytest class


class SealedSplits(dict):  # type: ignore[type-arg]
    """The ``{split: table}`` mapping with the sealed splits' tables unreadable until :meth:`unseal`.

    Membership tests (``"test" in splits``) and the split names stay available; only the
    tables are refused.
    """

    def __init__(self, splits: dict[str, Any]) -> None:
        super().__init__(splits)
        self.sealed = {name for name in SEALED if name in splits}

    def _refuse(self, name: str) -> None:
        if name in self.sealed:
            raise TestSplitSealed(f"the {name} split was read before training ended",
                                  fix="choose on the valid split; the test split is read once, after training")

    def __getitem__(self, name: str) -> Any:
        self._refuse(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:
        self._refuse(name)
        return super().get(name, default)

    def values(self) -> Any:
        for name in self.sealed:
            self._refuse(name)
        return super().values()

    def items(self) -> Any:
        for name in self.sealed:
            self._refuse(name)
        return super().items()

    def unseal(self) -> None:
        self.sealed.clear()


@contextmanager
def sealed_test(prepared: Any) -> Iterator[None]:
    """Seal ``prepared``'s test split for the duration of the block (training), then open it."""
    splits = prepared.splits if isinstance(prepared.splits, SealedSplits) else SealedSplits(prepared.splits)
    splits.sealed = {name for name in SEALED if name in splits}
    prepared.splits = splits
    try:
        yield
    finally:
        splits.unseal()
