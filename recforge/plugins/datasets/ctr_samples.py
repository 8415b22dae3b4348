"""Criteo and Avazu CTR samples in the DeepCTR example format (header row, comma-separated)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recforge.core.components import param
from recforge.core.data.readers import read_table, require_columns
from recforge.core.data.recipe import Recipe, RawData, locate
from recforge.core.data.schema import FieldSpec

FOLDER = "ctr-samples-deepctr"


class _SampleFileRecipe(Recipe):
    """A recipe reading one file (``params.file``) from a dataset folder (``params.folder``)."""

    def raw_files(self, params: Any) -> list[Path]:
        return [locate(params.folder, [params.file]) / params.file]


class Criteo(_SampleFileRecipe):
    """Criteo display-ads CTR: ``label``, 13 integer features ``I1..I13``, 26 hashed ``C1..C26``.

    Integer features are numeric with log normalisation (missing -> median); categoricals
    keep values seen at least ``min_count`` times in train (rarer ones share the unknown index).

    Args:
        file: file name in the dataset folder (the DeepCTR ``criteo_sample.txt`` by default).
        folder: dataset folder under RECFORGE_DATA_DIR.
        min_count: minimum train count of a categorical value.

    Example:
        data: {recipe: criteo, split: {method: random, ratios: [0.8, 0.1, 0.1]}}
    """

    name = "criteo"

    @dataclass
    class Params:
        file: str = param("criteo_sample.txt", "file name in the dataset folder")
        folder: str = param(FOLDER, "dataset folder under RECFORGE_DATA_DIR")
        min_count: int = param(1, "minimum train count of a categorical value")

    def load(self, params: Criteo.Params) -> RawData:
        (path,) = self.raw_files(params)
        dense = [f"I{i}" for i in range(1, 14)]
        sparse = [f"C{i}" for i in range(1, 27)]
        frame = read_table(path, format="csv", sep=",", dtype={c: str for c in sparse})
        require_columns(frame, ["label", *dense, *sparse], path)
        fields = [FieldSpec("label", "label")]
        fields += [FieldSpec(c, "numeric", normalize="log") for c in dense]
        fields += [FieldSpec(c, "categorical", min_count=params.min_count) for c in sparse]
        return RawData({"all": frame}, fields, files=[path], sources={"all": str(path)})


class Avazu(_SampleFileRecipe):
    """Avazu mobile-ads CTR: ``click`` label and 21 categorical fields (hour -> hour of day).

    Args:
        file: file name in the dataset folder (the DeepCTR ``avazu_sample.txt`` by default).
        folder: dataset folder under RECFORGE_DATA_DIR.
        min_count: minimum train count of a categorical value.

    Example:
        data: {recipe: avazu}
    """

    name = "avazu"

    @dataclass
    class Params(Criteo.Params):
        file: str = param("avazu_sample.txt", "file name in the dataset folder")

    def load(self, params: Avazu.Params) -> RawData:
        (path,) = self.raw_files(params)
        frame = read_table(path, format="csv", sep=",", dtype=str)
        require_columns(frame, ["click", "hour"], path)
        frame["hour"] = frame["hour"].astype("string").str.slice(-2)
        cats = [c for c in frame.columns if c not in ("id", "click")]
        fields = [FieldSpec("click", "label")] + [FieldSpec(c, "categorical", min_count=params.min_count) for c in cats]
        return RawData({"all": frame}, fields, files=[path], sources={"all": str(path)})
