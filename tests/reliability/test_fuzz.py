"""Property tests: readers, the config parser and the FeatureMap never leak a raw exception.

Whatever the input (arbitrary text, unicode, huge numbers, empty files, random bytes), the
only exceptions that may escape are :class:`RecforgeError` subclasses, which the CLI turns
into one ``error:`` line. Valid inputs must also round-trip (known answers, not just "no
crash").
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from recforge.core.errors import RecforgeError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))
keys = st.one_of(st.text(max_size=12), st.sampled_from(["data", "model", "train", "eval", "name", "epochs", "lr",
                                                         "recipe", "metrics", "params", "fields"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


def _only_recforge_errors(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except RecforgeError as err:
        assert str(err) and "\n" not in str(err)
        return err


# --------------------------------------------------------------------------- config parser
@FUZZ
@given(st.text(max_size=300))
def test_parse_yaml_any_text(text: str) -> None:
    from recforge.core.config import parse_yaml

    result = _only_recforge_errors(parse_yaml, text, "f.yaml")
    assert isinstance(result, (dict, RecforgeError))


@FUZZ
@given(st.dictionaries(keys, values, max_size=5))
def test_validate_config_any_mapping(config: dict[str, Any]) -> None:
    from recforge.core.config import validate_config

    _only_recforge_errors(validate_config, config)


@FUZZ
@given(st.lists(st.text(max_size=40), max_size=4))
def test_apply_overrides_any_strings(overrides: list[str]) -> None:
    from recforge.core.config import apply_overrides, validate_config

    base = {"data": {"recipe": "files"}, "train": {"epochs": 1}}
    result = _only_recforge_errors(apply_overrides, base, overrides)
    if isinstance(result, dict):
        assert base == {"data": {"recipe": "files"}, "train": {"epochs": 1}}  # never mutated
        _only_recforge_errors(validate_config, result)


@FUZZ
@given(st.integers(min_value=-(10**40), max_value=10**40),
       st.text(alphabet=st.characters(min_codepoint=0x20, blacklist_categories=["Cs", "Cc", "Zl", "Zp"],
                                      blacklist_characters="'\x7f\x85"), min_size=1, max_size=10))
def test_override_values_round_trip(number: int, word: str) -> None:
    """Known answers: an integer stays that integer, a quoted unicode word stays that string."""
    from recforge.core.config import apply_overrides

    assert apply_overrides({}, [f"train.seed={number}"]) == {"train": {"seed": number}}
    assert apply_overrides({}, [f"name='{word}'"]) == {"name": word}


# --------------------------------------------------------------------------- readers
SUFFIXES = [".csv", ".tsv", ".jsonl", ".csv.gz", ".parquet"]


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(SUFFIXES))
def test_read_table_any_bytes(blob: bytes, suffix: str) -> None:
    from recforge.core.data.readers import read_table

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f{suffix}"
        path.write_bytes(blob)
        result = _only_recforge_errors(read_table, path)
        assert isinstance(result, (pd.DataFrame, RecforgeError))


@FUZZ
@given(st.lists(st.lists(st.text(max_size=8), min_size=2, max_size=2), max_size=8), st.booleans())
def test_read_table_any_text_rows(rows: list[list[str]], compress: bool) -> None:
    from recforge.core.data.readers import read_table

    text = "a,b\n" + "".join(",".join(r) + "\n" for r in rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("f.csv.gz" if compress else "f.csv")
        data = text.encode("utf-8", "surrogatepass")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            assume(False)
        path.write_bytes(gzip.compress(data) if compress else data)
        _only_recforge_errors(read_table, path)


def test_read_table_empty_and_header_only(tmp_path: Path) -> None:
    from recforge.core.data.readers import read_table
    from recforge.core.errors import DataError

    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(DataError, match="is empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "head.csv").write_text("a,b\n")
    assert list(read_table(tmp_path / "head.csv").columns) == ["a", "b"]


# --------------------------------------------------------------------------- FeatureMap
raw_ids = st.one_of(st.text(max_size=12), st.integers(min_value=-(2**62), max_value=2**62))


@FUZZ
@given(st.lists(st.tuples(raw_ids, st.text(max_size=15), st.floats(allow_nan=True, allow_infinity=True),
                          st.sampled_from([0, 1])), min_size=1, max_size=30),
       st.lists(st.tuples(raw_ids, st.text(max_size=15)), max_size=10))
def test_featuremap_arbitrary_values(rows: list[tuple], unseen: list[tuple]) -> None:
    from recforge.core.data.featuremap import FeatureMap
    from recforge.core.data.schema import FieldSpec

    specs = [FieldSpec("label", "label", role="label"), FieldSpec("user_id", "categorical", role="user"),
             FieldSpec("tags", "multi_categorical", role="item", sep="|"), FieldSpec("score", "numeric")]
    frame = pd.DataFrame({"user_id": [str(r[0]) for r in rows], "tags": [r[1] for r in rows],
                          "score": [r[2] for r in rows], "label": [r[3] for r in rows]})
    fitted = _only_recforge_errors(FeatureMap.fit_transform, frame, specs)
    if isinstance(fitted, RecforgeError):
        return
    fmap, table = fitted
    assert table.num_rows == len(rows)
    # known answers: training ids get indices >= 2; an index maps to a raw id that maps back
    # to it (raw ids are normalised, e.g. ' a ' -> 'a', so the raw text itself may differ)
    ids = sorted({str(r[0]) for r in rows})
    index = fmap.index_of("user_id", ids)
    assert bool((index >= 2).all())
    assert fmap.index_of("user_id", fmap.raw_of("user_id", index)).tolist() == index.tolist()
    with tempfile.TemporaryDirectory() as tmp:
        fmap.save(Path(tmp) / "fm.json")
        again = FeatureMap.load(Path(tmp) / "fm.json")
    assert again.index_of("user_id", ids).tolist() == fmap.index_of("user_id", ids).tolist()
    if unseen:
        other = pd.DataFrame({"user_id": [str(u[0]) for u in unseen], "tags": [u[1] for u in unseen],
                              "score": [0.5] * len(unseen), "label": [1] * len(unseen)})
        result = _only_recforge_errors(fmap.transform, other)
        if not isinstance(result, RecforgeError):
            idx = result.batch(torch.arange(len(unseen)))["user_id"]
            expected = fmap.index_of("user_id", [str(u[0]) for u in unseen])
            assert idx.tolist() == expected.tolist()  # transform and index_of agree (unseen -> 1)
            assert all(i == 1 or i in index.tolist() for i in idx.tolist())


def _not_json_value(text: str) -> bool:
    """Text that is not valid JSON at all (valid JSON of the wrong shape has its own test below)."""
    import json

    try:
        json.loads(text)
    except ValueError:
        return True
    return False


@FUZZ
@given(st.text(max_size=200).filter(_not_json_value))
def test_featuremap_load_any_text(text: str) -> None:
    from recforge.core.data.featuremap import FeatureMap

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "featuremap.json"
        path.write_bytes(text.encode("utf-8", "replace"))
        _only_recforge_errors(FeatureMap.load, path)


@pytest.mark.parametrize("text", ["0", "[]", "null", '{"format": 1}', '{"format": 1, "fields": null}',
                                  '{"format": 1, "fields": {"a": 3}, "vocabs": {}}'])
def test_featuremap_load_wrong_shape(text: str, tmp_path: Path) -> None:
    from recforge.core.data.featuremap import FeatureMap

    (tmp_path / "featuremap.json").write_text(text)
    _only_recforge_errors(FeatureMap.load, tmp_path / "featuremap.json")
