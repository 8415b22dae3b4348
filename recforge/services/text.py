"""Docstrings and user text as people read them in a terminal.

Component and plugin docstrings are written in reST for the API docs; a terminal shows
``:class:`~recforge.core.Ranker``` as ``Ranker`` and ````code```` as ``code``.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?[a-z]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_LITERAL = re.compile(r"``([^`]+)``")


def plain_doc(text: str | None) -> str:
    """reST roles and literals as plain text; ``~`` targets keep only their last part."""
    if not text:
        return ""

    def role(match: re.Match[str]) -> str:
        target = match.group(1).strip()
        return target.rsplit(".", 1)[-1] if match.group(0).split("`", 1)[1].startswith("~") else target

    return _LITERAL.sub(r"\1", _ROLE.sub(role, text))
