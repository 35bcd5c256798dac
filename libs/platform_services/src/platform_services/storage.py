"""Dagster's Postgres storage, with one pool of reusable connections per process.

dagster_postgres opens a new connection for every query (SQLAlchemy's NullPool)
in every process except the webserver: the daemon, the code servers and every
run worker. Each one costs a TCP handshake, a new Postgres backend process and a
SCRAM password exchange on both sides. Profiled on the compose stack, opening
connections was half of the daemon's sensor threads' CPU, and Postgres's share
of an idle stack's CPU was mostly backend start-up (docs/performance.md). This
storage keeps the same tables, migrations and config as `storage: postgres`
and adds one QueuePool, shared by the run, event-log and schedule storages of
the process:

    storage:
      custom:
        module: platform_services.storage
        class: PooledPostgresStorage
        config:
          postgres_db: {...}          # exactly as under `storage: postgres`
          pool: {size: 2, max_overflow: 8, recycle_seconds: 3600, idle_seconds: 60}

Connections are checked with a ping before use (pool_pre_ping), so a Postgres
restart costs one failed ping per stale connection, never a failed query.

A pool that nobody has used for `idle_seconds` closes its connections
(IdleCloser); the next query opens one again. Each open connection is a
Postgres backend process of about 3 MiB: a webserver nobody is looking at
would otherwise hold its connections, and their backends, for good. The
daemon, which queries every second, keeps its pool open.

Disposing the instance closes the pool. In the webserver, Dagster gives each of
the three storages its own pool of one connection, held open, plus a statement
timeout (optimize_for_webserver); here the three share one pool with that
timeout, so the webserver holds `size` connections at rest instead of three.

Opening an instance costs one query, not three connections: dagster_postgres
checks that its tables exist with one SQLAlchemy inspector per storage, each on
a new connection. A code server opens an instance for every sensor evaluation
(every 5 s per sensor here), and a run worker one per run. This class asks once,
on the pool's first connection, and a process that has seen the tables asks no
more. When a table is missing it lets dagster_postgres create them, as before.

Dagster tracks making these settings configurable upstream
(dagster-io/dagster#33935, #20325); drop this class when it ships.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from typing import Any

import sqlalchemy as sa
from dagster import Field, IntSource
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.config import pg_config
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import (
    create_pg_engine,
    get_token_provider_from_config,
    pg_url_from_config,
    retry_pg_connection_fn,
    set_pg_statement_timeout,
)

POOL_DEFAULTS = {"size": 2, "max_overflow": 8, "recycle_seconds": 3600, "idle_seconds": 60}
LOG = logging.getLogger(__name__)

# What dagster_postgres's storages look for at start before creating their tables:
# runs and instance_info (run storage), event_logs, and schedules or jobs.
_TABLES_PRESENT = sa.text("""
    SELECT count(*) FILTER (WHERE relname IN ('runs', 'instance_info', 'event_logs')) = 3
       AND count(*) FILTER (WHERE relname IN ('schedules', 'jobs')) > 0
    FROM pg_catalog.pg_class
    WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')
      AND relname IN ('runs', 'instance_info', 'event_logs', 'schedules', 'jobs')
""")
_seen_tables: set[str] = set()  # database URLs whose tables this process has seen
_seen_lock = threading.Lock()


def _ask_tables_present(engine: sa.Engine) -> bool:
    def ask() -> bool:
        with engine.connect() as conn:
            return bool(conn.execute(_TABLES_PRESENT).scalar())

    return retry_pg_connection_fn(ask)  # Dagster's retries while Postgres starts


def _tables_present(engine: sa.Engine, url: str) -> bool:
    with _seen_lock:
        if url in _seen_tables:
            return True
    present = _ask_tables_present(engine)
    if present:
        with _seen_lock:
            _seen_tables.add(url)
    return present


def _statement_timeout(millis: int, dbapi_connection: Any, _record: Any) -> None:
    set_pg_statement_timeout(dbapi_connection, millis)


class _LastUse:
    """When an engine's pool last had a connection returned, and how long it may idle."""

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self.at = time.monotonic()

    def touch(self, *_event_args: Any) -> None:  # the pool's "checkin" event
        self.at = time.monotonic()
        _IDLE_CLOSER.ensure_running()


class IdleCloser:
    """Closes the connections of pools that have not been used for their
    `idle_seconds`: none checked out, and none returned since.

    One daemon thread per process looks at every registered engine a few times
    per idle period. Closing is `Engine.dispose()`, SQLAlchemy's own way to drop
    a pool's connections: it closes those in the pool and starts an empty pool
    with the same settings and event listeners, and leaves alone a connection
    checked out in the meantime, which is closed when returned. Engines are held
    weakly: a disposed instance's pool is forgotten with it."""

    MAX_TICK_SECONDS = 5.0

    def __init__(self) -> None:
        self._engines: weakref.WeakKeyDictionary[sa.Engine, _LastUse] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def watch(self, engine: sa.Engine, idle_seconds: float) -> None:
        last_use = _LastUse(idle_seconds)
        sa.event.listen(engine, "checkin", last_use.touch)  # kept by the pool's recreate()
        with self._lock:
            self._engines[engine] = last_use
        self._wake.set()  # a shorter idle period than the others: look sooner
        self.ensure_running()

    def ensure_running(self) -> None:
        """Start the thread on first use (again in a forked child: after_fork).
        Called on every checkin, so the common case is one attribute read."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="postgres-idle-closer", daemon=True)
                self._thread.start()

    def close_idle(self, now: float | None = None) -> list[sa.Engine]:
        """One look at every engine; returns those whose connections it closed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            watched = list(self._engines.items())
        closed = []
        for engine, last_use in watched:
            pool = engine.pool
            if pool.checkedin() and not pool.checkedout() and now - last_use.at >= last_use.idle_seconds:
                engine.dispose()
                closed.append(engine)
                LOG.debug(f"closed the idle connections of {engine.url.render_as_string()}")
        return closed

    def after_fork(self) -> None:
        """In a forked child: no closer thread yet, and no lock held by a thread
        the child does not have."""
        self._lock, self._thread, self._wake = threading.Lock(), None, threading.Event()

    def _tick(self) -> float:
        with self._lock:
            periods = [w.idle_seconds for w in self._engines.values()]
        return min([self.MAX_TICK_SECONDS, *(p / 4 for p in periods)])

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._tick())
            self._wake.clear()
            try:
                self.close_idle()
            except Exception:  # noqa: BLE001 - a failed close must not end the thread
                LOG.exception("closing idle Postgres connections failed; trying again")


_IDLE_CLOSER = IdleCloser()
os.register_at_fork(after_in_child=_IDLE_CLOSER.after_fork)


class _OnPool:
    """A dagster_postgres storage whose engine is the shared pool. Disposing it
    closes the pool's connections: a process that opens an instance per request
    (a code server evaluating a sensor) must not leave them to the garbage collector."""

    _owner: PooledPostgresStorage

    def use_pool(self, owner: PooledPostgresStorage) -> None:
        self._engine.dispose()  # Dagster's own NullPool engine: nothing is kept
        self._owner = owner
        self._engine = owner.engine

    def optimize_for_webserver(self, statement_timeout: int, pool_recycle: int, max_overflow: int) -> None:
        self._engine = self._owner.webserver_engine(statement_timeout, pool_recycle, max_overflow)

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


class PooledRunStorage(_OnPool, PostgresRunStorage):
    pass


class PooledEventLogStorage(_OnPool, PostgresEventLogStorage):
    pass


class PooledScheduleStorage(_OnPool, PostgresScheduleStorage):
    pass


class PooledPostgresStorage(DagsterPostgresStorage):
    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: Any = None,
        token_provider: Any = None,
        pool: dict[str, int] | None = None,
    ):
        # DagsterPostgresStorage.__init__, with our storage classes and pool.
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        self._token_provider = token_provider
        self.pool_settings = {**POOL_DEFAULTS, **(pool or {})}
        self._pooled_engine = self._create_engine(
            pool_recycle=self.pool_settings["recycle_seconds"],
            max_overflow=self.pool_settings["max_overflow"],
        )
        self._webserver_lock = threading.Lock()
        self._for_webserver = False
        # Dagster's own table check (and creation) only where a table is missing.
        create = should_autocreate_tables and not _tables_present(self._pooled_engine, postgres_url)
        self._run_storage = PooledRunStorage(postgres_url, create, token_provider=token_provider)
        self._event_log_storage = PooledEventLogStorage(postgres_url, create, token_provider=token_provider)
        self._schedule_storage = PooledScheduleStorage(postgres_url, create, token_provider=token_provider)
        DagsterStorage.__init__(self)
        for storage in self.storages():
            storage.use_pool(self)

    def _create_engine(self, pool_recycle: int, max_overflow: int, **kwargs: Any) -> sa.Engine:
        engine = create_pg_engine(
            self.postgres_url,
            self._token_provider,
            isolation_level="AUTOCOMMIT",
            poolclass=sa.pool.QueuePool,
            pool_size=self.pool_settings["size"],
            max_overflow=max_overflow,
            pool_recycle=pool_recycle,
            pool_pre_ping=True,
            **kwargs,
        )
        if self.pool_settings["idle_seconds"] > 0:
            _IDLE_CLOSER.watch(engine, self.pool_settings["idle_seconds"])
        return engine

    def webserver_engine(self, statement_timeout: int, pool_recycle: int, max_overflow: int) -> sa.Engine:
        """The pool, rebuilt once with the webserver's settings (dagster-webserver's
        --db-statement-timeout, --db-pool-recycle, --db-pool-max-overflow) for the
        three storages, which Dagster asks one after the other."""
        with self._webserver_lock:
            if not self._for_webserver:
                options = self._pooled_engine.url.query.get("options")
                engine = self._create_engine(pool_recycle, max_overflow,
                                             **({"connect_args": {"options": options}} if options else {}))
                sa.event.listen(engine, "connect", functools.partial(_statement_timeout, statement_timeout))
                self._pooled_engine.dispose()
                self._pooled_engine, self._for_webserver = engine, True
            return self._pooled_engine

    def storages(self) -> tuple[_OnPool, ...]:
        return (self._run_storage, self._event_log_storage, self._schedule_storage)

    @property
    def engine(self) -> sa.Engine:
        return self._pooled_engine

    @classmethod
    def config_type(cls):
        return {
            **pg_config(),
            "pool": Field(
                {
                    "size": Field(IntSource, is_required=False, default_value=POOL_DEFAULTS["size"],
                                  description="Connections kept open per process."),
                    "max_overflow": Field(IntSource, is_required=False, default_value=POOL_DEFAULTS["max_overflow"],
                                          description="Extra connections at busy moments, closed after use."),
                    "recycle_seconds": Field(IntSource, is_required=False,
                                             default_value=POOL_DEFAULTS["recycle_seconds"],
                                             description="Replace a connection older than this."),
                    "idle_seconds": Field(IntSource, is_required=False, default_value=POOL_DEFAULTS["idle_seconds"],
                                          description="Close the pool's connections when none has been used "
                                                      "for this long (0: keep them open)."),
                },
                is_required=False,
            ),
        }

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledPostgresStorage:
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
            pool=config_value.get("pool"),
        )
