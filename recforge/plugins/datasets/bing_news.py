"""Bing News click sample released with DKN (WWW 2018): titles, entities, click labels."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recforge.core.components import param
from recforge.core.data.readers import read_table
from recforge.core.data.recipe import Recipe, RawData, locate
from recforge.core.data.schema import FieldSpec
from recforge.core.data.splits import random_split

FOLDER = "bing-news-dkn"
FILES = ["raw_train.txt", "raw_test.txt"]
COLUMNS = ["user_id", "title", "label", "entity_info"]


def click_history(users: pd.Series, news: pd.Series, clicked: np.ndarray, max_len: int) -> pd.Series:
    """Per row: the user's clicked news ids (file order, most recent last), minus the row's own news."""
    pos = pd.DataFrame({"u": users[clicked].to_numpy(), "n": news[clicked].to_numpy()})
    per_user = pos.groupby("u", sort=False)["n"].agg(list)
    lists = users.map(per_user)
    own = news.to_numpy()
    return pd.Series(
        [" ".join([h for h in hist if h != own[i]][-max_len:]) if isinstance(hist, list) else "" for i, hist in enumerate(lists)],
        index=users.index,
        dtype="string",
    )


class BingNews(Recipe):
    """Bing News (DKN raw format): ``user<TAB>title<TAB>label<TAB>id:entity;...``.

    Each distinct title becomes a news item ``D<n>``; ``history`` is the user's clicked news in
    the training split (file order, the row's own news left out so the label does not leak),
    a sequence field over the news vocabulary. ``raw_test.txt`` is the test split (its titles
    never occur in train: a cold-item split); ``valid_fraction`` of the training rows is held
    out as validation.

    Args:
        valid_fraction: share of training rows held out as the validation split.
        max_history: keep the most recent clicks of the history.
        seed: seed of the validation hold-out.

    Example:
        data: {recipe: bing-news, params: {max_history: 30}}
    """

    name = "bing-news"

    @dataclass
    class Params:
        valid_fraction: float = param(0.1, "share of training rows held out for validation")
        max_history: int = param(50, "keep at most this many clicked news in the history")
        seed: int = param(2024, "seed of the validation hold-out")

    def raw_files(self, params: BingNews.Params) -> list[Path]:
        base = locate(FOLDER, FILES)
        return [base / f for f in FILES]

    def load(self, params: BingNews.Params) -> RawData:
        train_f, test_f = self.raw_files(params)
        read = {f: read_table(f, format="csv", sep="\t", header=False, names=COLUMNS, quoting=3, dtype={"user_id": str, "title": str, "entity_info": str}) for f in (train_f, test_f)}
        both = pd.concat([read[train_f].assign(_part="train"), read[test_f].assign(_part="test")], ignore_index=True)
        codes, _ = pd.factorize(both["title"])
        both["news_id"] = pd.Series(codes).map(lambda c: f"D{c}").astype("string")
        names = both["entity_info"].astype("string").fillna("").str.split(";")
        both["entities"] = names.map(lambda parts: "|".join(p.split(":", 1)[-1] for p in parts if p)).astype("string")
        is_train = (both["_part"] == "train").to_numpy()
        train_idx = np.flatnonzero(is_train)
        cut = random_split(len(train_idx), [1 - params.valid_fraction, params.valid_fraction, 0.0], params.seed)
        part = both["_part"].to_numpy().copy()
        part[train_idx[cut["valid"]]] = "valid"
        clicked = (part == "train") & (both["label"].to_numpy() == 1)
        both["history"] = click_history(both["user_id"], both["news_id"], clicked, params.max_history)
        frames = {s: both[part == s].drop(columns="_part").reset_index(drop=True) for s in ("train", "valid", "test")}
        meta = both.drop_duplicates("news_id").set_index("news_id")[["title", "entities"]]
        fields = [
            FieldSpec("label", "label"),
            FieldSpec("user_id", "categorical", role="user"),
            FieldSpec("news_id", "categorical", role="item"),
            FieldSpec("entities", "multi_categorical", role="item", sep="|"),
            FieldSpec("title", "text", role="item"),
            FieldSpec("history", "sequence", role="user", sep=" ", vocab_from="news_id", max_len=params.max_history),
        ]
        sources = {"train": str(train_f), "valid": str(train_f), "test": str(test_f)}
        return RawData(frames, fields, "user_id", "news_id", None, meta, None, [train_f, test_f], sources)
