"""Registered models, dataset records and the text-vector cache index (part of :class:`Store`).

Kept apart from the run lifecycle in ``repository.py`` so each module has one job; the
methods need only ``self.session()`` and ``self._run()`` from the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from recforge.core.errors import NotFoundError, StoreError, unknown_name
from recforge.core.store import limits
from recforge.core.store.conflicts import retry_on_conflict
from recforge.core.store.tables import MODEL_STAGES, Dataset, ModelVersion, Run, TextCacheEntry

#: stages of which a model name keeps one version at a time; promoting another archives it
EXCLUSIVE_STAGES = ("production",)


class ModelRegistryMixin:
    """Model registry, datasets and text-cache index operations of the store."""

    def session(self) -> AbstractContextManager[Session]:  # provided by Store
        raise NotImplementedError

    def _run(self, session: Session, run_id: int) -> Run:  # provided by Store
        raise NotImplementedError

    # ------------------------------------------------------------------ models
    def register_model(self, name: str, run_id: int, tags: Mapping[str, Any] | None = None) -> ModelVersion:
        """Register a finished run's model under ``name`` as the next version (1, 2, ...)."""
        name = name.strip()
        if not name:
            raise StoreError("a registered model needs a name", fix="pass a non-empty NAME")
        limits.check_text("the model name", name, limits.MAX_NAME_CHARS, "pass a shorter NAME")
        limits.check_tags(tags or {})

        def write() -> ModelVersion:
            with self.session() as session:
                run = self._run(session, run_id)
                if run.status != "finished":
                    raise StoreError(
                        f"run {run_id} is {run.status}; only finished runs can be registered",
                        fix="wait for the run to finish, or register another run",
                    )
                latest = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.name == name))
                mv = ModelVersion(name=name, version=(latest or 0) + 1, run_id=run.id, stage="none", tags=dict(tags or {}))
                session.add(mv)
            return mv

        # two registrations of one name may pick the same next version; the loser takes the next
        return retry_on_conflict(write)

    def list_models(self, name: str | None = None) -> list[ModelVersion]:
        """Registered model versions ordered by name then version."""
        query = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version)
        if name is not None:
            query = query.where(ModelVersion.name == name)
        with self.session() as session:
            return list(session.scalars(query))

    def _model(self, session: Session, name: str, version: int | None) -> ModelVersion:
        query = select(ModelVersion).where(ModelVersion.name == name)
        query = (query.order_by(ModelVersion.version.desc()) if version is None
                 else query.where(ModelVersion.version == limits.row_id(version, f"model '{name}' version")))
        mv = session.scalars(query).first()
        if mv is None:
            what = f"model '{name}'" + ("" if version is None else f" version {version}")
            raise NotFoundError(f"{what} is not registered", fix="see `recforge models list`")
        return mv

    def get_model(self, name: str, version: int | None = None) -> ModelVersion:
        """A registered version (the newest when ``version`` is None)."""
        with self.session() as session:
            return self._model(session, name, version)

    def promote(self, name: str, version: int, stage: str) -> ModelVersion:
        """Move a version to ``stage``; a new production version archives the previous one."""
        if stage not in MODEL_STAGES:
            raise unknown_name("model stage", stage, MODEL_STAGES, fix=f"use one of {', '.join(MODEL_STAGES)}")
        with self.session() as session:
            mv = self._model(session, name, version)
            if stage in EXCLUSIVE_STAGES:
                session.execute(
                    update(ModelVersion)
                    .where(ModelVersion.name == name, ModelVersion.stage == stage, ModelVersion.id != mv.id)
                    .values(stage="archived")
                )
            mv.stage = stage
        return mv

    def tag_model(self, name: str, version: int, tags: Mapping[str, Any]) -> ModelVersion:
        """Merge ``tags`` into a version's tags; a value of None removes that tag."""
        with self.session() as session:
            limits.check_tags(tags)
            mv = self._model(session, name, version)
            merged = dict(mv.tags or {})
            for key, value in tags.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            mv.tags = merged
        return mv

    def delete_model(self, name: str, version: int) -> None:
        """Remove one registered version (its source run and files stay)."""
        with self.session() as session:
            session.delete(self._model(session, name, version))

    # ------------------------------------------------------------------ datasets
    def record_dataset(self, name: str, fingerprint: str, counts: Mapping[str, Any]) -> Dataset:
        """Record (or update the counts of) a prepared dataset identified by its fingerprint."""

        def write() -> Dataset:
            with self.session() as session:
                row = session.scalar(select(Dataset).where(Dataset.name == name, Dataset.fingerprint == fingerprint))
                if row is None:
                    row = Dataset(name=name, fingerprint=fingerprint, counts=dict(counts))
                    session.add(row)
                else:
                    row.counts = dict(counts)
            return row

        # two trainers preparing the same data both record it; the loser updates the winner's row
        return retry_on_conflict(write)

    def list_datasets(self) -> list[Dataset]:
        with self.session() as session:
            return list(session.scalars(select(Dataset).order_by(Dataset.name, Dataset.id)))

    # ------------------------------------------------------------------ text-vector cache
    def text_cache_get(self, key: str) -> TextCacheEntry | None:
        """The cache entry for ``key``, or None when nothing is cached."""
        with self.session() as session:
            return session.get(TextCacheEntry, key)

    def text_cache_put(self, key: str, path: str, model_id: str, dim: int, count: int) -> TextCacheEntry:
        """Record (or replace) where the vectors for ``key`` are stored."""

        def write() -> TextCacheEntry:
            with self.session() as session:
                entry = session.get(TextCacheEntry, key)
                if entry is None:
                    entry = TextCacheEntry(key=key, path=str(path), model_id=model_id, dim=int(dim), count=int(count))
                    session.add(entry)
                else:
                    entry.path, entry.model_id, entry.dim, entry.count = str(path), model_id, int(dim), int(count)
            return entry

        return retry_on_conflict(write)

    def text_cache_delete(self, key: str) -> bool:
        """Forget ``key`` (e.g. its file went missing); True when an entry was removed."""
        with self.session() as session:
            entry = session.get(TextCacheEntry, key)
            if entry is not None:
                session.delete(entry)
            return entry is not None

    def text_cache_entries(self) -> Iterator[TextCacheEntry]:
        with self.session() as session:
            return iter(list(session.scalars(select(TextCacheEntry).order_by(TextCacheEntry.created_at))))
