import pytest


@pytest.fixture(autouse=True)
def local_environment(tmp_path, monkeypatch):
    """Every test runs against its own DuckDB warehouse, as `make dev` does."""
    monkeypatch.setenv("DAGSTER_PLATFORM_ENV", "local")
    monkeypatch.setenv("DAGSTER_PLATFORM_LOCAL_DIR", str(tmp_path))
    return tmp_path
