"""Size limits on the text a user can put into the store.

Every row of the store is read by every user of it (``runs list``, the console, a shared
PostgreSQL server), so one oversized value, such as a 39 MB run name from a YAML alias chain,
makes every listing slow for everyone. The store checks each user-given text here before it
writes; the limits are far above any real name or config.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from recforge.core.errors import NotFoundError, StoreError

#: run, experiment and model names; tag keys
MAX_NAME_CHARS = 200
#: tag values and descriptions
MAX_TEXT_CHARS = 10_000
#: a run's whole config as stored JSON
MAX_CONFIG_CHARS = 1_000_000


def check_text(what: str, value: Any, limit: int, fix: str) -> None:
    """Refuse ``value`` (shown as ``what``) when its text is longer than ``limit`` characters."""
    length = len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
    if length > limit:
        raise StoreError(f"{what} is {length:,} characters long, over the limit of {limit:,}", fix=fix)


def check_run_texts(experiment: str, name: str, config: Mapping[str, Any]) -> None:
    """The texts of a new run: names, the config's description, and the config as a whole."""
    fix = "shorten it in the config"
    check_text("the experiment name", experiment, MAX_NAME_CHARS, fix)
    check_text("the run name", name, MAX_NAME_CHARS, fix)
    check_text("the config's description", config.get("description") or "", MAX_TEXT_CHARS, fix)
    check_text("the config", config, MAX_CONFIG_CHARS, "shorten the config (an alias chain or a pasted file?)")


def check_tags(tags: Mapping[str, Any]) -> None:
    """Tag keys are names, tag values free text."""
    for key, value in tags.items():
        check_text(f"tag key '{str(key)[:40]}'", str(key), MAX_NAME_CHARS, "use a shorter tag key")
        check_text(f"the value of tag '{str(key)[:40]}'", "" if value is None else str(value), MAX_TEXT_CHARS,
                   "use a shorter tag value")


#: the range of a 64-bit signed integer column (SQLite INTEGER, PostgreSQL BIGINT)
MAX_ROW_ID = 2**63 - 1


def row_id(value: Any, what: str) -> int:
    """``value`` as a row id; one beyond the database's integer range cannot exist.

    Without this check ``recforge runs show 99999999999999999999`` reaches the driver, which
    raises ``OverflowError`` instead of saying the run does not exist.
    """
    number = int(value)
    if not -MAX_ROW_ID - 1 <= number <= MAX_ROW_ID:
        listing = "`recforge models list`" if "model" in what else "`recforge runs list`"
        raise NotFoundError(f"{what} {number} does not exist (beyond the largest possible id)", fix=f"see {listing}")
    return number
