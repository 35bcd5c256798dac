import pytest
from platform_common import ObjectStore


@pytest.fixture(autouse=True)
def local_environment(tmp_path, monkeypatch):
    """Every test runs against its own local folders, as `make dev` does."""
    monkeypatch.setenv("DAGSTER_PLATFORM_ENV", "local")
    monkeypatch.setenv("DAGSTER_PLATFORM_LOCAL_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def landing_store(tmp_path):
    """The landing bucket, as the definitions open it locally (housekeeping may delete there)."""
    return ObjectStore(backend="local", bucket="landing", local_dir=str(tmp_path / "objects"))


@pytest.fixture
def ingest_archive(tmp_path):
    """Ingest's bucket, where it archives each landing file it loaded."""
    return ObjectStore(backend="local", bucket="dagster-data", local_dir=str(tmp_path / "objects"))
