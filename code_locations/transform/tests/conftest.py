import os
import subprocess
from pathlib import Path

import pytest

LOCATION_DIR = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = LOCATION_DIR / "src" / "transform" / "dbt_project"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
# What parsing must not need: the warehouse's address and credentials.
WAREHOUSE_ENV = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "WAREHOUSE_DB")


def _manifest_is_stale() -> bool:
    if not MANIFEST.exists():
        return True
    sources = [
        p for p in DBT_PROJECT_DIR.rglob("*")
        if p.is_file() and not {"target", "logs"} & set(p.relative_to(DBT_PROJECT_DIR).parts)
    ]
    return max(p.stat().st_mtime for p in sources) > MANIFEST.stat().st_mtime


def pytest_configure(config):
    """Prepare the manifest the way the image build does (prepare.sh) before any test
    module imports the dbt assets: a fresh clone has none, and an edited model makes it stale."""
    if _manifest_is_stale():
        env = {k: v for k, v in os.environ.items() if k not in WAREHOUSE_ENV}
        done = subprocess.run(["sh", str(LOCATION_DIR / "prepare.sh")], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise pytest.UsageError(f"prepare.sh failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(autouse=True)
def local_environment(tmp_path, monkeypatch):
    """Every test runs against its own DuckDB warehouse, as `make dev` does."""
    monkeypatch.setenv("DAGSTER_PLATFORM_ENV", "local")
    monkeypatch.setenv("DAGSTER_PLATFORM_LOCAL_DIR", str(tmp_path))
    monkeypatch.delenv("DBT_DUCKDB_PATH", raising=False)  # transform.definitions sets it
    return tmp_path
