"""``prepare_data``: recipe -> frames -> labels -> split -> FeatureMap (train only) -> TensorTables.

The processed copy is cached under ``cache_dir("prepared")/<fingerprint>``; the fingerprint
covers the recipe, its params, the rest of the data config and the sha256 of every raw file,
so a changed file or setting never reuses a stale copy. The cache is written into a temporary
folder and renamed into place only when complete, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from recforge.core import paths
from recforge.core.components import DatasetRecipe, build_params, params_to_dict
from recforge.core.data.columns import numbers, template_columns
from recforge.core.data.featuremap import FeatureMap
from recforge.core.data.parquet_source import (
    chunk_sources,
    parquet_counts,
    parquet_rows,
    read_columns,
    read_whole,
)
from recforge.core.data.readers import file_sha256
from recforge.core.data.recipe import SPLITS, RawData
from recforge.core.data.sampling import (
    NegativeSampler,
    add_pairwise_negatives,
    add_pointwise_negatives,
)
from recforge.core.data.schema import FIRST, FieldInfo, FieldSpec, field_spec_from_dict
from recforge.core.data.splits import split_frame
from recforge.core.data.streaming_config import SHARDED_LAYOUT, streaming_section
from recforge.core.data.table import TensorTable
from recforge.core.errors import ConfigError, DataError
from recforge.core.progress import stage

log = logging.getLogger(__name__)
CACHE_FORMAT = 1


@dataclass
class PreparedData:
    """Everything training, evaluation and serving need from the data layer.

    Args:
        featuremap: fitted on the training split only.
        fields: fitted field info per name (label included).
        label: name of the label field.
        splits: ``{"train", "valid", "test"}`` -> TensorTable.
        user_field / item_field: names of the user-id / item-id fields, or None.
        items: one row per item: row ``r < vocab_size`` is item index ``r`` (rows 0 and 1 are
            the padding / unknown placeholders); later rows are items seen only in metadata
            (cold items, item index 1 but their own features). None without an item field.
        item_meta: metadata indexed by raw item id, with the column ``row`` (row in ``items``).
        fingerprint: recipe + params + config + raw file hashes.
        name: ``"<recipe>:<fingerprint[:12]>"``, the dataset name recorded in the store.
        counts: rows per split, users, items and positive rate.
        restored: always False here; ``SavedData`` (a saved model's data, without training
            rows) sets it True, so model builders read one declared flag on either type.
    """

    featuremap: FeatureMap
    fields: dict[str, FieldInfo]
    label: str
    splits: dict[str, TensorTable]
    user_field: str | None
    item_field: str | None
    items: TensorTable | None
    item_meta: pd.DataFrame | None
    fingerprint: str
    name: str
    counts: dict[str, Any]
    cache_path: Path | None = None
    restored: bool = False


# ---------------------------------------------------------------------------- config parts


def expand_params(raw: dict[str, Any] | None) -> dict[str, Any]:
    """``${RECFORGE_TASKS_DIR}`` and friends expanded in every string param."""
    return {k: paths.expand(v) if isinstance(v, str) else v for k, v in (raw or {}).items()}


def resolve_recipe(data_cfg: dict[str, Any]) -> tuple[DatasetRecipe, Any]:
    """The recipe instance and its validated params for a data config."""
    from recforge.core.registry import get_registry

    name = data_cfg.get("recipe")
    if not name:
        raise ConfigError("data.recipe is not set", fix="name a dataset recipe (see `recforge data list`)")
    info = get_registry().get(str(name), "dataset")
    params = build_params(info.cls, expand_params(data_cfg.get("params")))
    return info.cls(), params


def merge_fields(recipe_fields: list[FieldSpec], cfg: dict[str, Any]) -> list[FieldSpec]:
    """Recipe fields, overridden or extended by ``data.fields``; ``drop``/``features`` filter them."""
    by_name = {f.name: f for f in recipe_fields}
    for i, raw in enumerate(cfg.get("fields") or []):
        spec = field_spec_from_dict(raw, where=f"data.fields[{i}]")
        by_name[spec.name] = spec
    drop = set(cfg.get("drop") or [])
    keep = set(cfg.get("features") or [])
    specs = [s for s in by_name.values() if s.name not in drop and (not keep or s.name in keep or s.kind == "label")]
    for spec in specs:
        field_spec_from_dict(spec)
    return specs


def _label_name(specs: list[FieldSpec], cfg: dict[str, Any]) -> tuple[str, list[FieldSpec]]:
    """The one label field (added when ``data.label`` derives it from another column)."""
    label_cfg = cfg.get("label") or {}
    labels = [s.name for s in specs if s.kind == "label"]
    if label_cfg and not labels:
        specs = [*specs, FieldSpec("label", "label", role="label")]
        labels = ["label"]
    if len(labels) != 1:
        raise ConfigError(f"the schema needs exactly one label field, found {len(labels)}", fix="declare {name: label, kind: label} or set data.label.source")
    return labels[0], specs


def _label_frame(frame: pd.DataFrame, spec: FieldSpec, label_cfg: dict[str, Any], where: Any) -> None:
    """Derive the label of one frame or chunk (``data.label``: source column, threshold) and
    check it is present and finite everywhere."""
    if label_cfg:
        source, threshold = label_cfg.get("source"), label_cfg.get("threshold")
        if source not in frame.columns:
            raise DataError(f"label source column '{source}' is missing in {where}", fix="fix data.label.source")
        values = numbers(frame[source], str(source), where)
        _check_finite(values, str(source), where)
        frame[spec.name] = (values >= float(threshold)).astype(np.float32) if threshold is not None else values
    col = spec.source or spec.name
    if col not in frame.columns:
        raise DataError(f"label column '{col}' is missing in {where}", fix="declare the label field or set data.label.source")
    _check_finite(numbers(frame[col], col, where), col, where)


def _check_finite(values: np.ndarray, column: str, where: Any) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataError(f"column '{column}' of {where} has an empty or NaN label at row {int(bad[0]) + 1}", fix="fill or drop the rows without a label")


def _field_of(specs: list[FieldSpec], key: str | None, role: str) -> str | None:
    for s in specs:
        if s.kind == "categorical" and key is not None and (s.source or s.name) == key:
            return s.name
    return None


def fingerprint_of(recipe_name: str, params: Any, cfg: dict[str, Any], files: list[Path]) -> str:
    """Hex digest over the recipe, params, config (minus params) and raw file contents.

    A param naming one of the raw files counts by the file's name (its contents are hashed
    below), not its folder: the same data copied elsewhere, or read through another
    ``RECFORGE_TASKS_DIR``, keeps its fingerprint, its cache and the saved model's bytes.
    """
    rest = {k: v for k, v in cfg.items() if k not in ("recipe", "params")}
    payload = {
        "format": CACHE_FORMAT,
        "recipe": recipe_name,
        "params": _without_folders(params_to_dict(params), files),
        "config": rest,
        "files": sorted((Path(f).name, file_sha256(f)) for f in files),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _without_folders(params: dict[str, Any], files: list[Path]) -> dict[str, Any]:
    """``params`` with each raw file's path cut to its name and each folder above one to a mark."""
    names: dict[str, str] = {}
    for f in files:
        for folder in Path(os.path.realpath(f)).parents:
            names[str(folder)] = "a folder of the raw files"
    for f in files:
        names[str(f)] = names[os.path.realpath(f)] = f"raw file {Path(f).name}"

    def cut(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [cut(v) for v in value]
        text = str(value) if isinstance(value, (str, Path)) else ""
        if text in names:
            return names[text]
        if os.sep in text and "\0" not in text:  # only path-like values: a bare word is not a folder
            return names.get(os.path.realpath(text), value)
        return value

    return cut(params)


# ---------------------------------------------------------------------------- the pipeline


def split_raw(raw: RawData, cfg: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Train / valid / test frames; an empty split is a one-line DataError."""
    if raw.presplit:
        frames = {s: raw.frames.get(s, pd.DataFrame(columns=raw.frames["train"].columns)) for s in SPLITS}
    else:
        frame = raw.frames["all"]
        index = split_frame(frame, cfg.get("split"), raw.user_key, raw.item_key, raw.time_key)
        frames = {s: frame.iloc[index[s]] for s in SPLITS}  # keep file row labels for messages
    for name, frame in frames.items():
        if len(frame) == 0:
            where = raw.sources.get(name) or raw.sources.get("all", "the data")
            raise DataError(f"the {name} split of {where} is empty", fix="check the split ratios or the pre-split files")
        frame.attrs["source"] = raw.sources.get(name) or raw.sources.get("all")
    return frames


def build_items(raw: RawData, fm: FeatureMap, item_field: str | None) -> tuple[TensorTable | None, pd.DataFrame | None]:
    """Item table (row = item index, then metadata-only items) and metadata with its ``row``."""
    if item_field is None or raw.item_key is None:
        return None, None
    item_names = [n for n, i in fm.fields.items() if i.role == "item" or n == item_field]
    specs = {n: fm.fields[n].spec for n in item_names}
    columns: set[str] = set()
    for s in specs.values():
        if s is not None:
            columns.update(template_columns(s.template) if s.template else [s.source or s.name])
    columns.discard(raw.item_key)
    rows = raw.all_rows()
    derived = rows[[raw.item_key, *[c for c in columns if c in rows.columns]]].drop_duplicates(raw.item_key, keep="last").set_index(raw.item_key)
    meta = raw.item_meta.copy() if raw.item_meta is not None else derived
    for col in columns:
        if col not in meta.columns and col in derived.columns:
            meta[col] = derived[col].reindex(meta.index)
    extra = derived.index.difference(meta.index)
    if len(extra):
        meta = pd.concat([meta, derived.loc[extra, [c for c in derived.columns if c in meta.columns]]])
    meta = meta[~meta.index.duplicated(keep="first")]
    frame = meta.reset_index(names=raw.item_key)
    if (specs[item_field].source or item_field) != raw.item_key:
        frame[specs[item_field].source or item_field] = frame[raw.item_key]
    sub = FeatureMap({n: fm.fields[n] for n in item_names}, fm.vocabs, fm.stats)
    table = sub.transform(frame, source="item metadata")
    idx = table.dense[item_field]
    info = fm.fields[item_field]
    hashed = bool(info.spec and info.spec.hash_buckets)
    if hashed:
        meta["row"] = np.arange(len(meta))
        return table, meta
    known = torch.nonzero(idx >= FIRST).squeeze(1)
    cold = torch.nonzero(idx < FIRST).squeeze(1)
    order = torch.full((info.vocab_size,), -1, dtype=torch.long)
    order[idx[known]] = known
    present = order >= 0
    # placeholder rows for padding / unknown / vocabulary items without metadata: copy row 0 then blank it
    layout = torch.cat([torch.where(present, order, torch.zeros_like(order)), cold])
    items = table.take(layout)
    blank = torch.cat([~present, torch.zeros(cold.numel(), dtype=torch.bool)])
    for name, col in items.dense.items():
        col[blank] = 0
    for name, (values, offsets) in items.ragged.items():
        lens = offsets[1:] - offsets[:-1]
        lens[blank] = 0
        keep = torch.repeat_interleave(~blank, (offsets[1:] - offsets[:-1]))
        new_off = torch.zeros_like(offsets)
        torch.cumsum(lens, 0, out=new_off[1:])
        items.ragged[name] = (values[keep], new_off)
    items.dense[item_field] = torch.cat([torch.arange(info.vocab_size), idx[cold]])
    row = torch.empty(len(meta), dtype=torch.long)
    row[known] = idx[known]
    row[cold] = info.vocab_size + torch.arange(cold.numel())
    meta["row"] = row.numpy()
    return items, meta


def _negatives(prepared: PreparedData, cfg: dict[str, Any]) -> None:
    neg = dict(cfg.get("negatives") or {})
    if not neg:
        return
    if prepared.user_field is None or prepared.item_field is None or prepared.items is None:
        raise ConfigError("negative sampling needs user and item id fields", fix="declare role: user / role: item fields or drop data.negatives")
    num = int(neg.get("num", 4))
    mode = neg.get("mode", "pointwise")
    train = prepared.splits["train"]
    items_idx = train.dense[prepared.item_field]
    counts = np.bincount(items_idx.numpy(), minlength=prepared.fields[prepared.item_field].vocab_size)
    sampler = NegativeSampler(prepared.fields[prepared.item_field].vocab_size, neg.get("method", "uniform"), counts, seed=int(neg.get("seed", 2024)))
    if neg.get("exclude_positives", True):
        pos = train.dense[prepared.label] > 0
        sampler.set_positives(train.dense[prepared.user_field][pos], items_idx[pos])
    if mode == "pointwise":
        prepared.splits["train"] = add_pointwise_negatives(train, prepared.items, prepared.user_field, prepared.item_field, prepared.label, sampler, num)
    elif mode == "pairwise":
        prepared.splits["train"] = add_pairwise_negatives(train, prepared.user_field, sampler, num, f"neg_{prepared.item_field}")
    else:
        raise ConfigError(f"unknown negatives.mode '{mode}'", fix="use pointwise or pairwise")


def _counts(raw: RawData, frames: dict[str, pd.DataFrame], label: str) -> dict[str, Any]:
    rows = raw.all_rows() if raw.presplit else raw.frames["all"]
    out: dict[str, Any] = {"rows": {s: len(f) for s, f in frames.items()}, "total_rows": sum(len(f) for f in frames.values())}
    if raw.user_key and raw.user_key in rows.columns:
        out["users"] = int(rows[raw.user_key].nunique())
    if raw.item_key and raw.item_key in rows.columns:
        out["items"] = int(rows[raw.item_key].nunique())
    if label in rows.columns:
        out["positive_rate"] = round(float((numbers(rows[label], label) > 0).mean()), 4)
    return out


def prepare_data(data_cfg: dict[str, Any], store: Any = None, *, use_cache: bool = True) -> PreparedData:
    """Prepare a dataset per the config's ``data`` section (see docs/architecture.md).

    Args:
        data_cfg: the ``data`` section: recipe, params, fields, split, label, negatives.
        store: a store with ``record_dataset(name, fingerprint, counts)``, or None.
        use_cache: reuse and write the processed copy under ``cache_dir("prepared")``.
    """
    cfg = dict(data_cfg or {})
    recipe, params = resolve_recipe(cfg)
    files = recipe.raw_files(params)
    fingerprint = fingerprint_of(recipe.name, params, cfg, files) if files is not None else None
    if fingerprint and use_cache:
        cached = load_cached(fingerprint)
        if cached is not None:
            _record(store, cached)
            return cached
    with stage(f"preparing data ({recipe.name})"):
        return _prepare_uncached(recipe, params, cfg, fingerprint, store, use_cache)


def _prepare_uncached(recipe: Any, params: Any, cfg: dict[str, Any], fingerprint: str | None, store: Any,
                      use_cache: bool) -> PreparedData:
    """Read, split, encode and cache a dataset (the part :func:`prepare_data` reports)."""
    raw: RawData = recipe.load(params)
    if fingerprint is None:
        fingerprint = fingerprint_of(recipe.name, params, cfg, raw.files)
        if use_cache and (cached := load_cached(fingerprint)) is not None:
            _record(store, cached)
            return cached
    specs = merge_fields(raw.fields, cfg)
    streaming = streaming_section(cfg)
    if raw.parquet:  # a source kept on disk: streamed from its files, or read whole
        if streaming is not None and streaming.applies(parquet_rows(raw.parquet["train"])):
            return _prepare_parquet_streamed(recipe, raw, specs, cfg, streaming, fingerprint, store, use_cache)
        raw.frames = read_whole(raw)
    label, specs = _label_name(specs, cfg)
    label_spec = next(s for s in specs if s.name == label)
    for name, frame in raw.frames.items():
        _label_frame(frame, label_spec, cfg.get("label") or {}, raw.sources.get(name, name))
    frames = split_raw(raw, cfg)
    if streaming is not None and streaming.applies(len(frames["train"])):  # out-of-core: docs/out-of-core.md
        from recforge.core.data.streaming_prepare import frame_sources, prepare_streamed

        user_field, item_field = _field_of(specs, raw.user_key, "user"), _field_of(specs, raw.item_key, "item")
        prepared = prepare_streamed(raw, frame_sources(frames), specs, streaming, label=label, user_field=user_field,
                                    item_field=item_field, fingerprint=fingerprint, name=f"{recipe.name}:{fingerprint[:12]}",
                                    counts=_counts(raw, frames, label), use_cache=use_cache, negatives=cfg.get("negatives"))
        _record(store, prepared)
        return prepared
    fm, train = FeatureMap.fit_transform(frames["train"], specs, source=frames["train"].attrs.get("source"))
    tables = {"train": train, **{s: fm.transform(frames[s], source=frames[s].attrs.get("source")) for s in ("valid", "test")}}
    user_field = _field_of(specs, raw.user_key, "user")
    item_field = _field_of(specs, raw.item_key, "item")
    items, item_meta = build_items(raw, fm, item_field)
    prepared = PreparedData(fm, fm.fields, label, tables, user_field, item_field, items, item_meta, fingerprint, f"{recipe.name}:{fingerprint[:12]}", _counts(raw, frames, label))
    _negatives(prepared, cfg)
    if use_cache:
        prepared.cache_path = write_cache(prepared)
    _record(store, prepared)
    return prepared


def _prepare_parquet_streamed(recipe: Any, raw: RawData, specs: list[FieldSpec], cfg: dict[str, Any],
                              streaming: Any, fingerprint: str, store: Any, use_cache: bool) -> PreparedData:
    """The ``parquet`` recipe's splits fitted and sharded chunk by chunk from their files."""
    from recforge.core.data.streaming_prepare import prepare_streamed

    label, specs = _label_name(specs, cfg)
    label_cfg = cfg.get("label") or {}
    label_spec = next(s for s in specs if s.name == label)
    sources = chunk_sources(raw, read_columns(specs, label, label_cfg),
                            lambda chunk, where: _label_frame(chunk, label_spec, label_cfg, where))
    prepared = prepare_streamed(raw, sources, specs, streaming, label=label, user_field=None, item_field=None,
                                fingerprint=fingerprint, name=f"{recipe.name}:{fingerprint[:12]}",
                                counts=parquet_counts(raw), use_cache=use_cache, negatives=cfg.get("negatives"))
    _record(store, prepared)
    return prepared


def _record(store: Any, prepared: PreparedData) -> None:
    if store is not None:
        store.record_dataset(prepared.name, prepared.fingerprint, prepared.counts)


# ---------------------------------------------------------------------------- cache


def write_cache(prepared: PreparedData) -> Path:
    """Write the processed copy atomically: temp folder, then one rename."""
    root = paths.cache_dir("prepared")
    final = root / prepared.fingerprint
    if final.is_dir():
        return final
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{prepared.fingerprint}-", dir=root))
    try:
        prepared.featuremap.save(tmp / "featuremap.json")
        for name, table in prepared.splits.items():
            table.save(tmp / f"{name}.safetensors")
        write_items(prepared, tmp)
        info = {
            "format": CACHE_FORMAT, "fingerprint": prepared.fingerprint, "name": prepared.name,
            "label": prepared.label, "user_field": prepared.user_field, "item_field": prepared.item_field,
            "counts": prepared.counts,
        }
        publish(tmp, final, info)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def publish(tmp: Path, final: Path, info: dict[str, Any]) -> None:
    """Finish a staged cache folder: write its ``meta.json`` last, then rename it into place in
    one step, so readers see a whole copy or none. When another process published the same
    fingerprint first, its copy is identical: keep it and drop ours."""
    (tmp / "meta.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    try:
        os.replace(tmp, final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def write_items(prepared: PreparedData, folder: Path) -> None:
    """The item table and item metadata of ``prepared`` into a cache folder (when present)."""
    if prepared.items is not None:
        prepared.items.save(folder / "items.safetensors")
    if prepared.item_meta is not None:
        meta = prepared.item_meta.copy()
        for col in meta.columns:
            if meta[col].dtype == object:
                meta[col] = meta[col].map(lambda v: v if v is None or isinstance(v, str) else json.dumps(v.tolist() if isinstance(v, np.ndarray) else v, default=str))
        meta.index = meta.index.astype(str)
        meta.to_parquet(folder / "item_meta.parquet")


def load_cached(fingerprint: str) -> PreparedData | None:
    """The cached copy for a fingerprint, or None when absent or unreadable."""
    folder = paths.cache_dir("prepared") / fingerprint
    meta_file = folder / "meta.json"
    if not meta_file.is_file():
        return None
    try:
        info = json.loads(meta_file.read_text(encoding="utf-8"))
        fm = FeatureMap.load(folder / "featuremap.json")
        if info.get("layout") == SHARDED_LAYOUT:  # written by the streaming path
            from recforge.core.data.streaming_prepare import sharded_splits

            splits = sharded_splits(folder, info)
        else:
            splits = {s: TensorTable.load(folder / f"{s}.safetensors") for s in SPLITS}
        items = TensorTable.load(folder / "items.safetensors") if (folder / "items.safetensors").is_file() else None
        item_meta = pd.read_parquet(folder / "item_meta.parquet") if (folder / "item_meta.parquet").is_file() else None
    except (OSError, ValueError, KeyError, DataError) as err:
        log.warning("ignoring unreadable prepared cache %s: %s", folder, err)
        return None
    return PreparedData(fm, fm.fields, info["label"], splits, info["user_field"], info["item_field"], items, item_meta, fingerprint, info["name"], info["counts"], folder)
