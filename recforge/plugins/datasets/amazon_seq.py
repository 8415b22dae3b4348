"""Amazon 2018 next-item rows (history of up to 10 purchases -> next purchase) with product text.

The format is the one of the MiniOneRec release (``valid.csv`` / ``test.csv`` rows of
``user_id, history_item_id, item_id, ...`` plus an ``items.json`` catalogue of titles,
descriptions, brands and categories), one folder per category.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recforge.core.components import param
from recforge.core.data.readers import read_table, require_columns
from recforge.core.data.recipe import RawData, Recipe, locate
from recforge.core.data.schema import FieldSpec
from recforge.core.data.splits import random_split
from recforge.core.errors import DataError

ROW_COLUMNS = ["user_id", "history_item_id", "item_id"]
#: separator of the history titles in the ``history_titles`` text (most recent first)
TITLE_SEP = " | "


def seq_folder(category: str) -> str:
    """``Office_Products`` -> ``amazon-office-2018-seq`` (the first word of the category, lower-case)."""
    return f"amazon-{category.split('_')[0].lower()}-2018-seq"


def parse_history(values: pd.Series, source: Path) -> list[list[str]]:
    """Python list literals of item ids (``"[384, 289]"``) -> lists of id strings, oldest first."""
    out: list[list[str]] = []
    for row, text in enumerate(values.astype("string").fillna("[]")):
        try:
            items = ast.literal_eval(str(text))
        except (ValueError, SyntaxError):
            raise DataError(f"{source}: history_item_id {str(text)[:40]!r} at row {row + 2} is not a list literal",
                            fix="write histories as Python lists of item ids, e.g. [12, 7]") from None
        if not isinstance(items, (list, tuple)):
            raise DataError(f"{source}: history_item_id at row {row + 2} is not a list",
                            fix="write histories as Python lists of item ids, e.g. [12, 7]")
        out.append([str(int(i)) for i in items])
    return out


def read_catalogue(path: Path) -> pd.DataFrame:
    """``items.json`` -> one row per item id (str) with title, description, brand, category."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path} is not a readable JSON object ({type(err).__name__})",
                        fix="restore items.json from the release") from None
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"{path} holds no items", fix="items.json must map item id -> {title, description, ...}")
    frame = pd.DataFrame.from_dict(raw, orient="index")
    if "title" not in frame.columns:
        raise DataError(f"{path}: items have no 'title'", fix="give every item a title")
    cols = {c: frame[c].astype("string").fillna("") if c in frame.columns else pd.Series("", index=frame.index, dtype="string")
            for c in ("title", "description", "brand", "categories")}
    meta = pd.DataFrame({
        "title": cols["title"].str.strip(),
        "description": cols["description"].str.replace(r"<[^>]*>|[\[\]'\"]", " ", regex=True).str.split().str.join(" ").fillna(""),
        "brand": cols["brand"].str.strip(),
        "category": cols["categories"].str.replace(",", "|"),
    })
    meta.index = pd.Index(frame.index.astype(str), name="item_id")
    return meta


def history_titles(histories: list[list[str]], titles: pd.Series, limit: int) -> pd.Series:
    """The titles of each history, most recent first, joined by :data:`TITLE_SEP` (at most ``limit``)."""
    lookup = titles.to_dict()
    return pd.Series([TITLE_SEP.join(lookup.get(i, "") for i in reversed(h[-limit:])) for h in histories], dtype="string")


class AmazonSeq(Recipe):
    """Amazon 2018 next-purchase rows of one category, with the product catalogue.

    Each row is a user's purchase history (up to 10 earlier items, oldest first) and the
    next item. ``history`` is a sequence field over the item vocabulary, ``history_titles``
    the history's product titles (most recent first) as one text, and the item carries its
    title, description, brand and categories from ``items.json``. ``train_file`` is split
    into train and validation rows (every row of a seeded ``valid_fraction`` of the users, see
    ``valid_by``); ``test_file`` is the test
    split. The item vocabulary is the whole catalogue (``items.json``), not only the items
    of the training rows, so full ranking covers every product, cold ones included: the
    training frame carries a ``catalogue`` column listing every item id once (first row), a
    multi-valued field sharing ``item_id``'s vocabulary that no model encodes.

    Args:
        category: the category, e.g. ``Office_Products`` (folder ``amazon-office-2018-seq``).
        folder: dataset folder under RECFORGE_DATA_DIR ('' = derived from the category).
        train_file / test_file: row files in the folder.
        valid_fraction: share of the training rows (``valid_by: rows``) or users (``users``)
            held out for validation.
        valid_by: ``users`` (default) holds out every row of a random share of the users: a
            user's rows are overlapping windows of one purchase sequence, so with ``rows`` a
            valid row's next item sits in the history of the same user's later training rows,
            and a model trained on every history position is validated on items it was shown
            (the test file's users are mostly unseen in training, like held-out users).
        seed: seed of the validation hold-out.
        max_titles: most recent history titles kept in ``history_titles``.

    Example:
        data: {recipe: amazon-seq, params: {category: Office_Products}}
    """

    name = "amazon-seq"

    @dataclass
    class Params:
        category: str = param("Office_Products", "Amazon 2018 category, e.g. Office_Products")
        folder: str = param("", "dataset folder under RECFORGE_DATA_DIR ('' = from the category)")
        train_file: str = param("valid.csv", "rows to train (and validate) on")
        test_file: str = param("test.csv", "rows to test on")
        valid_fraction: float = param(0.1, "share of the training rows (or users) held out for validation")
        valid_by: str = param("users", "hold out whole users (users) or random rows (rows) for validation")
        seed: int = param(2024, "seed of the validation hold-out")
        max_titles: int = param(10, "most recent history titles kept in history_titles")

    def raw_files(self, params: AmazonSeq.Params) -> list[Path]:
        files = [params.train_file, params.test_file, "items.json"]
        base = locate(params.folder or seq_folder(params.category), files)
        return [base / f for f in files]

    def _rows(self, path: Path, meta: pd.DataFrame, max_titles: int) -> pd.DataFrame:
        rows = read_table(path, format="csv", dtype={"user_id": str})
        require_columns(rows, ROW_COLUMNS, path)
        hist = parse_history(rows["history_item_id"], path)
        item = rows["item_id"].astype("string")
        known = set(meta.index)
        for col, values in (("item_id", [[str(v)] for v in item]), ("history_item_id", hist)):
            bad = next((r for r, ids in enumerate(values) if any(i not in known for i in ids)), None)
            if bad is not None:
                missing = next(i for i in values[bad] if i not in known)
                raise DataError(f"{path}: {col} {missing} at row {bad + 2} is not in items.json",
                                fix="use the items.json of the same release")
        frame = pd.DataFrame({
            "user_id": rows["user_id"].astype("string"),
            "item_id": item,
            "history": pd.Series([" ".join(h) for h in hist], dtype="string"),
            "history_titles": history_titles(hist, meta["title"], max_titles),
            "label": np.ones(len(rows), dtype=np.int64),
        })
        frame = frame.join(meta, on="item_id")
        frame.attrs["source"] = str(path)
        return frame

    def load(self, params: AmazonSeq.Params) -> RawData:
        if not 0.0 <= params.valid_fraction < 1.0:
            raise DataError(f"valid_fraction {params.valid_fraction} is outside [0, 1)", fix="use e.g. valid_fraction=0.1")
        train_f, test_f, items_f = self.raw_files(params)
        meta = read_catalogue(items_f)
        train_all = self._rows(train_f, meta, params.max_titles)
        test = self._rows(test_f, meta, params.max_titles)
        if params.valid_by not in ("users", "rows"):
            raise DataError(f"valid_by '{params.valid_by}' is not users or rows", fix="use valid_by: users (or rows)")
        if params.valid_by == "rows":
            cut = random_split(len(train_all), [1 - params.valid_fraction, params.valid_fraction, 0.0], params.seed)
        else:
            users = train_all["user_id"].to_numpy()
            held = random_split(len(np.unique(users)), [1 - params.valid_fraction, params.valid_fraction, 0.0], params.seed)
            is_valid = np.isin(users, np.unique(users)[held["valid"]])
            cut = {"train": np.flatnonzero(~is_valid), "valid": np.flatnonzero(is_valid)}
        frames = {"train": train_all.iloc[cut["train"]].reset_index(drop=True),
                  "valid": train_all.iloc[cut["valid"]].reset_index(drop=True), "test": test}
        for name, frame in frames.items():
            frame["catalogue"] = pd.Series("", index=frame.index, dtype="string")
            frame.attrs["source"] = str(test_f if name == "test" else train_f)
        frames["train"].loc[0, "catalogue"] = " ".join(meta.index)
        fields = [
            FieldSpec("label", "label"),
            FieldSpec("user_id", "categorical", role="user"),
            FieldSpec("item_id", "categorical", role="item"),
            FieldSpec("history", "sequence", role="user", sep=" ", vocab_from="item_id", max_len=10),
            FieldSpec("history_titles", "text", role="user"),
            FieldSpec("title", "text", role="item"),
            FieldSpec("description", "text", role="item"),
            FieldSpec("brand", "categorical", role="item"),
            FieldSpec("category", "multi_categorical", role="item", sep="|"),
            FieldSpec("catalogue", "multi_categorical", role="context", sep=" ", vocab_from="item_id", max_len=1),
        ]
        sources = {"train": str(train_f), "valid": str(train_f), "test": str(test_f)}
        return RawData(frames, fields, "user_id", "item_id", None, meta, None, [train_f, test_f, items_f], sources)
