import dagster as dg
import pandas as pd
import pytest
from moto import mock_aws

from platform_common import ObjectStore, ParquetIOManager
from platform_common.parquet import read_parquet_bytes


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, monkeypatch):
    if request.param == "local":
        yield ObjectStore(backend="local", bucket="data", local_dir=str(tmp_path))
        return
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="data")
        from platform_common import objectstore

        objectstore._s3_client.cache_clear()
        yield ObjectStore(backend="s3", bucket="data", region="us-east-1")
        objectstore._s3_client.cache_clear()


def test_put_get_list_delete(store):
    store.put_bytes("landing/a/1.csv", b"x,y\n1,2\n")
    store.put_bytes("landing/b/2.csv", b"z")
    store.put_bytes("other/3.csv", b"q")
    assert store.get_bytes("landing/a/1.csv") == b"x,y\n1,2\n"
    assert [o.key for o in store.list("landing/")] == ["landing/a/1.csv", "landing/b/2.csv"]
    assert store.exists("other/3.csv") and not store.exists("other/4.csv")
    store.delete("other/3.csv")
    assert not store.exists("other/3.csv")


def test_etag_changes_with_content(store):
    store.put_bytes("k", b"one")
    first = store.list("k")[0].etag
    store.put_bytes("k", b"two!")
    assert store.list("k")[0].etag != first


def test_local_keys_cannot_escape_the_bucket(tmp_path):
    store = ObjectStore(backend="local", bucket="data", local_dir=str(tmp_path))
    with pytest.raises(dg.Failure, match="escapes the bucket"):
        store.put_bytes("../../etc/x", b"")


def test_parquet_io_manager_one_file_per_partition(store):
    parts = dg.DailyPartitionsDefinition(start_date="2024-01-01")

    @dg.asset(partitions_def=parts, key=["raw", "archive"], io_manager_key="parquet")
    def archive(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return pd.DataFrame({"day": [context.partition_key], "n": [1]})

    for day in ("2024-01-01", "2024-01-02"):
        assert dg.materialize([archive], partition_key=day,
                              resources={"parquet": ParquetIOManager(store=store)}).success
    keys = [o.key for o in store.list("archive/")]
    assert keys == ["archive/raw/archive/2024-01-01.parquet", "archive/raw/archive/2024-01-02.parquet"]
    back = read_parquet_bytes(store.get_bytes(keys[1]))
    assert back.to_dict("records") == [{"day": "2024-01-02", "n": 1}]
    assert b"pickle" not in store.get_bytes(keys[0])


def test_get_with_etag_returns_the_listed_version(store):
    store.put_bytes("landing/a/1.csv", b"v1")
    [listed] = store.list("landing/")
    assert store.get_with_etag("landing/a/1.csv") == (b"v1", listed.etag)


def test_a_read_only_store_refuses_puts_and_deletes(store):
    store.put_bytes("landing/a/1.csv", b"x")
    read_only = store.model_copy()
    object.__setattr__(read_only, "read_only", True)
    for change in (lambda: read_only.put_bytes("landing/a/2.csv", b"y"), lambda: read_only.delete("landing/a/1.csv")):
        with pytest.raises(dg.Failure, match=f"bucket '{store.bucket}' is read-only"):
            change()
    assert read_only.get_bytes("landing/a/1.csv") == b"x"


def test_is_archived_only_for_the_archived_version(store):
    from platform_common.landing_archive import SOURCE_ETAG_KEY, archive_key, is_archived, landing_key_of
    from platform_common.parquet import to_parquet_bytes

    key = "landing/orders/2024-01-05/a.csv"
    assert landing_key_of(archive_key(key)) == key
    store.put_bytes(key, b"v1")
    [v1] = store.list("landing/")
    assert not is_archived(store, v1)
    store.put_bytes(archive_key(key), to_parquet_bytes(pd.DataFrame({"x": [1]}), metadata={SOURCE_ETAG_KEY: v1.etag}))
    assert is_archived(store, v1)
    store.put_bytes(key, b"v2, replaced after it was archived")
    [v2] = store.list("landing/")
    assert not is_archived(store, v2)
