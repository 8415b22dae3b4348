"""Amazon Review Data (2018), one category: 5-core reviews + ``meta_*`` product metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from recforge.core.components import param
from recforge.core.data.readers import read_table, require_columns
from recforge.core.data.recipe import Recipe, RawData, join_meta, locate
from recforge.core.data.schema import FieldSpec


def joined(series: pd.Series, sep: str) -> pd.Series:
    """Lists (JSON arrays) joined by ``sep``; strings kept; missing -> ''."""
    return series.map(lambda v: sep.join(str(x).replace(sep, " ") for x in v) if isinstance(v, (list, tuple, np.ndarray)) else ("" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))).astype("string")


def folder_of(category: str) -> str:
    """``Gift_Cards`` -> ``amazon-gift-cards-2018``."""
    return f"amazon-{category.lower().replace('_', '-')}-2018"


class Amazon2018(Recipe):
    """Amazon 2018 reviews of one category with product title, description, brand, category, price.

    Files: ``<category>_5.json.gz`` (5-core reviews) and ``meta_<category>.json.gz`` in
    ``RECFORGE_DATA_DIR/amazon-<category>-2018``. Price strings such as ``$25.00`` become
    numbers (empty -> missing).

    Args:
        category: the category file stem, e.g. ``Gift_Cards``.
        threshold: ratings at or above it are positives.
        missing_meta: reviews of products without metadata: error, drop or keep.

    Example:
        data: {recipe: amazon-2018, params: {category: Gift_Cards}, split: {method: leave_last_out}}
    """

    name = "amazon-2018"

    @dataclass
    class Params:
        category: str = param("Gift_Cards", "category file stem, e.g. Gift_Cards")
        threshold: float = param(4.0, "ratings >= threshold are positives (label 1)")
        missing_meta: Literal["error", "drop", "keep"] = param("error", "reviews of products without metadata")

    def raw_files(self, params: Amazon2018.Params) -> list[Path]:
        files = [f"{params.category}_5.json.gz", f"meta_{params.category}.json.gz"]
        base = locate(folder_of(params.category), files)
        return [base / f for f in files]

    def load(self, params: Amazon2018.Params) -> RawData:
        reviews_f, meta_f = self.raw_files(params)
        reviews = read_table(reviews_f, format="jsonl")
        require_columns(reviews, ["reviewerID", "asin", "overall", "unixReviewTime"], reviews_f)
        frame = pd.DataFrame({
            "user_id": reviews["reviewerID"].astype("string"),
            "item_id": reviews["asin"].astype("string"),
            "rating": reviews["overall"].astype("float64"),
            "timestamp": reviews["unixReviewTime"].astype("int64"),
        })
        frame["label"] = (frame["rating"] >= params.threshold).astype("int64")
        raw_meta = read_table(meta_f, format="jsonl")
        require_columns(raw_meta, ["asin", "title"], meta_f)
        raw_meta = raw_meta.drop_duplicates("asin")
        get = lambda col: raw_meta[col] if col in raw_meta.columns else pd.Series([None] * len(raw_meta), index=raw_meta.index)  # noqa: E731
        price = get("price").astype("string").str.replace(",", "").str.extract(r"(\d+(?:\.\d+)?)")[0]
        meta = pd.DataFrame({
            "title": joined(get("title"), " "),
            "description": joined(get("description"), " "),
            "brand": joined(get("brand"), " "),
            "category": joined(get("category"), "|"),
            "price": pd.to_numeric(price, errors="coerce"),
        }).set_index(pd.Index(raw_meta["asin"].astype("string"), name="item_id"))
        frame = join_meta(frame, meta, "item_id", "item", reviews_f, params.missing_meta)
        fields = [
            FieldSpec("label", "label"),
            FieldSpec("user_id", "categorical", role="user"),
            FieldSpec("item_id", "categorical", role="item"),
            FieldSpec("brand", "categorical", role="item"),
            FieldSpec("category", "multi_categorical", role="item", sep="|"),
            FieldSpec("price", "numeric", role="item", normalize="log"),
            FieldSpec("title", "text", role="item"),
            FieldSpec("description", "text", role="item"),
        ]
        return RawData({"all": frame}, fields, "user_id", "item_id", "timestamp", meta, None, [reviews_f, meta_f], {"all": str(reviews_f)})
