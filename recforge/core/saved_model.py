"""Weights on disk: self-contained saved models and training checkpoints, safetensors only.

A **saved model** is a folder::

    config.yaml        the experiment config the model was built from
    featuremap.json    the fitted FeatureMap (vocabularies, normalisation)
    model.safetensors  every weight and buffer (feature lookups for top-K included)
    components.json    component names + versions, and the data roles (label/user/item field)
    items.json         raw item id of each item index + display metadata (titles)
    seen.safetensors   each user's training items as CSR (``indptr``, ``indices``)
    manifest.json      sha256 + size of every file above

:func:`load_model` checks the manifest first (a tampered or missing file raises
:class:`~recforge.core.errors.ArtifactError` naming it), rebuilds the model from config +
FeatureMap and loads the tensors. Nothing is ever unpickled.

A **checkpoint** (one per epoch, written by the trainer) holds the trainable weights, the
optimizer state as tensors, and the loop state as JSON.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from recforge.core.config import dump_config, parse_yaml
from recforge.core.errors import ArtifactError, RecforgeError
from recforge.core.model_api import LookupOwner
from recforge.core.saved_json import read_object
from recforge.core.safetensors_guard import check_allocation, os_error_of
from recforge.core.store.artifacts import confined

if TYPE_CHECKING:
    from recforge.core.data.prepare import PreparedData

MODEL_FILES = ("config.yaml", "featuremap.json", "model.safetensors", "components.json",
               "items.json", "seen.safetensors")


# --------------------------------------------------------------------------- tensors <-> files
def save_tensors(tensors: dict[str, Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write tensors with safetensors; tensors sharing storage (tied weights) are stored once."""
    unique: dict[str, Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[int, tuple[int, ...], str], str] = {}
    for name, tensor in tensors.items():
        t = tensor.detach()
        key = (t.data_ptr(), tuple(t.shape), str(t.dtype)) if t.numel() else (id(t), tuple(t.shape), str(t.dtype))
        if key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        unique[name] = t.to("cpu").contiguous().clone() if t.numel() else t.to("cpu").contiguous()
    meta = dict(metadata or {})
    meta["aliases"] = json.dumps(aliases)
    try:
        save_file(unique, str(path), metadata=meta)
    except SafetensorError as err:  # a full disk surfaces as SafetensorError, not OSError
        raise os_error_of(err, path) from None


def load_tensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Read a safetensors file (aliases re-expanded) and its metadata."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
            meta = dict(handle.metadata() or {})
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing", fix="save the model again or pick another run") from None
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
        raise ArtifactError(f"{path} is not a valid safetensors file ({type(err).__name__})",
                            fix="save the model again") from None
    for name, target in json.loads(meta.pop("aliases", "{}")).items():
        tensors[name] = tensors[target]
    return tensors, meta


def load_weights(model: nn.Module, tensors: dict[str, Tensor], source: str, strict: bool = True) -> None:
    """Load a state dict into ``model``; data-sized buffers take the saved shape.

    Feature lookups (``lookup_*``, of the model or of a submodule such as an ensemble's
    member) are attached first; other buffers whose shape differs from the freshly built model
    (e.g. a graph built from data the loader does not have) are replaced by the saved tensor.
    """
    lookups: dict[str, dict[str, Tensor]] = {}
    for name, value in tensors.items():
        owner_name, _, leaf = name.rpartition(".")
        if leaf.startswith("lookup_"):
            lookups.setdefault(owner_name, {})[leaf] = value
    for owner_name, owned in lookups.items():
        owner = model.get_submodule(owner_name) if owner_name else model
        if isinstance(owner, LookupOwner):
            owner.attach_lookups(owned)
    own = dict(model.named_buffers())
    for name, value in tensors.items():
        if name in own and own[name] is not None and own[name].shape != value.shape:
            owner_name, _, leaf = name.rpartition(".")
            owner = model.get_submodule(owner_name) if owner_name else model
            owner._buffers[leaf] = value.clone()
    try:
        missing, unexpected = model.load_state_dict(tensors, strict=False)
    except RuntimeError as err:  # size mismatches: weights of another shape than the config builds
        first = next((line.strip() for line in str(err).splitlines() if "size mismatch" in line), str(err)[:200])
        raise ArtifactError(f"{source} does not fit the model its config builds ({first})",
                            fix="save the model again; never edit files of a saved model") from None
    if strict and (missing or unexpected):
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise ArtifactError(f"{source} does not match the model its config builds ({what})",
                            fix="load it with the component versions it was saved with (see components.json)")


def trainable_state(model: nn.Module) -> dict[str, Tensor]:
    """The state dict minus frozen parameters (frozen weights never change during training)."""
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    return {k: v for k, v in model.state_dict().items() if k not in frozen}


# --------------------------------------------------------------------------- manifest
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, names: list[str]) -> None:
    entries = {n: {"sha256": sha256_of(folder / n), "size": (folder / n).stat().st_size} for n in names}
    (folder / "manifest.json").write_text(json.dumps({"files": entries}, indent=2))


@contextmanager
def _writing(what: str, folder: Path, tmp: Path, resume_hint: str) -> Iterator[None]:
    """Turn an OSError (disk full, permissions) while writing into a one-line ArtifactError.

    The half-written temporary folder is removed; whatever was complete before stays.
    """
    try:
        yield
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = err.strerror or type(err).__name__
        raise ArtifactError(f"cannot write {what} {folder}: {reason}",
                            fix=f"free disk space or fix permissions under {folder.parent}, then {resume_hint}") from None


def verify_manifest(folder: Path) -> None:
    """Check every file in ``manifest.json``; the first mismatch raises an ArtifactError."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise ArtifactError(f"{folder} is not a saved model (no manifest.json)",
                            fix="pass a run whose training finished, or save the model again")
    try:
        entries = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError):
        raise ArtifactError(f"{manifest} is corrupt", fix="save the model again") from None
    if not isinstance(entries, dict):
        raise ArtifactError(f"{manifest} is corrupt", fix="save the model again")
    unlisted = [n for n in MODEL_FILES if n not in entries]
    if unlisted:
        raise ArtifactError(f"{manifest} does not cover {unlisted[0]} (modified or corrupt)",
                            fix="save the model again; never edit files of a saved model")
    for name, info in entries.items():
        path = confined(folder, name)
        if not isinstance(info, dict) or not {"sha256", "size"} <= set(info):
            raise ArtifactError(f"{manifest} entry '{name}' is corrupt", fix="save the model again")
        if not path.is_file():
            raise ArtifactError(f"saved model file {path} is missing", fix="save the model again")
        if path.stat().st_size != info["size"] or sha256_of(path) != info["sha256"]:
            raise ArtifactError(f"saved model file {path} does not match its checksum (modified or corrupt)",
                                fix="save the model again; never edit files of a saved model")


# --------------------------------------------------------------------------- saved models
@dataclass
class SavedData:
    """What a saved model knows about its data: enough to rebuild it, no training rows."""

    featuremap: Any
    fields: dict[str, Any]
    label: str | None
    user_field: str | None
    item_field: str | None
    items: Any = None
    item_meta: Any = None
    splits: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    #: marks rebuilt-from-disk data: ``splits["train"]`` holds only (user, item, label) pairs
    restored: bool = True


@dataclass
class LoadedModel:
    """A model loaded from a saved folder with everything ``recommend``/``predict`` need."""

    model: Any
    config: dict[str, Any]
    data: SavedData
    item_ids: list[Any]
    item_meta: dict[str, list[Any]]
    seen_indptr: Tensor
    seen_indices: Tensor
    folder: Path


def _seen_csr(prepared: Any) -> dict[str, Tensor]:
    """Each user's training items as CSR over user indices (sorted, unique), plus each
    pair's best label: enough to rebuild graph/neighbour models without the training data."""
    user, item = prepared.user_field, prepared.item_field
    fields = prepared.fields if isinstance(prepared.fields, dict) else {f.name: f for f in prepared.fields}
    empty = torch.zeros(0, dtype=torch.long)
    if not user or not item or "train" not in prepared.splits:
        return {"indptr": torch.zeros(1, dtype=torch.long), "indices": empty, "labels": empty.float()}
    table = prepared.splits["train"]
    rows = table.batch(torch.arange(table.num_rows))
    n_users, n_items = int(fields[user].vocab_size), int(fields[item].vocab_size)
    keys, inverse = torch.unique(rows[user] * n_items + rows[item], return_inverse=True)  # sorted by user, item
    label = rows[prepared.label].float() if prepared.label in rows else torch.ones(inverse.shape[0])
    labels = torch.full((keys.shape[0],), -torch.inf).scatter_reduce(0, inverse, label, "amax")
    counts = torch.bincount(keys // n_items, minlength=n_users)
    indptr = torch.zeros(n_users + 1, dtype=torch.long)
    indptr[1:] = torch.cumsum(counts, 0)
    return {"indptr": indptr, "indices": keys % n_items, "labels": labels}


def _train_pairs(seen: dict[str, Tensor], data: SavedData) -> Any:
    """The saved training pairs as a TensorTable (user, item, label) for models built from them."""
    from recforge.core.data.table import TensorTable

    if not data.user_field or not data.item_field:
        return None
    counts = seen["indptr"][1:] - seen["indptr"][:-1]
    users = torch.repeat_interleave(torch.arange(counts.shape[0]), counts)
    columns = {data.user_field: users, data.item_field: seen["indices"]}
    if data.label:
        columns[data.label] = seen.get("labels", torch.ones(users.shape[0]))
    return TensorTable(columns)


def _items_json(prepared: PreparedData) -> dict[str, Any]:
    item = prepared.item_field
    if not item:
        return {"item_field": None, "ids": [], "meta": {}}
    fields = prepared.fields if isinstance(prepared.fields, dict) else {f.name: f for f in prepared.fields}
    n = int(fields[item].vocab_size)
    raw = list(prepared.featuremap.raw_of(item, torch.arange(2, n))) if n > 2 else []
    ids = [None, None] + [None if r is None else (r.item() if hasattr(r, "item") else r) for r in raw]
    meta: dict[str, list[Any]] = {}
    frame = prepared.item_meta
    if frame is not None and len(frame):
        lookup = {str(k): i for i, k in enumerate(frame.index)}
        for col in sorted(frame.columns, key=str):  # same file (and hash) whatever order the recipe built
            values = frame[col].tolist()
            meta[str(col)] = [None if r is None or str(r) not in lookup else _plain(values[lookup[str(r)]]) for r in ids]
    return {"item_field": item, "ids": ids, "meta": meta}


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def save_model(model: nn.Module, prepared: PreparedData, config: dict[str, Any], folder: str | Path,
               components: dict[str, str] | None = None) -> Path:
    """Write a self-contained saved model to ``folder`` (replaced when it exists).

    Args:
        model: the trained model.
        prepared: the PreparedData it was trained on (featuremap, roles, items, train split).
        config: the experiment config.
        folder: destination folder.
        components: component name -> version string (``Registry.versions``).
    """
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    with _writing("the saved model", folder, tmp, "train again"):
        return _save_model(model, prepared, config, folder, tmp, components)


def _save_model(model: nn.Module, prepared: PreparedData, config: dict[str, Any], folder: Path, tmp: Path,
                components: dict[str, str] | None) -> Path:
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "config.yaml").write_text(dump_config(config), encoding="utf-8")
    prepared.featuremap.save(tmp / "featuremap.json")
    save_tensors(model.state_dict(), tmp / "model.safetensors")
    comp = {
        "task": model.task,  # declared by RecommenderModel (composed models copy their head's)
        "versions": components or {},
        "data": {"label": prepared.label, "user_field": prepared.user_field,
                 "item_field": prepared.item_field, "fingerprint": prepared.fingerprint},
    }
    (tmp / "components.json").write_text(json.dumps(comp, indent=2))
    (tmp / "items.json").write_text(json.dumps(_items_json(prepared), ensure_ascii=False))
    save_tensors(_seen_csr(prepared), tmp / "seen.safetensors")
    write_manifest(tmp, list(MODEL_FILES))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def load_model(folder: str | Path, store: Any = None, device: str = "cpu") -> LoadedModel:
    """Verify, rebuild and load a saved model (never unpickles).

    Raises:
        ArtifactError: a file is missing, tampered with, or does not fit the rebuilt model.
    """
    from recforge.core.components import PrepareContext
    from recforge.core.data import FeatureMap
    from recforge.core.model import build_model

    folder = Path(folder)
    verify_manifest(folder)
    config = parse_yaml((folder / "config.yaml").read_text(encoding="utf-8"), str(folder / "config.yaml"))
    featuremap = FeatureMap.load(folder / "featuremap.json")
    comp = read_object(folder / "components.json", {"data": dict, "versions": dict})
    roles = comp.get("data") or {}
    fields = featuremap.fields if isinstance(featuremap.fields, dict) else {f.name: f for f in featuremap.fields}
    data = SavedData(featuremap, dict(fields), roles.get("label"), roles.get("user_field"),
                     roles.get("item_field"), fingerprint=roles.get("fingerprint", ""))
    seen, _ = load_tensors(folder / "seen.safetensors")
    check_allocation(lambda: build_model(config, data), folder / "model.safetensors")
    try:  # most models keep everything they need in their weights ...
        model = build_model(config, data)
    except (RecforgeError, KeyError):
        # ... graph / neighbour models rebuild from the training pairs saved beside them
        train = _train_pairs(seen, data)
        if train is None:
            raise
        data.splits["train"] = train
        model = build_model(config, data)
    tensors, _ = load_tensors(folder / "model.safetensors")
    load_weights(model, tensors, str(folder / "model.safetensors"))
    model.to(device)
    model.prepare(PrepareContext(store=store, device=device))
    model.eval()
    items = read_object(folder / "items.json", {"ids": list, "meta": dict})
    return LoadedModel(model, config, data, items.get("ids", []), items.get("meta", {}),
                       seen["indptr"], seen["indices"], folder)


# --------------------------------------------------------------------------- checkpoints
def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, slots in state["state"].items():
        for key, value in slots.items():
            if isinstance(value, Tensor):
                tensors[f"{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _optimizer_state(tensors: dict[str, Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        idx, _, slot = key.partition(".")
        state.setdefault(int(idx), {})[slot] = value
    for idx, slots in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(slots)
    return {"state": state, "param_groups": meta["param_groups"]}


def write_checkpoint(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                     loop_state: dict[str, Any], best_state: dict[str, Tensor] | None) -> None:
    """Write one epoch's checkpoint; ``state.json`` is written last (it marks completeness).

    A failed write (disk full) raises :class:`ArtifactError` and leaves the earlier
    checkpoints untouched, so ``recforge resume`` can continue from the last complete one.
    """
    tmp = folder.with_name(folder.name + ".tmp")
    with _writing("the checkpoint", folder, tmp, "`recforge resume` the run"):
        _write_checkpoint(folder, tmp, model, optimizer, loop_state, best_state)


def _write_checkpoint(folder: Path, tmp: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                      loop_state: dict[str, Any], best_state: dict[str, Tensor] | None) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_tensors(trainable_state(model), tmp / "model.safetensors")
    opt_tensors, opt_meta = _optimizer_tensors(optimizer)
    save_tensors(opt_tensors, tmp / "optimizer.safetensors")
    (tmp / "optimizer.json").write_text(json.dumps(opt_meta))
    if best_state is not None:
        save_tensors(best_state, tmp / "best.safetensors")
    (tmp / "state.json").write_text(json.dumps(loop_state, indent=2))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def latest_checkpoint(root: Path) -> Path | None:
    """The newest complete ``epoch-NNNN`` checkpoint under ``root``."""
    done = sorted(p for p in root.glob("epoch-*") if p.suffix != ".tmp" and (p / "state.json").is_file()) \
        if root.is_dir() else []
    return done[-1] if done else None


def read_checkpoint(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer
                    ) -> tuple[dict[str, Any], dict[str, Tensor] | None]:
    """Restore model + optimizer from a checkpoint; returns the loop state and best weights."""
    tensors, _ = load_tensors(folder / "model.safetensors")
    load_weights(model, tensors, str(folder / "model.safetensors"), strict=False)
    opt_tensors, _ = load_tensors(folder / "optimizer.safetensors")
    optimizer.load_state_dict(_optimizer_state(opt_tensors, json.loads((folder / "optimizer.json").read_text())))
    best = load_tensors(folder / "best.safetensors")[0] if (folder / "best.safetensors").is_file() else None
    return json.loads((folder / "state.json").read_text()), best
