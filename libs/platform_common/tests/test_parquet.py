"""Parquet through DuckDB: frames come back as they went in, and the images need no pyarrow."""

import importlib.util
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from platform_common.parquet import read_parquet_bytes, to_parquet_bytes

# What ParquetIOManager wrote with pandas + pyarrow 26 before DuckDB took over:
# three validated landing rows. Archives like it stay in the object stores.
PYARROW_ARCHIVE = Path(__file__).parent / "data" / "landing-written-by-pyarrow.parquet"

FRAMES = {
    "landing rows": pd.DataFrame({
        "order_id": [1, 2],
        "order_date": pd.to_datetime(["2024-01-05", "2024-01-05"]).astype("datetime64[us]"),
        "status": ["completed", "returned"],
        "source_file": ["landing/orders/2024-01-05/a.csv"] * 2,
    }),
    "no rows": pd.DataFrame({
        "order_id": pd.Series(dtype="int64"),
        "order_date": pd.Series(dtype="datetime64[s]"),
        "status": pd.Series(dtype="object"),
    }),
    "nullable and odd types": pd.DataFrame({
        "maybe": pd.array([1, None], dtype="Int64"),
        "flag": pd.array([True, None], dtype="boolean"),
        "small": pd.Series([1, 2], dtype="int32"),
        "ratio": [0.5, None],
        "kind": pd.Categorical(["a", "b"]),
        "day": [date(2024, 1, 1), date(2024, 1, 2)],
        "at": pd.to_datetime(["2024-01-01 12:00", "2024-06-01 08:00"]).tz_localize("Europe/Berlin"),
        "took": pd.to_timedelta(["1D", "2h"]),
    }),
    "names differing only in case": pd.DataFrame({"A": [1], "a": [2], "with space": [3]}),
}


def test_the_environment_has_no_pyarrow():
    # Otherwise pandas and DuckDB could take pyarrow paths these tests never see.
    assert importlib.util.find_spec("pyarrow") is None


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_round_trip_keeps_names_dtypes_and_values(name):
    frame = FRAMES[name]
    pd.testing.assert_frame_equal(read_parquet_bytes(to_parquet_bytes(frame)), frame)


def test_index_is_not_stored():
    frame = pd.DataFrame({"n": [1, 2]}, index=[10, 20])
    back = read_parquet_bytes(to_parquet_bytes(frame))
    assert list(back.columns) == ["n"] and back.index.tolist() == [0, 1]


def test_files_are_plain_parquet(tmp_path):
    path = tmp_path / "x.parquet"
    path.write_bytes(to_parquet_bytes(FRAMES["landing rows"]))
    assert path.read_bytes()[:4] == b"PAR1"
    with duckdb.connect() as con:
        assert con.read_parquet(str(path)).columns == ["order_id", "order_date", "status", "source_file"]


@pytest.mark.parametrize("columns", [["a", "a"], [0, 1]])
def test_column_names_must_be_unique_strings(columns):
    with pytest.raises(ValueError, match="unique string column names"):
        to_parquet_bytes(pd.DataFrame([[1, 2]], columns=columns))


def test_archives_written_by_pyarrow_still_load():
    back = read_parquet_bytes(PYARROW_ARCHIVE.read_bytes())
    assert back.dtypes.astype(str).to_dict() == {
        "order_id": "int64", "customer_id": "int64", "order_date": "datetime64[us]", "status": "str",
        "payment_id": "int64", "payment_method": "str", "amount_cents": "int64",
        "source_file": "str", "source_line": "int64",
    }
    assert back["payment_id"].tolist() == [11, 12, 13]
    assert back["order_date"].dt.strftime("%Y-%m-%d").unique().tolist() == ["2024-01-05"]
