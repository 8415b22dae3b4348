"""FeatureMap: fitted on train only, known answers for each field kind, JSON round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from recforge.core.data.featuremap import FeatureMap
from recforge.core.data.schema import FieldSpec
from recforge.core.errors import ConfigError, DataError

TRAIN = pd.DataFrame({
    "label": [1, 0, 1, 1],
    "user": ["a", "b", "a", "c"],
    "genres": ["x|y", "y", "", "y|z|w"],
    "hist": ["1 2 3", "3", "", "4 5 6 7"],
    "item": [1, 2, 3, 4],
    "price": [1.0, 2.0, 3.0, np.nan],
    "title": ["t1", "t2", "t1", "t3"],
    "vec": ["[1, 2]", "[3, 4]", "[5, 6]", "[7, 8]"],
})
SPECS = [
    FieldSpec("label", "label"),
    FieldSpec("user", "categorical", role="user", min_count=2),
    FieldSpec("genres", "multi_categorical", sep="|", max_len=2),
    FieldSpec("hist", "sequence", sep=" ", max_len=3, vocab_from="item"),
    FieldSpec("item", "categorical", role="item"),
    FieldSpec("price", "numeric"),
    FieldSpec("pbucket", "numeric", source="price", buckets=2),
    FieldSpec("title", "text", role="item"),
    FieldSpec("both", "text", template="{title}: {genres}"),
    FieldSpec("vec", "vector"),
]


def test_known_answers_per_kind() -> None:
    fm, table = FeatureMap.fit_transform(TRAIN, SPECS)
    b = table.batch(torch.arange(4))
    assert b["user"].tolist() == [2, 1, 2, 1]  # only 'a' reaches min_count 2
    # genres vocab: y (3) first, then w, x, z alphabetically (1 each) -> y=2 w=3 x=4 z=5
    assert fm.raw_of("genres", [2, 3, 4, 5]) == ["y", "w", "x", "z"]
    assert b["genres"].tolist() == [[4, 2], [2, 0], [0, 0], [2, 5]]  # first L kept
    assert fm.fields["hist"].vocab_key == "item"
    assert b["hist"][3].tolist() == fm.index_of("item", ["5", "6", "7"]).tolist()  # last L kept
    mean, std = 2.0, np.std([1.0, 2.0, 3.0])
    assert b["price"].tolist() == pytest.approx([(1 - mean) / std, 0.0, (3 - mean) / std, (np.median([1, 2, 3]) - mean) / std])
    assert b["pbucket"].tolist() == [2, 3, 3, 1]  # edge at the median 2.0; NaN -> unknown
    assert fm.raw_of("title", b["title"]) == ["t1", "t2", "t1", "t3"]
    assert fm.fields["both"].texts[int(b["both"][0])] == "t1: x|y"
    assert b["vec"].tolist() == [[1, 2], [3, 4], [5, 6], [7, 8]]
    assert b["label"].dtype == torch.float32


def test_unseen_values_unknown_and_unseen_texts_appended() -> None:
    fm = FeatureMap.fit(TRAIN, SPECS)
    before = len(fm.fields["title"].texts)
    test = TRAIN.assign(user=["zz", "a", "a", "b"], title=["new", "t1", "", "t2"])
    b = fm.transform(test).batch(torch.arange(4))
    assert b["user"].tolist() == [1, 2, 2, 1]
    assert fm.fields["title"].texts[int(b["title"][0])] == "new"
    assert len(fm.fields["title"].texts) == before + 1
    assert b["title"][2].item() == 0  # empty text -> padding


def test_hashing_mode_is_stable_and_bounded() -> None:
    specs = [FieldSpec("label", "label"), FieldSpec("user", "categorical", hash_buckets=7)]
    fm = FeatureMap.fit(TRAIN, specs)
    idx = fm.index_of("user", ["a", "b", "a", "never-seen"])
    assert idx[0] == idx[2] and bool(((idx >= 2) & (idx < 9)).all())
    assert fm.fields["user"].vocab_size == 9
    assert torch.equal(FeatureMap.fit(TRAIN, specs).index_of("user", ["a"]), idx[:1])


def test_json_round_trip_gives_identical_tensors(tmp_path) -> None:
    fm = FeatureMap.fit(TRAIN, SPECS)
    fm.save(tmp_path / "fm.json")
    back = FeatureMap.load(tmp_path / "fm.json")
    a, b = fm.transform(TRAIN).batch(torch.arange(4)), back.transform(TRAIN).batch(torch.arange(4))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize(
    ("frame", "specs", "message"),
    [
        (TRAIN.drop(columns="user"), SPECS, "column 'user'"),
        (TRAIN.assign(price=["1", "x", "2", "3"]), SPECS, "column 'price' of train.csv is not numeric: row 2"),
        (TRAIN.assign(label=[1, None, 0, 1]), SPECS, "train.csv has an empty or NaN label at row 2"),
        (TRAIN.iloc[:0], SPECS, "is empty"),
        (TRAIN.assign(vec=["1 2", "3", "4 5", "6 7"]), SPECS, "row 2 has a vector of length 1"),
    ],
)
def test_bad_input_one_line_errors(frame: pd.DataFrame, specs: list[FieldSpec], message: str) -> None:
    with pytest.raises(DataError) as err:
        FeatureMap.fit(frame, specs, source="train.csv")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_field_kind_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown field kind for field 'user' 'categorcal'.*did you mean 'categorical'"):
        FeatureMap.fit(TRAIN, [{"name": "user", "kind": "categorcal"}])  # type: ignore[list-item]
