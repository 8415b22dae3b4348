"""MIND (Microsoft News Dataset), official ``news.tsv`` + ``behaviors.tsv`` format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from recforge.core.components import param
from recforge.core.data.readers import read_table
from recforge.core.data.recipe import Recipe, RawData, join_meta, locate
from recforge.core.data.schema import FieldSpec
from recforge.core.errors import DataError

NEWS_COLUMNS = ["news_id", "category", "subcategory", "title", "abstract", "url", "title_entities", "abstract_entities"]
BEHAVIOR_COLUMNS = ["impression_id", "user_id", "time", "history", "impressions"]


def explode_impressions(behaviors: pd.DataFrame, source: str) -> pd.DataFrame:
    """One row per impression item ``N123-1``: news_id and its 0/1 label."""
    items = behaviors["impressions"].astype("string").fillna("").str.split()
    rows = behaviors.drop(columns="impressions").assign(_item=items).explode("_item", ignore_index=True)
    rows = rows[rows["_item"].notna()].reset_index(drop=True)
    parts = rows["_item"].astype("string").str.rsplit("-", n=1, expand=True)
    if parts.shape[1] != 2 or parts[1].isna().any():
        bad = int(parts[1].isna().to_numpy().nonzero()[0][0]) if parts.shape[1] == 2 else 0
        raise DataError(f"{source}: impression item {rows['_item'].iloc[bad]!r} is not NewsID-label", fix="use the official MIND behaviors.tsv format")
    labels = pd.to_numeric(parts[1], errors="coerce")
    if labels.isna().any():
        raise DataError(f"{source}: impression label {parts[1][labels.isna()].iloc[0]!r} is not 0 or 1", fix="use the official MIND behaviors.tsv format")
    return rows.drop(columns="_item").assign(news_id=parts[0], label=labels.astype("int64"))


class Mind(Recipe):
    """MIND news recommendation data in the official format.

    Every impression item becomes a labelled row (``N123-1`` -> news ``N123``, label 1); the
    click history is a sequence field over the news vocabulary; title, abstract, category and
    subcategory come from ``news.tsv``. The staged sample covers only ~3% of impression news
    with text, so rows whose news has no ``news.tsv`` entry are kept by default.

    Args:
        folder: dataset folder under RECFORGE_DATA_DIR (e.g. a MIND-small train folder).
        max_history: keep the most recent clicks of the history.
        missing_meta: rows whose news has no metadata: keep, drop or error.

    Example:
        data: {recipe: mind, params: {folder: MINDsmall_train}, split: {method: temporal}}
    """

    name = "mind"

    @dataclass
    class Params:
        folder: str = param("mind-format-sample", "dataset folder under RECFORGE_DATA_DIR")
        max_history: int = param(50, "keep at most this many clicked news in the history")
        missing_meta: Literal["keep", "drop", "error"] = param("keep", "rows whose news has no news.tsv entry")

    def raw_files(self, params: Mind.Params) -> list[Path]:
        base = locate(params.folder, ["news.tsv", "behaviors.tsv"])
        return [base / "news.tsv", base / "behaviors.tsv"]

    def load(self, params: Mind.Params) -> RawData:
        news_f, behaviors_f = self.raw_files(params)
        news = read_table(news_f, format="tsv", header=False, names=NEWS_COLUMNS, quoting=3, dtype=str)
        behaviors = read_table(behaviors_f, format="tsv", header=False, names=BEHAVIOR_COLUMNS, quoting=3, dtype=str)
        times = pd.to_datetime(behaviors["time"], format="%m/%d/%Y %I:%M:%S %p", errors="coerce")
        if times.isna().any():
            row = int(times.isna().to_numpy().nonzero()[0][0])
            raise DataError(f"{behaviors_f}: time {behaviors['time'].iloc[row]!r} at row {row + 1} is not M/D/YYYY h:mm:ss AM", fix="use the official MIND time format")
        behaviors["time"] = times.astype("int64") // 10**9
        behaviors["history"] = behaviors["history"].fillna("")
        meta = news.drop_duplicates("news_id").set_index("news_id")[["category", "subcategory", "title", "abstract"]]
        rows = explode_impressions(behaviors, str(behaviors_f))
        rows = join_meta(rows, meta, "news_id", "news", behaviors_f, params.missing_meta)
        fields = [
            FieldSpec("label", "label"),
            FieldSpec("user_id", "categorical", role="user"),
            FieldSpec("news_id", "categorical", role="item"),
            FieldSpec("category", "categorical", role="item"),
            FieldSpec("subcategory", "categorical", role="item"),
            FieldSpec("title", "text", role="item"),
            FieldSpec("abstract", "text", role="item"),
            FieldSpec("history", "sequence", role="user", sep=" ", vocab_from="news_id", max_len=params.max_history),
        ]
        return RawData({"all": rows}, fields, "user_id", "news_id", "time", meta, None, [news_f, behaviors_f], {"all": str(behaviors_f)})
