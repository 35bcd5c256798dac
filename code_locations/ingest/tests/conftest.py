import itertools

import pytest
from platform_common import ObjectStore, Warehouse, WarehouseIOManager


@pytest.fixture(autouse=True)
def local_environment(tmp_path, monkeypatch):
    """Every test runs against its own DuckDB warehouse, as `make dev` does."""
    monkeypatch.setenv("DAGSTER_PLATFORM_ENV", "local")
    monkeypatch.setenv("DAGSTER_PLATFORM_LOCAL_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def warehouse(tmp_path):
    return Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "wh.duckdb"))


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """One real Postgres for the session (pgserver ships the binaries; no Docker)."""
    import pgserver

    server = pgserver.get_server(str(tmp_path_factory.mktemp("pg")), cleanup_mode="stop")
    yield server
    server.cleanup()


_databases = itertools.count()


@pytest.fixture
def postgres_warehouse(postgres_server):
    """A fresh warehouse database, reached as a role that is no superuser and may not
    create schemas: the platform pre-creates `raw` and makes ingest's role its owner,
    as the deployed platform does."""
    name = f"warehouse_{next(_databases)}"
    postgres_server.psql(
        f"CREATE DATABASE {name};"
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ingest') THEN "
        "CREATE ROLE ingest LOGIN PASSWORD 'ingest' NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END $$;"
    )
    postgres_server.psql(f"\\c {name}\nREVOKE CREATE ON DATABASE {name} FROM PUBLIC;"
                         "REVOKE CREATE ON SCHEMA public FROM PUBLIC; CREATE SCHEMA raw AUTHORIZATION ingest;")
    socket_dir = postgres_server.get_uri().split("host=")[1]
    return Warehouse(backend="postgres", host=socket_dir, user="ingest", password="ingest", database=name)


@pytest.fixture(params=["duckdb", "postgres"])
def any_warehouse(request):
    """The test runs once on DuckDB (make dev) and once on Postgres (the deployments)."""
    return request.getfixturevalue("warehouse" if request.param == "duckdb" else "postgres_warehouse")


@pytest.fixture
def store(tmp_path):
    """Ingest's own bucket: the archive."""
    return ObjectStore(backend="local", bucket="dagster-data", local_dir=str(tmp_path / "objects"))


@pytest.fixture
def dropbox(tmp_path):
    """The landing bucket as whoever drops files sees it (ingest's resource is read-only)."""
    return ObjectStore(backend="local", bucket="landing", local_dir=str(tmp_path / "objects"))


def resources_for(warehouse, store, dropbox):
    return {
        "io_manager": WarehouseIOManager(warehouse=warehouse),
        "object_store": store,
        "landing_store": ObjectStore(backend="local", bucket=dropbox.bucket, local_dir=dropbox.local_dir, read_only=True),
        "warehouse": warehouse,
    }


@pytest.fixture
def resources(warehouse, store, dropbox):
    return resources_for(warehouse, store, dropbox)
