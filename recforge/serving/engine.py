"""One served model version: top-K for many requests at once, similar items, row scores.

:class:`ServingModel` wraps a loaded saved model with its live :class:`Catalogue` and, for
embedding models, a :class:`VectorIndex` over the live item vectors. All scoring entry points
take a *list* of requests, so the dynamic batcher scores concurrent requests together: one
matrix product (embedding models) or one ``score_items`` call (other models) per batch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from recforge.core.data.featuremap import FeatureMap
from recforge.core.data.schema import FIRST
from recforge.core.errors import ConfigError, DataError, NotFoundError
from recforge.core.experiment import predict_table
from recforge.core.model import RecModel
from recforge.core.model_api import fields_read
from recforge.core.saved_model import LoadedModel
from recforge.services.model_refs import ModelRef
from recforge.serving.ann import IndexConfig, VectorIndex
from recforge.serving.catalogue import Catalogue, sync_text_banks
from recforge.serving.pairs import CatalogueScorer
from recforge.serving.vectors import retrieval_of

#: known users whose vectors tune the approximate index's recall
TUNING_USERS = 256


class RequestError(ConfigError):
    """A request the model cannot answer (HTTP 4xx): unknown user, bad k, unknown item ..."""


class NotFound(NotFoundError):
    """An item or user that does not exist (HTTP 404)."""


@dataclass
class RecQuery:
    """One top-K request (see ``serving.schemas.RecommendRequest``)."""

    user: str | None = None
    features: dict[str, Any] | None = None
    history: list[str] = field(default_factory=list)
    k: int = 10
    exclude_seen: bool = True
    items: list[str] | None = None


class ServingModel:
    """A saved model ready to answer requests, with its live catalogue.

    Args:
        ref: the resolved reference (its label names the version in responses).
        loaded: the loaded saved model.
        store: the store (text cache index) or None.
        persist: write catalogue deltas beside the saved model.
        index_config: the retrieval index (exact below a size, IVF or HNSW above).
    """

    def __init__(self, ref: ModelRef, loaded: LoadedModel, store: Any = None, persist: bool = True,
                 index_config: IndexConfig | None = None) -> None:
        if not loaded.data.user_field or not loaded.data.item_field:
            raise ConfigError("this model has no user and item id fields, so it cannot recommend",
                              fix="serve a model trained with role: user and role: item fields")
        self.ref = ref
        self.version = ref.label
        self.loaded = loaded
        self.model = loaded.model
        self.data = loaded.data
        self.lock = threading.RLock()  # catalogue changes vs. scoring
        self.catalogue = Catalogue(loaded, store, persist)
        self.retrieval = retrieval_of(self.model)
        self.index: VectorIndex | None = None
        self._user_indices: dict[str, int] = {}  # raw id -> index of known users, filled as they come
        self.pairs = CatalogueScorer(self.model) if (self.retrieval is None and isinstance(self.model, RecModel)
                                                 and self.model.has_pair_scoring()) else None
        with torch.no_grad():
            if self.retrieval is not None:
                n = self.catalogue.n_trained if not self.retrieval.encodes_new_items else self.catalogue.size
                self.index = VectorIndex(self.retrieval.items(torch.arange(n)), index_config, self._tuning_queries())

    def _tuning_queries(self) -> Tensor:
        """Vectors of up to ``TUNING_USERS`` known users (spread over the vocabulary): what an
        IVF index tunes its ``nprobe`` on, since these are the queries it will answer."""
        assert self.retrieval is not None
        n_users = int(self.data.featuremap.fields[self.data.user_field].vocab_size)
        if n_users <= FIRST:
            return torch.zeros(0)
        picks = torch.unique(torch.linspace(FIRST, n_users - 1, min(TUNING_USERS, n_users - FIRST)).long())
        return self.retrieval.users(picks)

    # ------------------------------------------------------------------ users
    def _user_index(self, raw: str) -> int | None:
        known = self._user_indices.get(str(raw))
        if known is not None:
            return known
        idx = int(self.data.featuremap.index_of(self.data.user_field, [str(raw)])[0])
        if idx < FIRST:
            return None
        self._user_indices[str(raw)] = idx  # bounded by the trained vocabulary
        return idx

    def _user_fields(self) -> dict[str, Any]:
        fm = self.data.featuremap
        return {n: info for n, info in fm.fields.items() if info.role == "user"}

    def _user_batch(self, query: RecQuery) -> dict[str, Tensor]:
        """One row of user-role columns for a user the model never saw (features + history)."""
        fields = self._user_fields()
        row: dict[str, Any] = {self.data.user_field: query.user or ""}
        row.update(query.features or {})
        item_vocab = self.data.fields[self.data.item_field].vocab_key
        for name, info in fields.items():
            if info.kind == "sequence" and info.vocab_key == item_vocab and name not in row:
                sep = info.spec.sep if info.spec is not None and info.spec.sep else " "
                row[name] = sep.join(query.history)
        unknown = sorted(set(row) - set(fields) - self._template_columns(fields))
        if unknown:
            raise RequestError(f"unknown user feature '{unknown[0]}'", fix=f"send only user fields: {', '.join(sorted(fields))}")
        frame = pd.DataFrame([{k: ("" if v is None else str(v) if not isinstance(v, (int, float)) else v) for k, v in row.items()}])
        try:
            table = FeatureMap(fields, self.data.featuremap.vocabs, self.data.featuremap.stats).transform(frame, source="the request")
        except DataError as err:
            problem = str(err).split("; ")[0]
            raise RequestError(f"user '{query.user}' is not in the training data and its features are incomplete ({problem})",
                               fix=f"send features for {', '.join(sorted(n for n in fields if n != self.data.user_field))}") from None
        sync_text_banks(self.model, self.data.featuremap, self.catalogue.store)
        return table.batch(torch.arange(1))

    @staticmethod
    def _template_columns(fields: dict[str, Any]) -> set[str]:
        from recforge.core.data.columns import template_columns

        cols: set[str] = set()
        for info in fields.values():
            if info.kind == "text" and info.spec is not None and info.spec.template:
                cols |= set(template_columns(info.spec.template))
        return cols

    def _seen(self, user: int | None, history: list[str]) -> list[int]:
        out: list[int] = []
        if user is not None:
            indptr, indices = self.loaded.seen_indptr, self.loaded.seen_indices
            if user < indptr.shape[0] - 1:
                out = indices[indptr[user]:indptr[user + 1]].tolist()
        out += [i for i in (self.catalogue.index_of.get(str(h)) for h in history) if i is not None]
        return out

    # ------------------------------------------------------------------ top-K
    def _allowed(self, query: RecQuery, seen: list[int], size: int) -> Tensor:
        allowed = self.catalogue.live_mask()[:size].clone()
        if query.exclude_seen and seen:
            allowed[torch.tensor([s for s in seen if s < size], dtype=torch.long)] = False
        if query.items is not None:
            keep = torch.zeros(size, dtype=torch.bool)
            idx = [i for i in (self.catalogue.index_of.get(str(x)) for x in query.items) if i is not None and i < size]
            if idx:
                keep[torch.tensor(idx)] = True
            allowed &= keep
        return allowed

    def _check_k(self, k: int) -> None:
        live = len(self.catalogue)
        if k < 1 or k > live:
            raise RequestError(f"k must be between 1 and the catalogue size {live}, got {k}", fix="send e.g. \"k\": 10")

    @torch.no_grad()
    def recommend(self, queries: list[RecQuery]) -> list[list[dict[str, Any]] | Exception]:
        """Top-K for each query, scored together; a failing query yields its exception."""
        results: list[list[dict[str, Any]] | Exception] = [[] for _ in queries]
        with self.lock:
            users: list[int | None] = []
            batches: dict[int, dict[str, Tensor]] = {}
            for j, q in enumerate(queries):
                try:
                    self._check_k(q.k)
                    idx = self._user_index(q.user) if q.user is not None else None
                    if idx is None:
                        if q.features is None and not q.history:
                            raise NotFound(f"user '{q.user}' is not in the model's training data",
                                           fix="send the user's features (and history) to recommend for a new user")
                        batches[j] = self._user_batch(q)
                    users.append(idx)
                except Exception as err:  # noqa: BLE001 - reported per request
                    results[j] = err
                    users.append(None)
            live = [j for j in range(len(queries)) if not isinstance(results[j], Exception)]
            if not live:
                return results
            scores = self._score(queries, users, batches, live)
            for j in live:
                try:
                    q = queries[j]
                    results[j] = self._top(q, scores[j], self._seen(users[j], q.history))
                except Exception as err:  # noqa: BLE001
                    results[j] = err
        return results

    def _score(self, queries: list[RecQuery], users: list[int | None], batches: dict[int, dict[str, Tensor]],
               live: list[int]) -> dict[int, Any]:
        """Per live query: a ``[N]`` score row (exact) or its query vector (ANN index)."""
        out: dict[int, Any] = {}
        known = [j for j in live if users[j] is not None]
        if self.retrieval is not None and self.index is not None:
            if known:
                vecs = self.retrieval.users(torch.tensor([users[j] for j in known]))
                out.update(zip(known, vecs))
            for j in live:
                if users[j] is None:
                    if self.retrieval.rows is None:
                        raise RequestError(f"model '{type(self.model).__name__}' cannot score users it never saw",
                                           fix="pass a user id from the training data")
                    out[j] = self.retrieval.rows(batches[j])[0]
            return out
        if known:
            known_users = torch.tensor([users[j] for j in known])
            rows = self.pairs.score(known_users) if self.pairs is not None else self.model.score_items(known_users).float().cpu()
            out.update(zip(known, rows))
        for j in live:
            if users[j] is None:
                out[j] = self._score_new_user(batches[j])
        return out

    def _score_new_user(self, user_batch: dict[str, Tensor]) -> Tensor:
        if not isinstance(self.model, RecModel) or not self.model.has_pair_scoring():
            raise RequestError(f"model '{type(self.model).__name__}' cannot score users it never saw",
                               fix="pass a user id from the training data")
        n = self.catalogue.size
        items = torch.arange(n)
        batch = self.model.pair_batch(torch.ones(n, dtype=torch.long), items)
        for name, value in user_batch.items():
            if name in batch:
                width = batch[name].shape[1:] if batch[name].dim() > 1 else ()
                v = value[0]
                if width and v.shape[0] != width[0]:
                    v = torch.cat([v, torch.zeros(width[0] - v.shape[0], dtype=v.dtype)])[: width[0]]
                batch[name] = v.expand(n, *v.shape)
        return self.model.predict(batch).float().cpu()

    def _top(self, q: RecQuery, score: Tensor, seen: list[int]) -> list[dict[str, Any]]:
        if self.index is not None:  # score is the query vector
            allowed = self._allowed(q, seen, len(self.index))
            values, index = self.index.search(score.unsqueeze(0), q.k, allowed, extra=len(seen))
            values = self.retrieval.output(values) if self.retrieval is not None else values
        else:
            allowed = self._allowed(q, seen, score.shape[0])
            score = torch.where(allowed, score, torch.full_like(score, -torch.inf))
            values, index = torch.topk(score.unsqueeze(0), min(q.k, score.shape[0]), dim=1)
        return [{"rank": r + 1, **self.catalogue.describe(int(i), float(v))}
                for r, (v, i) in enumerate(zip(values[0], index[0])) if torch.isfinite(v)]

    # ------------------------------------------------------------------ similar
    @torch.no_grad()
    def similar(self, item: str, k: int) -> list[dict[str, Any]]:
        """The ``k`` live items closest (cosine) to ``item``'s vector."""
        self._check_k(k)
        with self.lock:
            idx = self.catalogue.index_of.get(str(item))
            if idx is None or idx in self.catalogue.retired:
                raise NotFound(f"item '{item}' is not in the live catalogue", fix="pass an item id the model knows or added")
            vectors = self._item_vectors()
            if idx >= vectors.shape[0]:
                raise RequestError(f"model '{type(self.model).__name__}' has no vector for added item '{item}'",
                                   fix="use a model that encodes items from their fields (two-tower, composed)")
            vectors = torch.nn.functional.normalize(vectors.float(), dim=1)
            sims = vectors @ vectors[idx]
            allowed = self.catalogue.live_mask()[: sims.shape[0]].clone()
            allowed[idx] = False
            sims = torch.where(allowed, sims, torch.full_like(sims, -torch.inf))
            values, index = torch.topk(sims, min(k, sims.shape[0]))
            return [{"rank": r + 1, **self.catalogue.describe(int(i), float(v))}
                    for r, (v, i) in enumerate(zip(values, index)) if torch.isfinite(v)]

    def _item_vectors(self) -> Tensor:
        if self.index is not None:
            return self.index.vectors
        try:
            return self.model.item_vectors().detach().cpu()
        except (NotImplementedError, TypeError):
            raise RequestError(f"model '{type(self.model).__name__}' has no item vectors",
                               fix="serve a model with item vectors to ask for similar items") from None

    # ------------------------------------------------------------------ rows
    @torch.no_grad()
    def predict(self, rows: list[dict[str, Any]]) -> list[float]:
        """Scores of raw rows (the training data's columns), as ``recforge predict`` gives."""
        frame = pd.DataFrame(rows)
        with self.lock:
            try:
                table = self.data.featuremap.transform(frame, source="the request", scoring=True,
                                                       reads=fields_read(self.model))
            except DataError as err:
                raise RequestError(str(err).split("; ")[0], fix="send the columns of the training data") from None
            sync_text_banks(self.model, self.data.featuremap, self.catalogue.store)
            return predict_table(self.model, table).tolist()

    # ------------------------------------------------------------------ catalogue
    def add_items(self, items: list[dict[str, Any]]) -> list[int]:
        """Add or update items; embedding indices get the new vectors at once."""
        with self.lock:
            if self.retrieval is not None and not self.retrieval.encodes_new_items:
                new = [it for it in items if str(it.get(self.catalogue.item_field)) not in self.catalogue.index_of]
                if new:
                    raise RequestError(f"model '{type(self.model).__name__}' has only id vectors, so it cannot score "
                                       f"item '{new[0].get(self.catalogue.item_field)}' it never saw",
                                       fix="add items to a two-tower or composed model with item features")
            indices = self.catalogue.upsert(items)
            if self.pairs is not None:
                self.pairs.invalidate()
            if self.index is not None and self.retrieval is not None and self.retrieval.encodes_new_items and indices:
                with torch.no_grad():
                    self.index.set_rows(indices, self.retrieval.items(torch.tensor(indices)))
            return indices

    def retire(self, item: str) -> None:
        with self.lock:
            self.catalogue.retire(item)
