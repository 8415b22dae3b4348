"""Registered model versions as the CLI and the console show and change them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from recforge.core.errors import ConfigError
from recforge.core.store import Store
from recforge.core.store.tables import as_utc


@dataclass(frozen=True)
class ModelRow:
    """One registered model version."""

    name: str
    version: int
    run_id: int | None
    stage: str
    tags: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime | None = None


def _row(mv: Any) -> ModelRow:
    return ModelRow(mv.name, int(mv.version), mv.run_id, mv.stage, dict(mv.tags or {}), as_utc(mv.created_at))


def list_model_rows(store: Store) -> list[ModelRow]:
    """Every registered model version, by name then version."""
    return sorted((_row(m) for m in store.list_models()), key=lambda r: (r.name, r.version))


def parse_tag(text: str) -> tuple[str, str | None]:
    """``"key=value"`` sets a tag, ``"-key"`` removes it; anything else is a ConfigError."""
    text = text.strip()
    if text.startswith("-") and len(text) > 1 and "=" not in text:
        return text[1:].strip(), None
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"tag '{text}' is not key=value", fix="write key=value, or -key to remove a tag")
    return key.strip(), value.strip()


def parse_tags(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--tag key=value`` options as a dict (removal with ``-key`` is not allowed here)."""
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"tag '{item}' is not KEY=VALUE", fix="write tags as --tag key=value")
        tags[key.strip()] = value.strip()
    return tags


def tag_model(store: Store, name: str, version: int, key: str, value: str | None) -> dict[str, Any]:
    """Set (or with ``value`` None remove) one tag of a model version; returns the new tags."""
    return dict(store.tag_model(name, version, {key: value}).tags or {})


def promote_model(store: Store, name: str, version: int, stage: str) -> ModelRow:
    """Move a version to ``stage`` (a new production version archives the previous one)."""
    return _row(store.promote(name, version, stage))


def register_model(store: Store, name: str, run_id: int, tags: dict[str, str] | None = None) -> ModelRow:
    """Register a run's model as the next version of ``name``."""
    return _row(store.register_model(name, run_id, tags=tags or {}))


def delete_model(store: Store, name: str, version: int) -> None:
    """Remove one registered version (its source run stays)."""
    store.delete_model(name, version)
