"""What a dataset recipe returns (:class:`RawData`) and how it finds or downloads raw files.

A recipe knows one dataset's files and turns them into frames plus a schema; everything after
that (labels, splits, fitting, tensors, caching) is shared in :mod:`recforge.core.data.prepare`.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from recforge.core import paths
from recforge.core.components import DatasetRecipe
from recforge.core.data.readers import file_sha256
from recforge.core.data.schema import FieldSpec
from recforge.core.errors import DataError

log = logging.getLogger(__name__)
SPLITS: tuple[str, ...] = ("train", "valid", "test")


@dataclass
class RawData:
    """A dataset as frames plus its schema, before any fitting.

    Args:
        frames: either ``{"all": frame}`` (split later by the config's ``split``) or
            ``{"train": ..., "valid": ..., "test": ...}`` for pre-split data. Each frame holds
            one row per interaction with every field's column (user and item features joined).
        fields: the recipe's field declarations (the config's ``data.fields`` may override).
        user_key / item_key: columns of the raw user and item ids (None when absent).
        time_key: column of the interaction time (temporal splits), or None.
        item_meta: one row per item, indexed by the raw item id (item-role columns).
        user_meta: one row per user, indexed by the raw user id.
        files: raw files read (their hashes go into the fingerprint).
        sources: frame name -> file that rows come from (error messages name it).
        parquet: split -> Parquet files, for a source too large to read into ``frames``
            (then empty): preparation streams them in chunks or, off the streaming path,
            reads them whole (:mod:`recforge.core.data.parquet_source`).
    """

    frames: dict[str, pd.DataFrame]
    fields: list[FieldSpec]
    user_key: str | None = None
    item_key: str | None = None
    time_key: str | None = None
    item_meta: pd.DataFrame | None = None
    user_meta: pd.DataFrame | None = None
    files: list[Path] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    parquet: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def presplit(self) -> bool:
        return "all" not in self.frames

    @property
    def label(self) -> str | None:
        return next((f.name for f in self.fields if f.kind == "label"), None)

    def all_rows(self) -> pd.DataFrame:
        """Every interaction row (pre-split frames concatenated, in split order)."""
        if not self.presplit:
            return self.frames["all"]
        return pd.concat([self.frames[s] for s in SPLITS if s in self.frames], ignore_index=True)


@dataclass(frozen=True)
class RemoteFile:
    """A raw file that can be fetched: from ``url`` (a zip when ``member`` is set)."""

    name: str
    url: str
    sha256: str
    member: str | None = None


def dataset_dir(folder: str) -> Path:
    """The folder holding a dataset: ``RECFORGE_DATA_DIR/folder`` or, if absent, ``HOME/datasets/folder``."""
    primary = paths.data_dir() / folder
    if primary.is_dir():
        return primary
    fallback = paths.home() / "datasets" / folder
    return fallback if fallback.is_dir() else primary


def locate(folder: str, files: list[str], remote: list[RemoteFile] | None = None) -> Path:
    """Return the dataset folder holding all ``files``, downloading them where a URL is known.

    Offline (or without a URL) the DataError names the directory and the files expected.
    """
    base = dataset_dir(folder)
    missing = [f for f in files if not (base / f).is_file()]
    if not missing:
        return base
    known = {r.name: r for r in remote or []}
    if remote and all(m in known for m in missing):
        target = paths.home() / "datasets" / folder
        try:
            download([known[m] for m in missing], target)
        except DataError:
            raise
        except OSError as err:
            raise DataError(
                f"dataset '{folder}' is not in {base} (expected {', '.join(files)}) and downloading failed "
                f"({type(err).__name__}: {' '.join(str(err).split())[:120]})",
                fix=f"put the files in {base} or set RECFORGE_DATA_DIR, or connect to the internet",
            ) from None
        return target
    raise DataError(
        f"dataset '{folder}' is not in {base}: expected {', '.join(missing)}",
        fix=f"put the raw files in {base} or point RECFORGE_DATA_DIR at the folder holding '{folder}'",
    )


def _fetch(url: str, dest: Path) -> None:
    """Download ``url`` to ``dest`` with a rich progress bar (size and rate)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with urllib.request.urlopen(url, timeout=30) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True) as bar:
            task = bar.add_task(f"download {url.rsplit('/', 1)[-1]}", total=total)
            while chunk := response.read(1 << 16):
                out.write(chunk)
                bar.advance(task, len(chunk))


def download(files: list[RemoteFile], target: Path) -> None:
    """Fetch files into ``target``, checking each one's sha256; nothing lands there unverified."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".download-") as tmp_name:
        tmp = Path(tmp_name)
        fetched: dict[str, Path] = {}
        for remote in files:
            archive = fetched.get(remote.url)
            if archive is None:
                archive = tmp / f"{len(fetched)}-{remote.url.rsplit('/', 1)[-1]}"
                log.info("downloading %s", remote.url)
                _fetch(remote.url, archive)
                fetched[remote.url] = archive
            out = tmp / remote.name
            if remote.member:
                try:
                    with zipfile.ZipFile(archive) as zf, zf.open(remote.member) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                except (zipfile.BadZipFile, KeyError) as err:
                    raise DataError(f"download {remote.url} is not the expected zip ({type(err).__name__})", fix="retry later or fetch the files by hand") from None
            else:
                shutil.copyfile(archive, out)
            digest = file_sha256(out)
            if digest != remote.sha256:
                raise DataError(
                    f"downloaded {remote.name} from {remote.url} has sha256 {digest[:12]}..., expected {remote.sha256[:12]}...",
                    fix="retry the download, or place verified files in the data directory by hand",
                )
        for remote in files:
            os.replace(tmp / remote.name, target / remote.name)


def join_meta(frame: pd.DataFrame, meta: pd.DataFrame, key: str, what: str, source: Any, missing: str = "error") -> pd.DataFrame:
    """Left-join per-id metadata onto interactions; ids without metadata follow ``missing``.

    ``missing``: ``error`` (one-line DataError naming the first id and its row), ``drop``
    (drop those rows) or ``keep`` (keep them with empty metadata).
    """
    ids = frame[key]
    present = ids.isin(meta.index).to_numpy()
    if not present.all():
        if missing == "error":
            row = int((~present).nonzero()[0][0])
            raise DataError(
                f"{source}: {what} id {str(ids.iloc[row])!r} at row {row + 1} has no metadata "
                f"({int((~present).sum())} rows affected)",
                fix="add the missing metadata rows, or set the recipe param missing_meta=drop",
            )
        if missing == "drop":
            frame = frame[present].reset_index(drop=True)
    cols = [c for c in meta.columns if c not in frame.columns]
    joined = frame.join(meta[cols], on=key)
    joined.attrs["source"] = str(source)
    return joined


def base_params(params: Any) -> dict[str, Any]:
    """Params as a plain dict (for fingerprints)."""
    from recforge.core.components import params_to_dict

    return params_to_dict(params)


class Recipe(DatasetRecipe):
    """Base of the built-in recipes: ``raw_files`` (cheap, for the cache key) and ``load``."""

    def raw_files(self, params: Any) -> list[Path]:
        """The raw files ``load`` will read (located or downloaded, not parsed)."""
        raise NotImplementedError

    def load(self, params: Any) -> RawData:
        """Read the raw files into frames plus a schema."""
        raise NotImplementedError
