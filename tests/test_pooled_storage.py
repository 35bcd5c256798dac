"""platform_services.storage: Dagster's Postgres storage with one connection pool
per process. The pool against a real Postgres is exercised by the e2e suite
(tests/e2e/test_platform.py); here, what the class builds from its config."""

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage

from platform_services.storage import POOL_DEFAULTS, PooledPostgresStorage

URL = "postgresql://dagster@postgres:5432/dagster"  # no password: nothing connects


@pytest.fixture
def built(monkeypatch):
    """PooledPostgresStorage over dagster_postgres's storages, each with its own NullPool
    engine as Dagster builds it, but no Postgres to inspect at start."""
    disposed = []
    for klass, name in ((PostgresRunStorage, "runs"), (PostgresEventLogStorage, "events"),
                        (PostgresScheduleStorage, "schedules")):
        def fake_init(self, postgres_url, should_autocreate_tables=True, inst_data=None, token_provider=None,
                      name=name):
            self._engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
            self._engine.dispose = lambda: disposed.append(name)
            self._event_watcher = None

        monkeypatch.setattr(klass, "__init__", fake_init)
    return disposed


def test_the_three_storages_share_one_pinged_queue_pool(built):
    storage = PooledPostgresStorage(URL, pool={"size": 3})
    engines = {id(s._engine) for s in storage.storages()}
    assert engines == {id(storage.engine)}
    pool = storage.engine.pool
    assert isinstance(pool, sa.pool.QueuePool)
    assert pool.size() == 3 and pool._max_overflow == POOL_DEFAULTS["max_overflow"]
    assert pool._pre_ping is True
    assert pool._recycle == POOL_DEFAULTS["recycle_seconds"]
    assert storage.engine.url == sa.make_url(URL)
    assert built == ["runs", "events", "schedules"]  # Dagster's NullPool engines are released


def test_disposing_the_storages_closes_the_pool(built, monkeypatch):
    storage = PooledPostgresStorage(URL)
    closed = []
    monkeypatch.setattr(storage.engine, "dispose", lambda: closed.append(1))
    # What DagsterInstance.dispose does: a code server opens and disposes an
    # instance per sensor evaluation, and must not keep its connections.
    storage.run_storage.dispose()
    storage.event_log_storage.dispose()
    assert closed == [1, 1]


def test_config_takes_the_postgres_block_and_a_pool(built):
    config = yaml.safe_load("""
postgres_db: {username: dagster, hostname: postgres, db_name: dagster, port: 5432}
pool: {size: 4, max_overflow: 2}
""")
    result = process_config(resolve_to_config_type(PooledPostgresStorage.config_type()), config)
    assert result.success, result.errors
    assert result.value["pool"] == {"size": 4, "max_overflow": 2, "recycle_seconds": 3600}
    storage = PooledPostgresStorage.from_config_value(None, result.value)
    assert storage.engine.pool.size() == 4 and storage.engine.pool._max_overflow == 2
    assert storage.engine.url.host == "postgres"


def test_a_wrong_pool_key_is_named(built):
    config = {"postgres_db": {"username": "u", "hostname": "h", "db_name": "d"}, "pool": {"sise": 4}}
    result = process_config(resolve_to_config_type(PooledPostgresStorage.config_type()), config)
    assert not result.success
    assert "sise" in str(result.errors[0])


def test_dagster_postgres_still_keeps_its_engine_where_the_pool_replaces_it():
    # The storages' `_engine` attribute is what PooledPostgresStorage swaps; this
    # fails loudly if an upgrade of the pinned dagster-postgres renames it.
    import inspect

    from dagster_postgres.event_log import PostgresEventLogStorage
    from dagster_postgres.run_storage import PostgresRunStorage
    from dagster_postgres.schedule_storage import PostgresScheduleStorage

    for klass in (PostgresRunStorage, PostgresEventLogStorage, PostgresScheduleStorage):
        source = inspect.getsource(klass)
        assert "self._engine = create_pg_engine(" in source, klass
        assert "create_pg_connection(self._engine)" in source, klass
