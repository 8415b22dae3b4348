"""Database write failures a user can cause or fix, as one-line :class:`StoreError`s.

SQLite reports a full disk, a read-only file and a failing disk as ``OperationalError``s
whose text alone says which; they are user problems (free space, a read-only mount), not bugs.
"""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from recforge.core.errors import StoreError

#: fragment of the driver message -> (problem, fix)
_KNOWN = (
    ("database or disk is full", "the disk holding the store is full (No space left on device)",
     "free disk space; nothing of this write was stored"),
    ("readonly database", "the store is read-only",
     "read-only commands (runs list/show, models list) work; to change it, use a writable copy "
     "(RECFORGE_HOME) or remount it read-write"),
    ("disk i/o error", "the disk holding the store failed to write (disk I/O error)",
     "check the disk and its free space; nothing of this write was stored"),
)


def write_failure(err: OperationalError, url: str) -> StoreError | None:
    """The StoreError for ``err`` when it is a known disk or permission failure, else None."""
    text = str(err.orig if err.orig is not None else err).lower()
    for fragment, problem, fix in _KNOWN:
        if fragment in text:
            return StoreError(f"{problem}: {url}", fix=fix)
    return None
