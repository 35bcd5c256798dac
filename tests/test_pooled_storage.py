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

from platform_services import storage as storage_module
from platform_services.storage import POOL_DEFAULTS, PooledPostgresStorage

URL = "postgresql://dagster@postgres:5432/dagster"  # no password: nothing connects


@pytest.fixture
def tables(monkeypatch):
    """What the table check finds in Postgres (no Postgres here): True, or False
    for an empty database. Records each check, and what each storage was told."""
    state = SimpleNamespace(present=True, checks=[], autocreate=[])

    def ask(engine):
        state.checks.append(engine.url)
        return state.present

    monkeypatch.setattr(storage_module, "_seen_tables", set())
    monkeypatch.setattr(storage_module, "_ask_tables_present", ask)
    return state


@pytest.fixture
def built(monkeypatch, tables):
    """PooledPostgresStorage over dagster_postgres's storages, each with its own NullPool
    engine as Dagster builds it, but no Postgres to inspect at start."""
    disposed = []
    for klass, name in ((PostgresRunStorage, "runs"), (PostgresEventLogStorage, "events"),
                        (PostgresScheduleStorage, "schedules")):
        def fake_init(self, postgres_url, should_autocreate_tables=True, inst_data=None, token_provider=None,
                      name=name):
            tables.autocreate.append((name, should_autocreate_tables))
            self._engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
            self._engine.dispose = lambda: disposed.append(name)
            self._event_watcher = None
            self.postgres_url, self._token_provider = postgres_url, token_provider

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


def test_a_process_asks_for_the_tables_once_and_dagster_never(built, tables):
    # A code server opens an instance per sensor evaluation: dagster_postgres's own
    # check is one inspector, on a new connection, per storage, every time.
    PooledPostgresStorage(URL)
    PooledPostgresStorage(URL)
    assert len(tables.checks) == 1
    assert tables.autocreate == [(name, False) for name in ("runs", "events", "schedules")] * 2


def test_a_missing_table_lets_dagster_postgres_create_them(built, tables):
    tables.present = False
    PooledPostgresStorage(URL)
    assert tables.autocreate == [("runs", True), ("events", True), ("schedules", True)]
    PooledPostgresStorage(URL)
    assert len(tables.checks) == 2  # not remembered until the tables are there


def test_should_autocreate_tables_false_is_kept(built, tables):
    tables.present = False
    PooledPostgresStorage(URL, should_autocreate_tables=False)
    assert {create for _, create in tables.autocreate} == {False}


def test_the_webserver_gets_one_pool_for_the_three_storages(built):
    storage = PooledPostgresStorage(URL, pool={"size": 1})
    before = storage.engine
    # What dagster-webserver does at start (DagsterInstance.optimize_for_webserver).
    for each in (storage.schedule_storage, storage.run_storage, storage.event_log_storage):
        each.optimize_for_webserver(statement_timeout=5000, pool_recycle=600, max_overflow=20)
    assert {id(s._engine) for s in storage.storages()} == {id(storage.engine)}
    assert storage.engine is not before
    pool = storage.engine.pool
    assert pool.size() == 1 and pool._max_overflow == 20 and pool._recycle == 600 and pool._pre_ping
    timeouts = [listener.args for listener in pool.dispatch.connect
                if getattr(listener, "func", None) is storage_module._statement_timeout]
    assert timeouts == [(5000,)]  # each new connection gets the webserver's statement timeout


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
