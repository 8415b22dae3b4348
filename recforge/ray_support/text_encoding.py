"""Catalogue text encoding as a Ray Data ``map_batches`` job that fills recforge's text cache.

The texts a config's text encoders need are looked up in the text cache
(:class:`~recforge.core.textcache.TextCache`) on the driver; only the distinct missing ones
become a Ray dataset. Each of ``workers`` actors loads the language model once
(:class:`EncodeTexts`) and encodes batches with the same
:class:`~recforge.plugins.encoders.lm_backend.LMBackend` a training process uses, so a vector
is the one the local path would store. Results stream back in chunks of ``chunk_rows`` and
each chunk becomes one cache shard written by the driver: the driver never holds more than a
chunk, and the workers need no access to ``RECFORGE_HOME``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from recforge.core.textcache import TextCache, TextVectorConfig
from recforge.plugins.encoders.text_bank import LMParams
from recforge.ray_support import connect, require_ray

#: texts per cache shard the driver writes (384-d float32: ~100 MB)
DEFAULT_CHUNK_ROWS = 65536


class EncodeTexts:
    """A Ray Data actor: one frozen language model, ``{"text"} -> {"text", "vector"}`` batches."""

    def __init__(self, model: str, pooling: str, max_length: int, precision: str, batch_size: int) -> None:
        from recforge.plugins.encoders.lm_backend import shared_backend

        self.backend = shared_backend(model, pooling, max_length, precision, "cpu")
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        vectors = self.backend.encode(texts, batch_size=self.batch_size)
        return {"text": batch["text"], "vector": vectors.numpy().astype(np.float32)}


@dataclass(frozen=True)
class RayEncoding:
    """How many texts a Ray encoding job looked at and encoded."""

    texts: int
    encoded: int
    shards: int


def encode_chunks(texts: Sequence[str], params: LMParams, workers: int,
                  chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[tuple[list[str], torch.Tensor]]:
    """``(texts, vectors)`` chunks of the Ray Data job over ``texts`` (any order)."""
    import ray.data

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-10 s progress reports on stderr
    ray.data.DataContext.get_current().enable_progress_bars = False
    blocks = max(workers * 4, len(texts) // 4096, 1)
    dataset = ray.data.from_items([{"text": t} for t in texts], override_num_blocks=min(blocks, len(texts)))
    encoded = dataset.map_batches(
        EncodeTexts,
        fn_constructor_kwargs={"model": params.model, "pooling": params.pooling, "max_length": params.max_length,
                               "precision": params.precision, "batch_size": params.batch_size},
        batch_size=max(params.batch_size, 256), batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=1)
    for batch in encoded.iter_batches(batch_size=chunk_rows, batch_format="numpy"):
        yield [str(t) for t in batch["text"]], torch.tensor(np.asarray(batch["vector"], dtype=np.float32))


def fill_cache_with_ray(cache: TextCache, config: TextVectorConfig, texts: Sequence[str], params: LMParams,
                        address: str, workers: int, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> RayEncoding:
    """Encode the distinct ``texts`` missing from ``cache`` on Ray and store them there.

    Args:
        cache: the text cache to fill (its store, if any, records each shard).
        config: the cache key parts (the text bank's :meth:`cache_config`).
        texts: the texts as the bank holds them (templates already applied).
        params: the language-model parameters the vectors are made with.
        address: the Ray address (``local`` starts a private instance).
        workers: encoding actors (one CPU each).
        chunk_rows: texts per stored shard.
    """
    require_ray()
    _, found = cache.lookup(config, texts)
    missing = list(dict.fromkeys(t for t, ok in zip(texts, found.tolist()) if not ok and t.strip()))
    if not missing:
        return RayEncoding(len(texts), 0, 0)
    connect(address, num_cpus=max(workers, os.cpu_count() or 1))
    shards = 0
    for chunk_texts, vectors in encode_chunks(missing, params, workers, chunk_rows):
        cache.put(config, chunk_texts, vectors)
        shards += 1
    return RayEncoding(len(texts), len(missing), shards)

