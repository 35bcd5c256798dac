import pytest
from platform_common import ObjectStore, ParquetIOManager, Warehouse, WarehouseIOManager


@pytest.fixture(autouse=True)
def local_environment(tmp_path, monkeypatch):
    """Every test runs against its own DuckDB warehouse, as `make dev` does."""
    monkeypatch.setenv("DAGSTER_PLATFORM_ENV", "local")
    monkeypatch.setenv("DAGSTER_PLATFORM_LOCAL_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def warehouse(tmp_path):
    return Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "wh.duckdb"))


@pytest.fixture
def store(tmp_path):
    return ObjectStore(backend="local", bucket="dagster-data", local_dir=str(tmp_path / "objects"))


@pytest.fixture
def resources(warehouse, store):
    return {
        "io_manager": WarehouseIOManager(warehouse=warehouse),
        "parquet_io_manager": ParquetIOManager(store=store),
        "object_store": store,
        "warehouse": warehouse,
    }
