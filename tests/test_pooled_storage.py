"""platform_services.storage: Dagster's Postgres storage with one connection pool
per process. The pool against a real Postgres is exercised by the e2e suite
(tests/e2e/test_platform.py); here, what the class builds from its config."""

import gc
import os
import time
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
    assert result.value["pool"] == {"size": 4, "max_overflow": 2, "recycle_seconds": 3600, "idle_seconds": 60}
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


def sqlite_engine(tmp_path, name="db"):
    """A QueuePool engine on a file: real connections to count, no Postgres."""
    return sa.create_engine(f"sqlite:///{tmp_path / name}.sqlite", poolclass=sa.pool.QueuePool, pool_size=2)


def use(engine, connections=1):
    held = [engine.connect() for _ in range(connections)]
    for conn in held:
        conn.execute(sa.text("SELECT 1"))
    for conn in held:
        conn.close()


def watched(tmp_path, idle_seconds, closer=None):
    """A new closer (or `closer`) watching a new engine, one connection used and returned."""
    closer = closer or storage_module.IdleCloser()
    engine = sqlite_engine(tmp_path)
    closer.watch(engine, idle_seconds=idle_seconds)
    use(engine)
    return closer, engine


def wait_until_closed(engine, timeout=10.0) -> int:
    """Poll, with a deadline, until the pool holds no connection; returns what it holds."""
    deadline = time.monotonic() + timeout
    while engine.pool.checkedin() and time.monotonic() < deadline:
        time.sleep(0.05)
    return engine.pool.checkedin()


def test_an_idle_pool_closes_its_connections_and_opens_them_again(tmp_path):
    closer, engine = watched(tmp_path, idle_seconds=60)
    use(engine, 2)
    assert engine.pool.checkedin() == 2
    last = closer._engines[engine].at
    assert closer.close_idle(now=last + 59) == []  # used 59 s ago: kept
    assert engine.pool.checkedin() == 2
    assert closer.close_idle(now=last + 60) == [engine]
    assert engine.pool.checkedin() == 0
    # The engine's new pool opens a connection again, and its return is still seen.
    use(engine)
    assert engine.pool.checkedin() == 1 and closer._engines[engine].at > last
    assert closer.close_idle(now=closer._engines[engine].at + 59) == []
    assert closer.close_idle(now=closer._engines[engine].at + 60) == [engine]
    assert engine.pool.checkedin() == 0


def test_a_checked_out_connection_keeps_the_pool_open(tmp_path):
    closer, engine = watched(tmp_path, idle_seconds=1)
    with engine.connect() as busy:  # a long query: the pool is in use however old its last return
        assert closer.close_idle(now=closer._engines[engine].at + 3600) == []
        assert busy.execute(sa.text("SELECT 2")).scalar() == 2
    assert engine.pool.checkedin() == 1


def test_the_closer_thread_closes_an_idle_pool_on_its_own(tmp_path):
    closer, engine = watched(tmp_path, idle_seconds=0.2)
    assert wait_until_closed(engine) == 0
    assert closer._thread is not None and closer._thread.name == "postgres-idle-closer"


def test_a_forgotten_engine_is_not_kept_alive(tmp_path):
    closer, engine = watched(tmp_path, idle_seconds=60)
    engine.dispose()
    del engine
    gc.collect()
    assert len(closer._engines) == 0


def test_the_storage_pools_are_watched_with_their_idle_period(built, monkeypatch):
    watched = []
    monkeypatch.setattr(storage_module._IDLE_CLOSER, "watch", lambda engine, seconds: watched.append((engine, seconds)))
    storage = PooledPostgresStorage(URL)
    assert watched == [(storage.engine, POOL_DEFAULTS["idle_seconds"])]
    storage.run_storage.optimize_for_webserver(statement_timeout=5000, pool_recycle=600, max_overflow=20)
    assert watched[-1] == (storage.engine, 60)  # the webserver's rebuilt pool too
    watched.clear()
    PooledPostgresStorage(URL, pool={"idle_seconds": 0})
    assert watched == []  # 0: connections stay open


def test_a_forked_child_starts_its_own_closer(tmp_path):
    _, engine = watched(tmp_path, idle_seconds=0.2, closer=storage_module._IDLE_CLOSER)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's closer thread is not here
        os.close(read)
        use(engine)
        os.write(write, str(wait_until_closed(engine)).encode())
        os._exit(0)
    os.close(write)
    assert os.read(read, 16) == b"0"
    os.waitpid(pid, 0)
