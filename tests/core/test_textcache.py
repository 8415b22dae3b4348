"""The persistent text-vector cache: hits make no model call, keys change with the setup."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from recforge.core.textcache import TextCache, TextVectorConfig, text_keys

CONFIG = TextVectorConfig("some/model", "abc123", "mean", 64, "|{text}", "fp32")


class CountingModel:
    """Stands in for a language model: deterministic vectors, counted calls."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> torch.Tensor:
        self.calls.append(list(texts))
        return torch.stack([torch.tensor([len(t), sum(map(ord, t)) % 97, 1.0]) for t in texts]).float()


class FakeStore:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def text_cache_put(self, key: str, path: str, model_id: str, dim: int, count: int) -> None:
        self.rows.append({"key": key, "path": path, "model_id": model_id, "dim": dim, "count": count})


def test_hit_returns_identical_vectors_with_zero_calls() -> None:
    model, store = CountingModel(), FakeStore()
    texts = ["Toy Story", "Heat", "Toy Story"]
    first = TextCache(store=store).get_or_compute(CONFIG, texts, model)
    assert model.calls == [["Toy Story", "Heat"]]  # distinct texts, once
    assert torch.equal(first[0], first[2])
    second = TextCache().get_or_compute(CONFIG, texts, model)
    assert len(model.calls) == 1 and torch.equal(first, second)
    assert store.rows == [{"key": store.rows[0]["key"], "path": store.rows[0]["path"],
                           "model_id": "some/model", "dim": 3, "count": 2}]
    assert Path(store.rows[0]["path"]).is_file()


def test_partial_hit_computes_only_missing_texts() -> None:
    model = CountingModel()
    cache = TextCache()
    cache.get_or_compute(CONFIG, ["a", "b"], model)
    out = cache.get_or_compute(CONFIG, ["b", "c", "a"], model)
    assert model.calls == [["a", "b"], ["c"]]
    assert torch.equal(out, model(["b", "c", "a"]))


@pytest.mark.parametrize("field,value", [("model_id", "other/model"), ("revision", "def456"),
                                         ("pooling", "cls"), ("max_length", 32),
                                         ("template", "|query: {text}"), ("precision", "bf16")])
def test_every_setting_changes_the_key(field: str, value: object) -> None:
    other = dataclasses.replace(CONFIG, **{field: value})
    assert other.key != CONFIG.key
    assert text_keys(other.key, ["x"]) != text_keys(CONFIG.key, ["x"])
    model = CountingModel()
    TextCache().get_or_compute(CONFIG, ["x"], model)
    TextCache().get_or_compute(other, ["x"], model)
    assert len(model.calls) == 2


def test_unreadable_shard_is_skipped() -> None:
    model = CountingModel()
    cache = TextCache()
    cache.get_or_compute(CONFIG, ["a"], model)
    (cache.root / CONFIG.key[:32] / "shard-broken.safetensors").write_bytes(b"not a shard")
    cache.get_or_compute(CONFIG, ["a"], model)
    assert len(model.calls) == 1


def test_second_process_hits_with_zero_calls(recforge_env: Path, tmp_path: Path) -> None:
    model = CountingModel()
    texts = ["Toy Story (1995)", "GoldenEye (1995)", "Heat (1995)"]
    here = TextCache().get_or_compute(CONFIG, texts, model)
    out = tmp_path / "there.pt"
    script = f"""
import torch
from recforge.core.textcache import TextCache, TextVectorConfig
def boom(texts):
    raise SystemExit("model called")
cfg = TextVectorConfig("some/model", "abc123", "mean", 64, "|{{text}}", "fp32")
torch.save(TextCache().get_or_compute(cfg, {texts!r}, boom), {str(out)!r})
"""
    subprocess.run([sys.executable, "-c", script], check=True, env=dict(os.environ))
    assert torch.equal(torch.load(out), here)
