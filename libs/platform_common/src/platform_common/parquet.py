"""Parquet files in the object store, one path per asset partition. No pickle.

DuckDB (platform-common's `duckdb` extra, also the local warehouse) writes and
reads the files, so the images do not carry pyarrow (about 170 MB) for Parquet
alone. It is imported on first use: locations that never touch Parquet do not
install it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from platform_common.objectstore import ObjectStore

if TYPE_CHECKING:  # pandas loads when a step needs it, not with the definitions (docs/performance.md)
    import pandas as pd

# DuckDB maps pandas dtypes onto its own types and folds column names that
# differ only in case. Each file therefore also records every column's name and
# pandas dtype, and reads restore both.
COLUMNS_KEY = "platform_common:columns"


def _duckdb():
    try:
        import duckdb
    except ImportError:
        raise dg.Failure(
            "Parquet needs DuckDB: install platform-common with its `duckdb` extra "
            "(platform-common[duckdb] in the location's pyproject.toml)"
        ) from None
    return duckdb


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def to_parquet_bytes(frame: pd.DataFrame, metadata: dict[str, str] | None = None) -> bytes:
    """`frame`, without its index, as the bytes of one Parquet file; `metadata`
    goes into the file's key-value metadata (read it with `read_parquet_metadata`)."""
    names = list(frame.columns)
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise ValueError(f"Parquet needs unique string column names, got {names}")
    columns = json.dumps([[name, str(dtype)] for name, dtype in frame.dtypes.items()])
    kv = {**(metadata or {}), COLUMNS_KEY: columns}
    kv_sql = ", ".join(f"{_sql_string(k)}: {_sql_string(v)}" for k, v in kv.items())
    with tempfile.TemporaryDirectory() as tmp, _duckdb().connect() as con:
        path = Path(tmp, "frame.parquet")
        con.register("frame", frame)
        con.execute(f"COPY frame TO {_sql_string(str(path))} (FORMAT parquet, KV_METADATA {{{kv_sql}}})")
        return path.read_bytes()


def read_parquet_metadata(data: bytes) -> dict[str, str]:
    """The key-value metadata of a Parquet file (`to_parquet_bytes(..., metadata=)`)."""
    with tempfile.TemporaryDirectory() as tmp, _duckdb().connect() as con:
        path = Path(tmp, "frame.parquet")
        path.write_bytes(data)
        rows = con.execute("SELECT decode(key), decode(value) FROM parquet_kv_metadata(?)", [str(path)]).fetchall()
    return dict(rows)


def read_parquet_bytes(data: bytes) -> pd.DataFrame:
    """The DataFrame in a Parquet file, with the column names and dtypes it was written with."""
    with tempfile.TemporaryDirectory() as tmp, _duckdb().connect() as con:
        path = Path(tmp, "frame.parquet")
        path.write_bytes(data)
        frame = con.read_parquet(str(path)).df(date_as_object=True)
        recorded = con.execute(
            "SELECT decode(value) FROM parquet_kv_metadata(?) WHERE decode(key) = ?", [str(path), COLUMNS_KEY]
        ).fetchall()
    if not recorded:  # written by another tool (archives before DuckDB wrote them came from pyarrow)
        return frame
    columns = json.loads(recorded[0][0])
    frame.columns = [name for name, _ in columns]
    changed = {name: dtype for name, dtype in columns if str(frame[name].dtype) != dtype}
    return frame.astype(changed) if changed else frame


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores DataFrames as `<prefix>/<asset/key/path>/<partition>.parquet`.

    Each write is a single atomic object PUT (or temp-file rename locally), so
    readers see the old file or the new one, never half of one.
    """

    store: ObjectStore
    prefix: str = Field(default="archive", description="key prefix inside the bucket")

    def _keys(self, context: dg.InputContext | dg.OutputContext) -> list[str]:
        base = "/".join([self.prefix, *context.asset_key.path])
        if context.has_asset_partitions:
            return [f"{base}/{pk}.parquet" for pk in context.asset_partition_keys]
        return [f"{base}.parquet"]

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        import pandas as pd

        if not isinstance(obj, pd.DataFrame):
            raise dg.Failure(f"ParquetIOManager stores DataFrames, got {type(obj).__name__}")
        keys = self._keys(context)
        parts = [(keys[0], obj)] if len(keys) == 1 else self._split(context, obj, keys)
        for key, part in parts:
            self.store.put_bytes(key, to_parquet_bytes(part), content_type="application/vnd.apache.parquet")
        where = keys[0] if len(keys) == 1 else keys[0].rsplit("/", 1)[0] + "/"
        context.add_output_metadata(
            {"dagster/uri": dg.MetadataValue.path(self.store.uri(where)), "dagster/row_count": len(obj)}
        )

    @staticmethod
    def _split(context: dg.OutputContext, obj: pd.DataFrame, keys: list[str]) -> list[tuple[str, pd.DataFrame]]:
        """A run over a range of days: one file per day, rows placed by the asset's
        `partition_expr` column. Each file is still one atomic write."""
        import pandas as pd

        partitions_def = context.asset_partitions_def
        column = (context.definition_metadata or {}).get("partition_expr")
        if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition) or not column:
            raise dg.Failure(
                f"asset {context.asset_key.to_user_string()}: a run over several partitions needs time "
                "partitions and 'partition_expr' metadata naming the column that places each row"
            )
        if column not in obj.columns:
            raise dg.Failure(f"asset {context.asset_key.to_user_string()}: no column {column!r} (partition_expr)")
        values = pd.to_datetime(obj[column])
        placed = pd.Series(False, index=obj.index)
        parts = []
        for partition_key, key in zip(context.asset_partition_keys, keys, strict=True):
            window = partitions_def.time_window_for_partition_key(partition_key)
            mask = (values >= window.start.replace(tzinfo=None)) & (values < window.end.replace(tzinfo=None))
            placed |= mask
            parts.append((key, obj[mask].reset_index(drop=True)))
        if not placed.all():
            row = obj[~placed].iloc[0]
            raise dg.Failure(
                f"asset {context.asset_key.to_user_string()}: row with {column}={row[column]} is outside "
                f"the run's partitions {keys[0]} .. {keys[-1]}"
            )
        return parts

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        import pandas as pd

        frames = [read_parquet_bytes(self.store.get_bytes(k)) for k in self._keys(context)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
