"""MovieLens 100K (GroupLens): 100,000 ratings by 943 users on 1,682 movies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recforge.core.components import param
from recforge.core.data.readers import read_table
from recforge.core.data.recipe import Recipe, RawData, RemoteFile, join_meta, locate
from recforge.core.data.schema import FieldSpec

FOLDER = "ml-100k"
URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
FILES = {
    "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
    "u.item": "6dd287831559152bea892eb27694a492ff14926ac5f7a16e5f8c4968e6fe13c3",
    "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
    "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
}
AGE_EDGES = np.array([18, 25, 35, 45, 50, 56])
AGE_BUCKETS = np.array([1, 18, 25, 35, 45, 50, 56])


def joined_flags(flags: np.ndarray, names: list[str], sep: str = "|") -> pd.Series:
    """Names of the set flags per row joined by ``sep`` (vectorised: one concat per flag)."""
    out = pd.Series([""] * flags.shape[0], dtype="string")
    for j, name in enumerate(names):
        out = out + pd.Series(np.where(flags[:, j] == 1, name + sep, ""), dtype="string")
    return out.str.slice(0, -len(sep)).where(out != "", "")


class MovieLens100K(Recipe):
    """MovieLens 100K: ratings with user demographics, genres, titles and release years.

    Columns match ``shared/tasks/ml100k-ctr`` (label, user_id, item_id, gender, age_bucket,
    occupation, zip1, release_year, genres, title, timestamp) plus the raw ``rating``, so a
    random split with seed 2024 reproduces that task. Raw files are looked up in
    ``RECFORGE_DATA_DIR/ml-100k`` and downloaded from GroupLens (sha256-checked) if absent.

    Args:
        threshold: a rating at or above it is a positive (label 1).

    Example:
        data: {recipe: movielens-100k, params: {threshold: 4}, split: {method: random, seed: 2024}}
    """

    name = "movielens-100k"

    @dataclass
    class Params:
        threshold: float = param(4.0, "ratings >= threshold are positives (label 1)")

    def raw_files(self, params: MovieLens100K.Params) -> list[Path]:
        base = locate(FOLDER, list(FILES), [RemoteFile(n, URL, h, member=f"ml-100k/{n}") for n, h in FILES.items()])
        return [base / n for n in FILES]

    def load(self, params: MovieLens100K.Params) -> RawData:
        data_f, item_f, user_f, genre_f = self.raw_files(params)
        ratings = read_table(data_f, format="csv", sep="\t", header=False, names=["user_id", "item_id", "rating", "timestamp"])
        genres = read_table(genre_f, format="csv", sep="|", header=False, names=["name", "id"], encoding="latin-1").dropna()
        item_cols = ["item_id", "title", "release_date", "video_date", "url", *[f"g{i}" for i in range(len(genres))]]
        items = read_table(item_f, format="csv", sep="|", header=False, names=item_cols, encoding="latin-1", quoting=3)
        users = read_table(user_f, format="csv", sep="|", header=False, names=["user_id", "age", "gender", "occupation", "zip"], dtype={"zip": str})
        flags = items[[f"g{i}" for i in range(len(genres))]].to_numpy()
        # plain arrays: a Series would align on its RangeIndex instead of the id index
        item_meta = pd.DataFrame({
            "title": items["title"].astype("string").to_numpy(),
            "release_year": items["release_date"].astype("string").str.slice(-4).fillna("unknown").to_numpy(),
            "genres": joined_flags(flags, genres["name"].tolist()).to_numpy(),
        }, index=pd.Index(items["item_id"].to_numpy(), name="item_id"))
        user_meta = pd.DataFrame({
            "gender": users["gender"].to_numpy(),
            "age_bucket": AGE_BUCKETS[np.searchsorted(AGE_EDGES, users["age"].to_numpy(), side="right")],
            "occupation": users["occupation"].to_numpy(),
            "zip1": users["zip"].astype("string").str.slice(0, 1).to_numpy(),
        }, index=pd.Index(users["user_id"].to_numpy(), name="user_id"))
        frame = ratings.assign(label=(ratings["rating"] >= params.threshold).astype("int64"))
        frame = join_meta(frame, user_meta, "user_id", "user", data_f)
        frame = join_meta(frame, item_meta, "item_id", "item", data_f)
        return RawData(
            frames={"all": frame},
            fields=ML100K_FIELDS,
            user_key="user_id",
            item_key="item_id",
            time_key="timestamp",
            item_meta=item_meta,
            user_meta=user_meta,
            files=[data_f, item_f, user_f, genre_f],
            sources={"all": str(data_f)},
        )


ML100K_FIELDS = [
    FieldSpec("label", "label", role="label"),
    FieldSpec("user_id", "categorical", role="user"),
    FieldSpec("item_id", "categorical", role="item"),
    FieldSpec("gender", "categorical", role="user"),
    FieldSpec("age_bucket", "categorical", role="user"),
    FieldSpec("occupation", "categorical", role="user"),
    FieldSpec("zip1", "categorical", role="user"),
    FieldSpec("release_year", "categorical", role="item"),
    FieldSpec("genres", "multi_categorical", role="item", sep="|"),
    FieldSpec("title", "text", role="item"),
]
