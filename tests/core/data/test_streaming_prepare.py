"""The streaming preparation: same FeatureMap and rows as in memory, same evaluation, every
``data.streaming`` key live, bad settings refused with one line."""

from __future__ import annotations

import sys
import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).parents[1]))
from test_config_keys import schema_keys
from trainer_fixtures import ensure_components, make_frame

from recforge.core.config import load_config
from recforge.core.config_schema import ExperimentConfig, StreamingConfig
from recforge.core.data.featuremap import FeatureMap
from recforge.core.data.prepare import prepare_data
from recforge.core.data.streaming_fit import fit_streaming
from recforge.core.data.streaming_prepare import frame_chunks
from recforge.core.data.streaming_table import ShardedTable
from recforge.core.data.table import TensorTable
from recforge.core.errors import ConfigError
from recforge.core.evaluation import evaluate
from recforge.core.experiment import train_on

FIELDS = [{"name": "label", "kind": "label"},
          {"name": "user_id", "kind": "categorical", "role": "user"},
          {"name": "item_id", "kind": "categorical", "role": "item"},
          {"name": "gender", "kind": "categorical", "role": "user"},
          {"name": "genres", "kind": "multi_categorical", "role": "item", "sep": "|"}]


@pytest.fixture
def data_cfg(tmp_path):
    """The `files` recipe over synthetic CSV splits (3,000 rows)."""
    frame = make_frame(rows=3000)
    n = len(frame)
    for name, part in {"train": frame[: int(0.8 * n)], "valid": frame[int(0.8 * n): int(0.9 * n)],
                       "test": frame[int(0.9 * n):]}.items():
        part.to_csv(tmp_path / f"{name}.csv", index=False)
    return {"recipe": "files", "params": {s: str(tmp_path / f"{s}.csv") for s in ("train", "valid", "test")},
            "fields": FIELDS}


def streamed(cfg: dict, **settings) -> dict:
    return {**cfg, "streaming": {"enabled": True, "shard_rows": 1000, **settings}}


def all_rows(table) -> dict[str, torch.Tensor]:
    return table.batch(torch.arange(table.num_rows))


# --------------------------------------------------------------------------- same fit, same rows
def test_streaming_fit_equals_the_in_memory_fit(tasks_dir) -> None:
    frame = pd.read_csv(tasks_dir / "ml100k-ctr" / "train.csv")
    rng = np.random.default_rng(0)
    frame["hours"] = np.where(rng.random(len(frame)) < 0.1, np.nan, frame["timestamp"] / 3.6e6)
    frame.loc[::17, "zip1"] = np.nan
    specs = [*FIELDS[:3],
             {"name": "zip1", "kind": "categorical", "min_count": 50},
             {"name": "occupation", "kind": "categorical", "vocab_from": "gender"},
             {"name": "gender", "kind": "categorical"},
             {"name": "genres", "kind": "multi_categorical", "sep": "|"},
             {"name": "hours", "kind": "numeric", "normalize": "log", "buckets": 6},
             {"name": "timestamp", "kind": "numeric", "normalize": "minmax"}]
    memory = FeatureMap.fit(frame, specs)
    stream = fit_streaming(frame_chunks(frame, rows=7_000), specs)
    assert stream.vocabs == memory.vocabs
    for name, state in memory.stats.items():
        assert stream.stats[name] == pytest.approx(state, rel=1e-12)
    assert {n: (f.vocab_size, f.max_len, f.num_buckets) for n, f in stream.fields.items()} == \
           {n: (f.vocab_size, f.max_len, f.num_buckets) for n, f in memory.fields.items()}


def test_streamed_splits_hold_the_in_memory_rows_and_evaluate_the_same(data_cfg, tmp_path) -> None:
    ensure_components()
    memory = prepare_data(data_cfg)
    stream = prepare_data(streamed(data_cfg))
    assert all(isinstance(t, ShardedTable) for t in stream.splits.values())
    assert stream.featuremap.vocabs == memory.featuremap.vocabs
    for split in ("train", "valid", "test"):
        got, want = all_rows(stream.splits[split]), all_rows(memory.splits[split])
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], want[k]) for k in want), split
    config = ExperimentConfig.parse({"data": data_cfg, "model": {"embedding_dim": 8, "interaction": "fm"},
                                     "train": {"epochs": 2, "batch_size": 128, "lr": 0.05, "checkpoint": False},
                                     "eval": {"metrics": ["auc", "gauc", "logloss"]}})
    model = train_on(config, memory, tmp_path / "run").model
    for split in ("valid", "test"):
        assert evaluate(model, stream, split, config) == pytest.approx(evaluate(model, memory, split, config), abs=1e-12)


def test_a_second_prepare_reads_the_shards_from_the_cache(data_cfg) -> None:
    first = prepare_data(streamed(data_cfg))
    again = prepare_data(streamed(data_cfg))
    assert again.cache_path == first.cache_path and isinstance(again.splits["train"], ShardedTable)
    assert torch.equal(all_rows(again.splits["valid"])["item_id"], all_rows(first.splits["valid"])["item_id"])


# --------------------------------------------------------------------------- every key acts
def first_epoch_ids(prepared, key: str = "item_id") -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    return torch.cat([b[key] for b, _, _ in prepared.splits["train"].epoch_batches(gen, 64)])


def proof_enabled(cfg):
    return (type(prepare_data({**cfg, "streaming": {"enabled": False}}).splits["train"]),
            type(prepare_data(streamed(cfg)).splits["train"]))


def proof_shard_rows(cfg):
    return tuple(len(prepare_data(streamed(cfg, shard_rows=n)).splits["train"].manifest.files) for n in (1000, 5000))


def proof_shuffle_buffer(cfg):
    return tuple(first_epoch_ids(prepare_data(streamed(cfg, shuffle_buffer=n)))[:64].tolist() for n in (0, 1500))


def proof_threshold(cfg):
    return tuple(type(prepare_data({**cfg, "streaming": {"enabled": "auto", "threshold": n}}).splits["train"])
                 for n in (100, 1_000_000))


def proof_workers(cfg):
    ids = [first_epoch_ids(prepare_data(streamed(cfg, workers=n, shard_rows=1000))) for n in (0, 2)]
    assert sorted(ids[0].tolist()) == sorted(ids[1].tolist())  # the same rows, read by 2 processes
    return tuple(t.tolist() for t in ids)


PROOFS = {"data.streaming.enabled": proof_enabled, "data.streaming.shard_rows": proof_shard_rows,
          "data.streaming.shuffle_buffer": proof_shuffle_buffer, "data.streaming.threshold": proof_threshold,
          "data.streaming.workers": proof_workers}


def test_every_streaming_key_has_a_proof() -> None:
    keys = [k for k in schema_keys() if k.startswith("data.streaming.")]
    assert sorted(keys) == sorted(PROOFS)
    assert set(StreamingConfig.model_fields) == {k.rsplit(".", 1)[1] for k in PROOFS}


@pytest.mark.parametrize("key", sorted(PROOFS))
def test_streaming_key_changes_the_outcome(key, data_cfg) -> None:
    outcome = PROOFS[key](data_cfg)
    assert outcome[0] != outcome[1], key


def test_auto_streams_above_the_threshold_only(data_cfg) -> None:
    below, above = proof_threshold(data_cfg)
    assert below is ShardedTable and above is TensorTable


# --------------------------------------------------------------------------- bad settings
@pytest.mark.parametrize(("streaming", "needle"), [
    ({"enabled": True, "threshold": 5}, "data.streaming"),
    ({"enabled": True, "shard_rows": 10}, "data.streaming.shard_rows"),
    ({"enabled": "sometimes"}, "data.streaming.enabled: 'sometimes'"),  # no union-branch tag in the key
    ({"enabled": True, "buffer": 5}, "shuffle_buffer"),
])
def test_bad_streaming_settings_fail_with_one_line(tmp_path, data_cfg, streaming, needle) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"data": {**data_cfg, "streaming": streaming}}))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_negatives_are_refused_with_streaming(data_cfg) -> None:
    with pytest.raises(ConfigError, match="data.negatives"):
        prepare_data({**streamed(data_cfg), "negatives": {"num": 2}})


def test_schema_declares_streaming_under_data() -> None:
    hints = typing.get_type_hints(type(ExperimentConfig.parse({"data": {}}).data))
    assert "streaming" in hints


def test_without_the_cache_the_shards_go_to_a_private_temp_folder(data_cfg) -> None:
    from recforge.core import paths

    prepared = prepare_data(streamed(data_cfg), use_cache=False)
    assert isinstance(prepared.splits["train"], ShardedTable) and prepared.splits["train"].num_rows == 2400
    assert not any(paths.cache_dir("prepared").iterdir())
