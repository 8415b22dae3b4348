"""The live catalogue: items added, updated or retired after training, without retraining.

A model scores items through per-item feature rows (``lookup_item__<field>`` buffers, one row
per item index) that its own encoders turn into vectors. A new item therefore needs only a new
row: :func:`encode_item_rows` indexes the item's raw fields with the saved FeatureMap (new
texts are appended to the text fields, as the data layer does for cold items), grows each
text bank by the new texts (encoded by the model's language model through the persistent
text cache, so a restart re-encodes nothing), and appends the rows to the model's lookups.
New items get indices after the trained vocabulary; their id field points at the unknown id,
so only their content (text, categories, brand ...) describes them, exactly like a cold item.

The delta (added/updated items with their raw fields, retired ids) is written as
``catalogue/delta-NNNNNN.json`` beside the saved model (atomic, versioned; the newest few are
kept), and replayed on the next load.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from recforge.core.components import PrepareContext
from recforge.core.data.featuremap import FeatureMap
from recforge.core.data.schema import FIRST, UNK
from recforge.core.errors import ConfigError, DataError
from recforge.core.saved_model import LoadedModel
from recforge.plugins.encoders.text_bank import TextBank, apply_template

DELTA_DIR = "catalogue"
KEEP_DELTAS = 5
#: characters a text field may carry per token the language model reads (generous: ~4 per token)
CHARS_PER_TOKEN = 16


class CatalogueError(ConfigError):
    """An item that cannot be added (unknown fields, over-long text, an id-only model)."""


def item_lookups(model: nn.Module) -> dict[str, tuple[nn.Module, str, str]]:
    """``buffer path -> (owner module, buffer name, field)`` of every per-item feature row table."""
    out: dict[str, tuple[nn.Module, str, str]] = {}
    for mod_name, module in model.named_modules():
        for buf_name, buf in module._buffers.items():
            if buf is not None and buf_name.startswith("lookup_item__"):
                out[f"{mod_name}.{buf_name}".lstrip(".")] = (module, buf_name, buf_name[len("lookup_item__"):])
    return out


def text_banks(model: nn.Module) -> list[TextBank]:
    return [m for m in model.modules() if isinstance(m, TextBank)]


def text_limit(model: nn.Module) -> dict[str, int]:
    """Most characters a text field's new values may have (per field; the bank's ``max_length``)."""
    return {b.owner: int(b.params.max_length) * CHARS_PER_TOKEN for b in text_banks(model)}


def _grow_bank(bank: TextBank, texts: list[str], store: Any) -> None:
    """Append ``texts`` (already in the FeatureMap's text list) to ``bank`` and encode them."""
    n_new = len(texts)
    bank.texts.extend(apply_template(bank.params.template, texts, bank.owner))
    grown = torch.zeros(n_new, bank.bank.shape[1], dtype=bank.bank.dtype, device=bank.bank.device)
    bank.bank = torch.cat([bank.bank, grown])
    bank.ready = torch.cat([bank.ready, torch.zeros(n_new, dtype=torch.bool, device=bank.ready.device)])
    bank.prepare(PrepareContext(store=store, device=bank.bank.device))


def sync_text_banks(model: nn.Module, featuremap: FeatureMap, store: Any = None) -> None:
    """Encode the texts the FeatureMap gained (new items) into each text bank of ``model``."""
    for bank in text_banks(model):
        info = featuremap.fields.get(bank.owner)
        if info is None or not info.texts or len(info.texts) <= len(bank.texts):
            continue
        _grow_bank(bank, list(info.texts[len(bank.texts):]), store)


def _fit_width(values: Tensor, like: Tensor) -> Tensor:
    """Pad/truncate ``values`` to the trailing shape of ``like`` (ragged fields are padded)."""
    values = values.to(like.dtype)
    if values.dim() == 1 or like.dim() == 1:
        return values.reshape(values.shape[0], *like.shape[1:]) if values.dim() == like.dim() else values
    width = like.shape[1]
    if values.shape[1] >= width:
        return values[:, :width]
    pad = torch.zeros(values.shape[0], width - values.shape[1], *values.shape[2:], dtype=values.dtype)
    return torch.cat([values, pad], dim=1)


@dataclass
class ItemRows:
    """Feature rows of some items (``field -> [N, ...]``), indexed by the saved FeatureMap."""

    ids: list[str]
    rows: dict[str, Tensor]
    meta: list[dict[str, Any]]


def encode_item_rows(loaded: LoadedModel, items: list[dict[str, Any]], store: Any = None) -> ItemRows:
    """Index raw items (``{item_field: id, <field>: value, ...}``) with the model's FeatureMap.

    Raises:
        CatalogueError: a field the model does not know, an over-long text, a missing id.
    """
    data = loaded.data
    item_field = data.item_field or ""
    fm = data.featuremap
    fields = {n: info for n, info in fm.fields.items() if info.role == "item" and n != item_field}
    lookups = {f for *_, f in item_lookups(loaded.model).values()}
    needed = {n: fields[n] for n in fields if n in lookups}
    from recforge.core.data.columns import template_columns

    bank_limits = text_limit(loaded.model)
    limits: dict[str, int] = {}
    known_cols = set(needed) | {item_field} | set(loaded.item_meta)
    for n, info in needed.items():
        spec = info.spec
        cols = template_columns(spec.template) if info.kind == "text" and spec is not None and spec.template else [n]
        known_cols |= set(cols)
        if n in bank_limits:  # every column of a text field's template shares its limit
            limits.update({c: bank_limits[n] for c in cols})
    for i, item in enumerate(items):
        if item_field not in item or str(item[item_field]).strip() == "":
            raise CatalogueError(f"item {i} has no '{item_field}'", fix=f"give every item its '{item_field}'")
        unknown = sorted(set(item) - known_cols)
        if unknown:
            raise CatalogueError(f"item '{item[item_field]}' has unknown field '{unknown[0]}'",
                                 fix=f"use the model's item fields: {', '.join(sorted(known_cols))}")
        for name, value in item.items():
            limit = limits.get(name)
            if limit is not None and isinstance(value, str) and len(value) > limit:
                raise CatalogueError(f"text field '{name}' of item '{item[item_field]}' has {len(value)} characters",
                                     fix=f"send at most {limit} characters (the model reads {limit // CHARS_PER_TOKEN} tokens)")
    frame = pd.DataFrame([{k: ("" if v is None else v) for k, v in it.items()} for it in items])
    for name, info in needed.items():
        col = info.spec.name if info.spec is not None else name
        if info.kind != "text" and col not in frame.columns:
            frame[col] = ""  # a missing categorical/multi-valued field is the missing value
    if any(info.kind == "text" for info in needed.values()):
        for info in needed.values():
            if info.kind == "text":
                cols = template_columns(info.spec.template) if info.spec is not None and info.spec.template else [info.spec.name if info.spec else info.name]
                for col in cols:
                    if col not in frame.columns:
                        frame[col] = ""
    frame = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
    view = FeatureMap(needed, fm.vocabs, fm.stats)
    try:
        table = view.transform(frame, source="the posted items")
    except DataError as err:
        raise CatalogueError(str(err).split("; ")[0], fix="send the item's fields as in the training data") from None
    rows = table.batch(torch.arange(len(items))) if items else {}
    sync_text_banks(loaded.model, fm, store)
    ids = [str(it[item_field]) for it in items]
    meta = [{c: it.get(c) for c in loaded.item_meta} for it in items]
    return ItemRows(ids, {k: v for k, v in rows.items() if k in needed}, meta)


def write_rows(model: nn.Module, rows: ItemRows, indices: list[int], item_field: str) -> None:
    """Put ``rows`` at item ``indices`` of every item lookup, growing the tables as needed."""
    target = torch.tensor(indices, dtype=torch.long)
    for owner, buf_name, fname in item_lookups(model).values():
        table = owner._buffers[buf_name]
        top = int(target.max()) + 1 if indices else 0
        if top > table.shape[0]:
            extra = torch.zeros(top - table.shape[0], *table.shape[1:], dtype=table.dtype, device=table.device)
            if fname == item_field:
                extra.fill_(UNK)
            table = torch.cat([table, extra])
        if fname == item_field:
            known = target < owner._buffers[buf_name].shape[0]  # trained items keep their own id
            table[target[~known]] = UNK
        elif fname in rows.rows:
            table[target] = _fit_width(rows.rows[fname], table).to(table.device)
        owner._buffers[buf_name] = table


@dataclass
class CatalogueState:
    """Everything the live catalogue changed: persisted as one delta file."""

    added: dict[str, dict[str, Any]] = field(default_factory=dict)  # raw id -> raw fields
    retired: list[str] = field(default_factory=list)


class Catalogue:
    """Item ids, display metadata and the live changes of one loaded model.

    Args:
        loaded: the loaded model (its lookups are grown in place).
        store: the store (text cache index), optional.
        persist: write deltas beside the saved model.
    """

    def __init__(self, loaded: LoadedModel, store: Any = None, persist: bool = True) -> None:
        self.loaded = loaded
        self.store = store
        self.persist = persist
        self.item_field = loaded.data.item_field or ""
        self.ids: list[Any] = list(loaded.item_ids)
        self.meta: dict[str, list[Any]] = {k: list(v) for k, v in loaded.item_meta.items()}
        self.n_trained = len(self.ids)
        self.index_of: dict[str, int] = {str(r): i for i, r in enumerate(self.ids) if i >= FIRST and r is not None}
        self.retired: set[int] = set()
        self.state = CatalogueState()
        self.version = 0
        self.lock = threading.Lock()
        self._replay()

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.ids) - FIRST - len(self.retired)

    @property
    def size(self) -> int:
        """Index space (trained + added items, padding included)."""
        return len(self.ids)

    def live_mask(self) -> Tensor:
        """``[size]`` True for items that may be recommended."""
        mask = torch.ones(self.size, dtype=torch.bool)
        mask[:FIRST] = False
        if self.retired:
            mask[torch.tensor(sorted(self.retired))] = False
        return mask

    def describe(self, index: int, score: float) -> dict[str, Any]:
        row: dict[str, Any] = {"item": self.ids[index], "score": float(score)}
        for col, values in self.meta.items():
            row[col] = values[index] if index < len(values) else None
        return row

    def added_indices(self) -> list[int]:
        return list(range(self.n_trained, self.size))

    # ------------------------------------------------------------------ changes
    def upsert(self, items: list[dict[str, Any]]) -> list[int]:
        """Add new items or update existing ones; returns their indices."""
        if not items:
            return []
        rows = encode_item_rows(self.loaded, items, self.store)
        with self.lock:
            indices: list[int] = []
            fresh: dict[str, int] = {}  # a new id twice in one request gets one index (last wins)
            for raw in rows.ids:
                idx = self.index_of.get(raw, fresh.get(raw))
                if idx is None:
                    idx = fresh[raw] = len(self.ids) + len(fresh)
                indices.append(idx)
            write_rows(self.loaded.model, rows, indices, self.item_field)
            for raw, idx, meta, item in zip(rows.ids, indices, rows.meta, items):
                if raw not in self.index_of:
                    self.ids.append(raw)
                    for col, values in self.meta.items():
                        values.append(None)
                    self.index_of[raw] = idx
                for col, value in meta.items():
                    if value is not None:
                        self.meta[col][idx] = value
                self.retired.discard(idx)
                self.state.added[raw] = {k: v for k, v in item.items()}
                if raw in self.state.retired:
                    self.state.retired.remove(raw)
            self._save()
        return indices

    def retire(self, raw: str) -> int:
        """Stop recommending item ``raw`` (kept in the index space so indices stay stable)."""
        with self.lock:
            idx = self.index_of.get(str(raw))
            if idx is None or idx in self.retired:
                from recforge.core.errors import NotFoundError

                raise NotFoundError(f"item '{raw}' is not in the live catalogue", fix="GET /similar or /recommend lists live items")
            self.retired.add(idx)
            self.state.retired.append(str(raw))
            self._save()
            return idx

    # ------------------------------------------------------------------ persistence
    @property
    def folder(self) -> Path:
        return Path(self.loaded.folder) / DELTA_DIR

    def _save(self) -> None:
        self.version += 1
        if not self.persist:
            return
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"delta-{self.version:06d}.json"
        tmp = path.with_suffix(".tmp")
        body = {"version": self.version, "item_field": self.item_field, "added": list(self.state.added.values()),
                "retired": list(self.state.retired)}
        tmp.write_text(json.dumps(body, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, path)
        for old in sorted(folder.glob("delta-*.json"))[:-KEEP_DELTAS]:
            old.unlink(missing_ok=True)

    def latest_delta(self) -> Path | None:
        found = sorted(self.folder.glob("delta-*.json")) if self.folder.is_dir() else []
        return found[-1] if found else None

    def _replay(self) -> None:
        """Re-apply the newest persisted delta (new texts come from the text cache)."""
        path = self.latest_delta()
        if path is None:
            return
        body = json.loads(path.read_text(encoding="utf-8"))
        persist, self.persist = self.persist, False
        try:
            self.upsert(list(body.get("added", [])))
            for raw in body.get("retired", []):
                if str(raw) in self.index_of:
                    self.retire(str(raw))
        finally:
            self.persist = persist
        self.version = int(body.get("version", 0))
