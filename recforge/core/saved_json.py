"""Reading the JSON files of a saved model with their shape checked.

The manifest proves a file is the one that was saved, unless someone rewrote the manifest
too. A ``components.json`` that is a list, or an ``items.json`` whose ``ids`` is a number,
then reaches code that expects an object and fails with ``AttributeError``; this module turns
such files into one-line :class:`ArtifactError`s naming the file and the key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recforge.core.errors import ArtifactError

_FIX = "save the model again from its run; never edit files of a saved model"


def read_object(path: Path, shape: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """``path`` parsed as a JSON object whose keys in ``shape`` (when present) have those types."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"saved model file {path} is missing", fix=_FIX) from None
    except (ValueError, UnicodeDecodeError):
        raise ArtifactError(f"{path} is not valid JSON", fix=_FIX) from None
    if not isinstance(data, dict):
        raise ArtifactError(f"{path} holds a JSON {type(data).__name__}, not an object", fix=_FIX)
    for key, kind in shape.items():
        if key in data and data[key] is not None and not isinstance(data[key], kind):
            raise ArtifactError(f"'{key}' in {path} is a JSON {type(data[key]).__name__} of the wrong kind", fix=_FIX)
    return data
