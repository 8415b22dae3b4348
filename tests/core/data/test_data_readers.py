"""Readers: formats, gzip, and one-line DataErrors naming the file for any malformed input."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recforge.core.data.readers import read_table
from recforge.core.errors import DataError

FRAME = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.csv.gz", "t.parquet", "t.jsonl", "t.jsonl.gz"])
def test_formats_round_trip(tmp_path, name: str) -> None:
    path = tmp_path / name
    if ".csv" in name:
        FRAME.to_csv(path, index=False)
    elif ".tsv" in name:
        FRAME.to_csv(path, index=False, sep="\t")
    elif ".parquet" in name:
        FRAME.to_parquet(path)
    else:
        FRAME.to_json(path, orient="records", lines=True)
    back = read_table(path)
    assert back["a"].tolist() == [1, 2, 3] and back["b"].astype(str).tolist() == ["x", "y", "z"]


def test_truncated_gzip_names_the_file(tmp_path) -> None:
    path = tmp_path / "ratings.csv.gz"
    data = gzip.compress(("a,b\n" + "1,2\n" * 5000).encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"ratings\.csv\.gz is a truncated or corrupt gzip file"):
        read_table(path)


def test_missing_and_ragged_files(tmp_path) -> None:
    with pytest.raises(DataError, match="file not found: .*nope.csv"):
        read_table(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(DataError, match=r"cannot parse .*bad\.csv as csv"):
        read_table(bad)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300) | st.text(alphabet='ab,"\n\r\t|;\\x01é', max_size=200).map(lambda s: s.encode()))
def test_malformed_csv_gives_only_data_errors(tmp_path, blob: bytes) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_bytes(blob)
    try:
        frame = read_table(path)
    except DataError as err:
        assert "fuzz.csv" in str(err) and "\n" not in str(err)
    else:
        assert isinstance(frame, pd.DataFrame)
