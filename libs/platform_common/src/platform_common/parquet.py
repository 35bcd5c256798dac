"""Parquet files in the object store, one path per asset partition. No pickle."""

from __future__ import annotations

import io

import dagster as dg
import pandas as pd
from pydantic import Field

from platform_common.objectstore import ObjectStore


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
        if not isinstance(obj, pd.DataFrame):
            raise dg.Failure(f"ParquetIOManager stores DataFrames, got {type(obj).__name__}")
        [key] = self._keys(context)
        buffer = io.BytesIO()
        obj.to_parquet(buffer, index=False)
        self.store.put_bytes(key, buffer.getvalue(), content_type="application/vnd.apache.parquet")
        context.add_output_metadata(
            {"dagster/uri": dg.MetadataValue.path(self.store.uri(key)), "dagster/row_count": len(obj)}
        )

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        frames = [pd.read_parquet(io.BytesIO(self.store.get_bytes(k))) for k in self._keys(context)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
