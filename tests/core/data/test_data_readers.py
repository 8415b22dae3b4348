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
    with pytest.raises(DataError, match=r"line 3 of .*bad\.csv has 4 fields, the header has 2"):
        read_table(bad)
    short = tmp_path / "short.csv"
    short.write_text("a,b,c\n1,2,3\n\n4,5\n")  # blank lines are skipped, as pandas does
    with pytest.raises(DataError, match=r"line 4 of .*short\.csv has 2 fields, the header has 3"):
        read_table(short)
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('a,b\n1,"x,y"\n2,"open\n3,4\n')
    with pytest.raises(DataError, match=r"line 3 of .*quoted\.csv has a quote that is never closed"):
        read_table(quoted)
    twice = tmp_path / "twice.csv"
    twice.write_text("a,b,a\n1,2,3\n")
    with pytest.raises(DataError, match=r"column 'a' appears twice in the header of .*twice\.csv"):
        read_table(twice)


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
