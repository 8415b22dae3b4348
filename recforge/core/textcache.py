"""Persistent cache of language-model text vectors, shared by runs and processes.

Encoding every distinct title of a catalogue with a language model is the slowest step of a
text-aware experiment, and the answer only depends on the model and how it was run. So each
vector is stored under a key::

    config_key = sha256(model id, revision, pooling, max_length, template, precision)
    text_key   = sha256(config_key, sha256(text))

Layout under ``paths.cache_dir("textcache")``::

    <config_key[:32]>/config.json              what the vectors were made with
    <config_key[:32]>/shard-<id>.safetensors   one per encode call: keys uint8 [n, 32], vectors [n, d]
    index.jsonl                                 one line per shard (config, path, count, dim)

Shards are written to a temporary file and renamed into place, so a reader in another process
sees either the whole shard or nothing; the shard files themselves are the source of truth
(the index is a human-readable log and the store's record). When a store is given, each new
shard is also recorded with ``store.text_cache_put(key, path, model_id, dim, count)``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from recforge.core import paths

log = logging.getLogger(__name__)

KEY_BYTES = 32


@dataclass(frozen=True)
class TextVectorConfig:
    """Everything besides the text itself that decides a text vector (the cache key).

    Args:
        model_id: the model's hub name or resolved local folder.
        revision: commit hash or content fingerprint of the weights ("" when unknown).
        pooling: ``cls``, ``mean`` or ``last-token``.
        max_length: truncation length in tokens.
        template: the format string(s) the text went through.
        precision: ``fp32``, ``int8`` or ``bf16``.
    """

    model_id: str
    revision: str
    pooling: str
    max_length: int
    template: str
    precision: str

    @property
    def key(self) -> str:
        """sha256 hex of the fields, in a fixed order."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def text_keys(config_key: str, texts: Sequence[str]) -> list[bytes]:
    """Per-text keys: sha256 of the config key and the sha256 of the text."""
    prefix = config_key.encode()
    return [
        hashlib.sha256(prefix + hashlib.sha256(t.encode("utf-8")).digest()).digest() for t in texts
    ]


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class TextCache:
    """Disk cache of text vectors keyed by :class:`TextVectorConfig` and text.

    Args:
        root: cache folder (default ``paths.cache_dir("textcache")``).
        store: a ``recforge.core.store.Store`` (or anything with ``text_cache_put``) that
            records each shard, or None.

    Example:
        >>> cache = TextCache()
        >>> vecs = cache.get_or_compute(config, ["a title"], encode_fn)  # doctest: +SKIP
    """

    def __init__(self, root: Path | None = None, store: Any = None) -> None:
        self.root = Path(root) if root is not None else paths.cache_dir("textcache")
        self.root.mkdir(parents=True, exist_ok=True)
        self.store = store

    def _dir(self, config: TextVectorConfig) -> Path:
        return self.root / config.key[:32]

    def _index(self, config: TextVectorConfig) -> dict[bytes, tuple[Path, int]]:
        """Map every stored text key of ``config`` to its (shard, row)."""
        found: dict[bytes, tuple[Path, int]] = {}
        folder = self._dir(config)
        if not folder.is_dir():
            return found
        for shard in sorted(folder.glob("shard-*.safetensors")):
            try:
                with safe_open(str(shard), framework="pt") as f:
                    keys = f.get_tensor("keys")
            except Exception as err:  # noqa: BLE001 - a broken shard is skipped, not fatal
                log.warning("text cache: skipping unreadable shard %s (%s)", shard, err)
                continue
            for row, key in enumerate(keys.numpy()):
                found.setdefault(key.tobytes(), (shard, row))
        return found

    def lookup(self, config: TextVectorConfig, texts: Sequence[str]) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Stored vectors of ``texts``: ``(vectors [N, d] or None, found mask [N])``.

        Rows whose text is not cached are zero in ``vectors`` and False in the mask.
        """
        keys = text_keys(config.key, texts)
        index = self._index(config)
        found = torch.tensor([k in index for k in keys], dtype=torch.bool)
        if not bool(found.any()):
            return None, found
        by_shard: dict[Path, tuple[list[int], list[int]]] = {}
        for pos, key in enumerate(keys):
            hit = index.get(key)
            if hit is not None:
                rows, positions = by_shard.setdefault(hit[0], ([], []))
                rows.append(hit[1])
                positions.append(pos)
        out: torch.Tensor | None = None
        for shard, (rows, positions) in by_shard.items():
            with safe_open(str(shard), framework="pt") as f:
                vectors = f.get_tensor("vectors")
            if out is None:
                out = torch.zeros(len(texts), vectors.shape[1], dtype=vectors.dtype)
            out[torch.tensor(positions)] = vectors[torch.tensor(rows)]
        return out, found

    def put(self, config: TextVectorConfig, texts: Sequence[str], vectors: torch.Tensor, record: bool = True) -> Path:
        """Store one shard of vectors (``[len(texts), d]``) atomically; return its path.

        ``record=False`` skips the store record (the caller records it, e.g. on rank 0).
        """
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(f"vectors {tuple(vectors.shape)} do not match {len(texts)} texts")
        folder = self._dir(config)
        folder.mkdir(parents=True, exist_ok=True)
        config_file = folder / "config.json"
        if not config_file.exists():
            _atomic_write_text(config_file, json.dumps({"key": config.key, **asdict(config)}, indent=2))
        keys = torch.frombuffer(bytearray(b"".join(text_keys(config.key, texts))), dtype=torch.uint8)
        shard_id = uuid.uuid4().hex[:16]
        path = folder / f"shard-{shard_id}.safetensors"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".safetensors")
        os.close(fd)
        save_file(
            {"keys": keys.reshape(-1, KEY_BYTES).contiguous(), "vectors": vectors.detach().float().cpu().contiguous()},
            tmp,
            metadata={"config_key": config.key, "model_id": config.model_id},
        )
        os.replace(tmp, path)
        line = json.dumps({"config_key": config.key, "path": str(path.relative_to(self.root)),
                           "model_id": config.model_id, "count": len(texts),
                           "dim": int(vectors.shape[1]), "created": time.time()})
        with open(self.root / "index.jsonl", "a") as f:  # one short append: atomic on POSIX
            f.write(line + "\n")
        if self.store is not None and record:
            self.store.text_cache_put(
                key=f"{config.key}:{shard_id}", path=str(path), model_id=config.model_id,
                dim=int(vectors.shape[1]), count=len(texts),
            )
        return path

    def get_or_compute(
        self,
        config: TextVectorConfig,
        texts: Sequence[str],
        compute: Callable[[list[str]], torch.Tensor],
        shard: ShardSpec | None = None,
    ) -> torch.Tensor:
        """Vectors of ``texts`` (``[N, d]``): cached ones read, the rest computed once and stored.

        ``compute`` is called at most once, with the distinct missing texts only, and not at
        all when everything is cached. With a ``shard`` (several processes filling the cache
        together, see :meth:`fill_sharded`) it only gets this process's share of them.
        """
        texts = list(texts)
        if shard is not None and shard.world_size > 1:
            self.fill_sharded(config, texts, compute, shard)
        cached, found = self.lookup(config, texts)
        missing = list(dict.fromkeys(t for t, ok in zip(texts, found.tolist()) if not ok))
        if not missing:
            assert cached is not None or not texts
            return cached if cached is not None else torch.zeros(0, 0)
        fresh = compute(missing).detach().float().cpu()
        self.put(config, missing, fresh)
        row_of = {t: i for i, t in enumerate(missing)}
        out = cached if cached is not None else torch.zeros(len(texts), fresh.shape[1])
        todo = [i for i, ok in enumerate(found.tolist()) if not ok]
        out[torch.tensor(todo)] = fresh[torch.tensor([row_of[texts[i]] for i in todo])]
        return out

    def fill_sharded(self, config: TextVectorConfig, texts: Sequence[str],
                     compute: Callable[[list[str]], torch.Tensor], shard: ShardSpec) -> None:
        """Cooperatively store the vectors of ``texts`` that are missing, one share per process.

        Every process calls this with the same texts. All decide the missing distinct texts
        from the same cache state (a barrier separates the look-up from any write), each
        encodes the contiguous share ``[n*r/W, n*(r+1)/W)`` into its own uniquely named shard
        file, and a second barrier makes the complete set visible to all. When a store is
        attached (rank 0 only), it also records the other ranks' shards.
        """
        _, found = self.lookup(config, texts)
        missing = list(dict.fromkeys(t for t, ok in zip(texts, found.tolist()) if not ok))
        shard.barrier()
        n, r, w = len(missing), shard.rank, shard.world_size
        mine = missing[n * r // w : n * (r + 1) // w]
        written = None
        if mine:
            vectors = compute(mine).detach().float().cpu()
            written = (str(self.put(config, mine, vectors, record=False)), len(mine), int(vectors.shape[1]))
        shard.barrier()
        parts = shard.gather(written) if shard.gather is not None else [written]
        if self.store is not None:
            for part in parts:
                if part is not None:
                    path, count, dim = part
                    self.store.text_cache_put(key=f"{config.key}:{Path(path).stem[len('shard-'):]}", path=path,
                                              model_id=config.model_id, dim=dim, count=count)


@dataclass(frozen=True)
class ShardSpec:
    """One process's part in filling the cache together with others (torch.distributed).

    Args:
        rank: this process's index, ``0 <= rank < world_size``.
        world_size: number of cooperating processes.
        barrier: blocks until every process has called it.
        gather: returns every process's argument, in rank order (or None: nothing is
            gathered and only this process's shard is recorded in the store).
    """

    rank: int
    world_size: int
    barrier: Callable[[], None]
    gather: Callable[[Any], list[Any]] | None = None
