"""The one exception the conformance suite raises."""

from __future__ import annotations


class ConformanceFailure(AssertionError):
    """A component broke a conformance property; ``str()`` starts with ``[property]``.

    An ``AssertionError``, so pytest reports it as an ordinary test failure.
    """

    def __init__(self, prop: str, detail: str) -> None:
        self.property = prop
        super().__init__(f"[{prop}] {detail}")
