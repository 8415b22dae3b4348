"""prepare_data end to end on the shared task files: schema, counts, cache, store, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from recforge.core import paths
from recforge.core.data import prepare_data
from recforge.core.errors import ConfigError, DataError


def _task(tasks_dir: Path, name: str = "ml100k-ctr") -> dict:
    return {"recipe": "files", "params": {s: f"${{RECFORGE_TASKS_DIR}}/{name}/{s}.csv" for s in ("train", "valid", "test")}}


class FakeStore:
    def __init__(self) -> None:
        self.recorded: list[tuple] = []

    def record_dataset(self, name: str, fingerprint: str, counts: dict) -> None:
        self.recorded.append((name, fingerprint, counts))


def test_ml100k_ctr_task_exact_schema_and_counts(tasks_dir: Path) -> None:
    store = FakeStore()
    prepared = prepare_data(_task(tasks_dir), store=store)
    kinds = {n: (f.kind, f.role) for n, f in prepared.fields.items()}
    assert kinds == {
        "label": ("label", "label"), "user_id": ("categorical", "user"), "item_id": ("categorical", "item"),
        "gender": ("categorical", "user"), "age_bucket": ("categorical", "user"), "occupation": ("categorical", "user"),
        "zip1": ("categorical", "user"), "release_year": ("categorical", "item"), "genres": ("multi_categorical", "item"),
        "title": ("text", "item"),
    }
    assert [prepared.splits[s].num_rows for s in ("train", "valid", "test")] == [80000, 10000, 10000]
    assert prepared.fields["user_id"].vocab_size == 943 + 2 and prepared.fields["item_id"].vocab_size == 1650 + 2
    assert prepared.splits["train"].dense["label"].mean().item() == pytest.approx(0.5547, abs=1e-4)
    assert prepared.splits["valid"].dense["label"].mean().item() == pytest.approx(0.5476, abs=1e-4)
    assert prepared.counts["users"] == 943 and prepared.counts["items"] == 1682
    assert store.recorded == [(prepared.name, prepared.fingerprint, prepared.counts)]
    # items table: row r is item index r
    items = prepared.items
    assert items is not None and torch.equal(items.dense["item_id"][:1652], torch.arange(1652))
    assert set(prepared.item_meta["row"]) >= set(range(2, 1652))
    # second call is a cache hit with identical tensors
    again = prepare_data(_task(tasks_dir))
    assert again.cache_path == prepared.cache_path
    idx = torch.arange(0, 80000, 997)
    for key, value in prepared.splits["train"].batch(idx).items():
        assert torch.equal(again.splits["train"].batch(idx)[key], value)


def test_recipe_random_split_reproduces_the_task(tasks_dir: Path) -> None:
    prepared = prepare_data({"recipe": "movielens-100k", "split": {"method": "random", "ratios": [0.8, 0.1, 0.1], "seed": 2024}}, use_cache=False)
    valid = pd.read_csv(tasks_dir / "ml100k-ctr" / "valid.csv")
    assert prepared.splits["valid"].dense["label"].tolist() == valid["label"].astype(float).tolist()
    users = prepared.featuremap.raw_of("user_id", prepared.splits["test"].dense["user_id"])
    assert users == [str(u) for u in pd.read_csv(tasks_dir / "ml100k-ctr" / "test.csv")["user_id"]]


def test_cold_item_split_reproduces_coldstart_task(tasks_dir: Path) -> None:
    prepared = prepare_data({"recipe": "movielens-100k", "split": {"method": "cold_item", "cold_fraction": 0.2, "valid_fraction": 0.1, "seed": 2024}}, use_cache=False)
    assert [prepared.splits[s].num_rows for s in ("train", "valid", "test")] == [69808, 7756, 22436]
    assert bool((prepared.splits["test"].dense["item_id"] == 1).all())  # every cold item unknown to train


def _write(tmp_path: Path, frame: pd.DataFrame, name: str = "all.csv") -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def _frame(n: int = 40) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [i % 5 for i in range(n)], "item_id": [i % 7 for i in range(n)], "label": [i % 2 for i in range(n)], "price": [float(i) for i in range(n)]})


@pytest.mark.parametrize(
    ("mutate", "cfg", "message"),
    [
        (lambda f: f.assign(label=f["label"].where(f.index != 5)), {}, r"all\.csv has an empty or NaN label at row 6"),
        (lambda f: f.assign(price=["x"] + [1.0] * 39), {"fields": [{"name": "price", "kind": "numeric"}]}, r"column 'price' of .*all\.csv is not numeric: row 1"),
        (lambda f: f, {"fields": [{"name": "nope", "kind": "categorical"}]}, r"column 'nope' of .*all\.csv \(declared for field 'nope'\) is missing"),
        (lambda f: f, {"split": {"method": "random", "ratios": [0.9, 0.1, 0.0]}}, r"the test split of .*all\.csv is empty"),
    ],
)
def test_bad_input_leaves_no_cache(tmp_path: Path, mutate, cfg: dict, message: str) -> None:
    path = _write(tmp_path, mutate(_frame()))
    store = FakeStore()
    with pytest.raises(DataError, match=message):
        prepare_data({"recipe": "files", "params": {"path": path}, **cfg}, store=store)
    assert list(paths.cache_dir("prepared").iterdir()) == [] and store.recorded == []


def test_unknown_kind_and_missing_file(tmp_path: Path) -> None:
    path = _write(tmp_path, _frame())
    with pytest.raises(ConfigError, match="unknown field kind for field 'price'"):
        prepare_data({"recipe": "files", "params": {"path": path}, "fields": [{"name": "price", "kind": "numerik"}]})
    with pytest.raises(DataError, match="file not found: .*missing.csv"):
        prepare_data({"recipe": "files", "params": {"path": str(tmp_path / "missing.csv")}})
    assert list(paths.cache_dir("prepared").iterdir()) == []


def test_item_without_metadata_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, _frame())
    meta = _write(tmp_path, pd.DataFrame({"item_id": [0, 1, 2, 3, 4, 5], "title": list("abcdef")}), "meta.csv")
    with pytest.raises(DataError, match=r"item id '6' at row 7 has no metadata"):
        prepare_data({"recipe": "files", "params": {"path": path, "item_meta": meta}})


def test_negatives_pointwise_and_pairwise(tmp_path: Path) -> None:
    frame = _frame(70).assign(label=1, item_id=[i % 35 for i in range(70)])
    path = _write(tmp_path, frame)
    cfg = {"recipe": "files", "params": {"path": path}, "split": {"method": "random", "seed": 1}}
    point = prepare_data({**cfg, "negatives": {"method": "uniform", "num": 2, "seed": 3}}, use_cache=False)
    train = point.splits["train"]
    assert train.num_rows == 56 * 3 and train.dense["label"].sum().item() == 56
    pos = set(zip(train.dense["user_id"][:56].tolist(), train.dense["item_id"][:56].tolist()))
    neg = set(zip(train.dense["user_id"][56:].tolist(), train.dense["item_id"][56:].tolist()))
    assert not pos & neg
    pair = prepare_data({**cfg, "negatives": {"num": 3, "mode": "pairwise"}}, use_cache=False)
    assert pair.splits["train"].dense["neg_item_id"].shape == (56, 3)


def test_fingerprint_follows_contents_not_folders(tasks_dir: Path, tmp_path: Path) -> None:
    """The same task files in another folder (another RECFORGE_TASKS_DIR) hit the same cache;
    one changed row gives a new fingerprint."""
    copies = {}
    for name in ("a", "b"):
        shutil.copytree(tasks_dir / "ml100k-ctr", tmp_path / name / "ml100k-ctr")
        copies[name] = {"recipe": "files", "params": {s: str(tmp_path / name / "ml100k-ctr" / f"{s}.csv")
                                                      for s in ("train", "valid", "test")}}
    first = prepare_data(copies["a"])
    moved = prepare_data(copies["b"])
    assert moved.fingerprint == first.fingerprint and moved.cache_path == first.cache_path
    test_csv = tmp_path / "b" / "ml100k-ctr" / "test.csv"
    lines = test_csv.read_text().splitlines(keepends=True)
    test_csv.write_text("".join(lines[:-1]))  # drop the last row
    assert prepare_data(copies["b"]).fingerprint != first.fingerprint
