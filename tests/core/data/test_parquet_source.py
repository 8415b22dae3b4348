"""The ``parquet`` recipe: splits kept on disk as Parquet files or folders, streamed chunk by chunk
(``data.streaming``) or read whole, with the same feature map and rows either way."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from click.testing import CliRunner

from recforge.cli import cli
from recforge.core.data.parquet_source import parquet_rows
from recforge.core.data.prepare import prepare_data
from recforge.core.data.streaming_table import ShardedTable
from recforge.core.errors import ConfigError, DataError

FIELDS = [{"name": "label", "kind": "label"},
          {"name": "user_id", "kind": "categorical", "role": "user"},
          {"name": "item_id", "kind": "categorical", "role": "item"},
          {"name": "gender", "kind": "categorical"},
          {"name": "zip1", "kind": "categorical"},
          {"name": "genres", "kind": "multi_categorical", "sep": "|"},
          {"name": "timestamp", "kind": "numeric", "normalize": "log", "buckets": 4}]


@pytest.fixture(scope="module")
def parquet_task(tasks_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ml100k-ctr as Parquet: the training split a folder of three files of uneven sizes (row
    groups of 5,000 rows), valid and test one file each."""
    root = tmp_path_factory.mktemp("parquet-task")
    for split in ("train", "valid", "test"):
        frame = pd.read_csv(tasks_dir / "ml100k-ctr" / f"{split}.csv")
        frame["zip1"] = frame["zip1"].astype(str)
        frame["timestamp"] = frame["timestamp"].astype(float)
        if split == "train":
            (root / "train").mkdir()
            for k, (lo, hi) in enumerate(((0, 12_345), (12_345, 50_000), (50_000, len(frame)))):
                pq.write_table(pa.Table.from_pandas(frame.iloc[lo:hi], preserve_index=False),
                               root / "train" / f"part-{k}.parquet", row_group_size=5_000)
        else:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), root / f"{split}.parquet")
    return root


def data_cfg(root: Path, **extra: object) -> dict:
    return {"recipe": "parquet", "fields": FIELDS, **extra,
            "params": {"train": str(root / "train"), "valid": str(root / "valid.parquet"),
                       "test": str(root / "test.parquet")}}


def rows(table) -> dict[str, torch.Tensor]:
    return table.batch(torch.arange(table.num_rows))


def test_streamed_from_files_equals_read_whole(parquet_task: Path) -> None:
    streamed = prepare_data(data_cfg(parquet_task, streaming={"enabled": True, "shard_rows": 20_000}), use_cache=False)
    whole = prepare_data(data_cfg(parquet_task), use_cache=False)
    assert isinstance(streamed.splits["train"], ShardedTable) and not isinstance(whole.splits["train"], ShardedTable)
    assert streamed.featuremap.vocabs == whole.featuremap.vocabs
    assert streamed.featuremap.stats["timestamp"] == pytest.approx(whole.featuremap.stats["timestamp"], rel=1e-9)
    assert streamed.counts["rows"] == {"train": 80_000, "valid": 10_000, "test": 10_000}
    for split in ("train", "valid", "test"):
        got, want = rows(streamed.splits[split]), rows(whole.splits[split])
        assert got.keys() == want.keys()
        for key in want:  # same rows in the same order: files sorted, chunks in file order
            assert torch.equal(got[key], want[key]), (split, key)


def test_same_vocabularies_as_the_files_recipe_on_the_csv(parquet_task: Path, tasks_dir: Path) -> None:
    csv = prepare_data({"recipe": "files", "fields": FIELDS,
                        "params": {s: str(tasks_dir / "ml100k-ctr" / f"{s}.csv") for s in ("train", "valid", "test")}},
                       use_cache=False)
    streamed = prepare_data(data_cfg(parquet_task, streaming={"enabled": True}), use_cache=False)
    for name in ("user_id", "item_id", "gender", "zip1", "genres"):
        assert streamed.featuremap.vocabs[name] == csv.featuremap.vocabs[name], name


def test_label_derived_chunk_by_chunk(parquet_task: Path) -> None:
    """``data.label`` (source column + threshold) applies to every streamed chunk as in memory."""
    fields = [f for f in FIELDS if f["kind"] != "label"]
    cfg = {**data_cfg(parquet_task), "fields": fields, "drop": ["label"],
           "label": {"source": "timestamp", "threshold": 885_000_000}}
    streamed = prepare_data({**cfg, "streaming": {"enabled": True}}, use_cache=False)
    whole = prepare_data(cfg, use_cache=False)
    label = rows(streamed.splits["train"])["label"]
    assert torch.equal(label, rows(whole.splits["train"])["label"])
    assert 0.3 < float(label.mean()) < 0.9  # ratings after 20 Jan 1998


def test_auto_reads_the_row_count_from_the_footers(parquet_task: Path) -> None:
    assert parquet_rows(sorted((parquet_task / "train").glob("*.parquet"))) == 80_000
    above = prepare_data(data_cfg(parquet_task, streaming={"enabled": "auto", "threshold": 79_999}), use_cache=False)
    below = prepare_data(data_cfg(parquet_task, streaming={"enabled": "auto", "threshold": 80_000}), use_cache=False)
    assert isinstance(above.splits["train"], ShardedTable) and not isinstance(below.splits["train"], ShardedTable)


def test_fields_guessed_from_the_schema(parquet_task: Path) -> None:
    cfg = data_cfg(parquet_task, streaming={"enabled": True})
    del cfg["fields"]
    prepared = prepare_data({**cfg, "drop": ["title"]}, use_cache=False)
    kinds = {n: f.kind for n, f in prepared.fields.items()}
    assert kinds["label"] == "label" and kinds["timestamp"] == "numeric"
    assert kinds["user_id"] == kinds["zip1"] == kinds["genres"] == "categorical"


@pytest.mark.parametrize(("change", "error", "needle"), [
    (lambda p, root: p.pop("test"), ConfigError, "parquet recipe needs train, valid and test; test not set"),
    (lambda p, root: p.update(valid=str(root / "nowhere")), DataError, "Parquet input not found"),
    (lambda p, root: p.update(train=str(root / "empty")), DataError, "no *.parquet files under"),
    (lambda p, root: p.update(test=str(root / "not-parquet.parquet")), DataError, "could not be read as Parquet"),
    (lambda p, root: p.update(label_key="clicks"), DataError, "label column 'clicks' is missing"),
])
def test_bad_sources_fail_with_one_line(parquet_task: Path, tmp_path: Path, change, error, needle) -> None:
    root = tmp_path / "bad"
    (root / "empty").mkdir(parents=True)
    (root / "not-parquet.parquet").write_text("label,user_id\n1,2\n")
    cfg = data_cfg(parquet_task, streaming={"enabled": True})
    change(cfg["params"], root)
    with pytest.raises(error) as info:
        prepare_data(cfg, use_cache=False)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_a_missing_declared_column_names_the_file(parquet_task: Path) -> None:
    cfg = data_cfg(parquet_task, streaming={"enabled": True})
    cfg["fields"] = [*FIELDS, {"name": "country", "kind": "categorical"}]
    with pytest.raises(DataError, match=r"column 'country' is missing in .*part-0\.parquet"):
        prepare_data(cfg, use_cache=False)


@pytest.mark.slow
def test_recforge_train_streams_a_parquet_folder(parquet_task: Path, tmp_path: Path) -> None:
    """The CLI path end to end: prepared from the files chunk by chunk, trained, evaluated."""
    config = {"name": "parquet-lr", "data": data_cfg(parquet_task, streaming={"enabled": True, "shard_rows": 30_000}),
              "model": {"embedding_dim": 8, "interaction": "lr", "ranker": "ctr",
                        "fields": ["user_id", "item_id", "gender", "zip1", "genres", "timestamp"]},
              "train": {"epochs": 1, "batch_size": 4096, "threads": 1, "lr": 1.0e-3}}
    path = tmp_path / "parquet.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(cli, ["train", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    report = json.loads(out[out.rindex("\n{") + 1:] if not out.startswith("{") else out)
    assert 0.6 < report["test"]["auc"] < 0.9
    # no user field (the recipe builds no user/item tables): the default metrics leave gauc out
    assert "logloss" in report["test"] and "gauc" not in report["test"]
