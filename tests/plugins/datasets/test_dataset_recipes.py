"""Built-in recipes against the figures in shared/datasets README / SOURCE files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from recforge.core.components import build_params
from recforge.core.data import recipe as recipe_mod
from recforge.core.errors import DataError
from recforge.core.registry import get_registry


def _load(name: str, **params):
    info = get_registry().get(name, "dataset")
    return info.cls().load(build_params(info.cls, params))


def test_every_recipe_is_registered_and_documented() -> None:
    names = {i.name for i in get_registry().list("dataset")}
    assert {"movielens-100k", "ml-latest-small", "bing-news", "mind", "amazon-2018", "criteo", "avazu", "files", "parquet"} <= names
    for info in get_registry().list("dataset"):
        assert "Args:" in info.doc and "Example:" in info.doc, info.name


def test_movielens_100k_counts(datasets_dir: Path) -> None:
    raw = _load("movielens-100k")
    rows = raw.frames["all"]
    assert (len(rows), rows["user_id"].nunique(), rows["item_id"].nunique()) == (100000, 943, 1682)
    assert rows["label"].sum() == 55375  # README: overall positive rate 0.5537
    assert rows["gender"].notna().all() and rows["title"].notna().all()
    first = rows.iloc[0]  # u.data line 1: user 196, item 242 (Kolya (1996), Comedy)
    assert (first["title"], first["genres"], first["gender"], first["age_bucket"]) == ("Kolya (1996)", "Comedy", "M", 45)


def test_ml_latest_small_counts(datasets_dir: Path) -> None:
    raw = _load("ml-latest-small")
    rows = raw.frames["all"]
    assert (len(rows), rows["user_id"].nunique(), rows["item_id"].nunique(), len(raw.item_meta)) == (100836, 610, 9724, 9742)


def test_bing_news_counts(datasets_dir: Path) -> None:
    raw = _load("bing-news")
    train = len(raw.frames["train"]) + len(raw.frames["valid"])
    assert (train, len(raw.frames["test"])) == (10401, 462)
    assert raw.all_rows()["user_id"].nunique() == 469
    test_titles = set(raw.frames["test"]["title"])
    assert len(test_titles) == 407 and not test_titles & set(raw.frames["train"]["title"])
    assert int(raw.frames["test"]["label"].sum()) == 271


def test_mind_sample_parses(datasets_dir: Path) -> None:
    raw = _load("mind")
    rows = raw.frames["all"]
    assert rows["impression_id"].nunique() == 5000 and len(raw.item_meta) == 2000
    assert set(rows["label"].unique()) <= {0, 1} and rows["news_id"].str.startswith("N").all()
    with pytest.raises(DataError, match="has no metadata"):
        _load("mind", missing_meta="error")


def test_amazon_gift_cards(datasets_dir: Path) -> None:
    raw = _load("amazon-2018", category="Gift_Cards")
    rows = raw.frames["all"]
    assert (len(rows), rows["user_id"].nunique(), rows["item_id"].nunique(), len(raw.item_meta)) == (2972, 458, 148, 1547)
    reviewed = raw.item_meta.loc[rows["item_id"].unique()]
    assert reviewed["price"].notna().sum() == 107


def test_ctr_samples(datasets_dir: Path) -> None:
    criteo, avazu = _load("criteo").frames["all"], _load("avazu").frames["all"]
    assert (len(criteo), int(criteo["label"].sum()), len(avazu), int(avazu["click"].astype(int).sum())) == (200, 49, 100, 20)


def test_offline_error_names_directory_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECFORGE_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(recipe_mod, "_fetch", lambda url, dest: (_ for _ in ()).throw(OSError("network is unreachable")))
    with pytest.raises(DataError, match=r"dataset 'ml-100k' is not in .*empty/ml-100k \(expected u\.data, u\.item"):
        _load("movielens-100k")
    with pytest.raises(DataError, match=r"dataset 'bing-news-dkn' is not in .*: expected raw_train\.txt, raw_test\.txt"):
        _load("bing-news")


def test_download_checks_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("d/f.txt", "hello")
    archive = tmp_path / "d.zip"
    archive.write_bytes(buf.getvalue())
    monkeypatch.setattr(recipe_mod, "_fetch", lambda url, dest: dest.write_bytes(archive.read_bytes()))
    good = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    recipe_mod.download([recipe_mod.RemoteFile("f.txt", "https://example/d.zip", good, member="d/f.txt")], tmp_path / "ok")
    assert (tmp_path / "ok" / "f.txt").read_text() == "hello"
    with pytest.raises(DataError, match="has sha256 2cf24dba5fb0"):
        recipe_mod.download([recipe_mod.RemoteFile("f.txt", "https://example/d.zip", "0" * 64, member="d/f.txt")], tmp_path / "bad")
    assert not (tmp_path / "bad" / "f.txt").exists()
