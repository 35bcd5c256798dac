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
          pool: {size: 2, max_overflow: 8, recycle_seconds: 3600}

Connections are checked with a ping before use (pool_pre_ping), so a Postgres
restart costs one failed ping per stale connection, never a failed query.
Disposing the instance closes the pool. The webserver replaces the pool with
its own at start (optimize_for_webserver), as it does for `storage: postgres`.

Dagster tracks making these settings configurable upstream
(dagster-io/dagster#33935, #20325); drop this class when it ships.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from dagster import Field, IntSource
from dagster._core.storage.base_storage import DagsterStorage
from dagster._core.storage.config import pg_config
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

POOL_DEFAULTS = {"size": 2, "max_overflow": 8, "recycle_seconds": 3600}


class _OnPool:
    """A dagster_postgres storage whose engine is the shared pool. Disposing it
    closes the pool's connections: a process that opens an instance per request
    (a code server evaluating a sensor) must not leave them to the garbage collector."""

    def use_pool(self, engine: sa.Engine) -> None:
        self._engine.dispose()  # Dagster's own NullPool engine: nothing is kept
        self._engine = engine

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
        # DagsterPostgresStorage.__init__, with our storage classes.
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        self._run_storage = PooledRunStorage(postgres_url, should_autocreate_tables, token_provider=token_provider)
        self._event_log_storage = PooledEventLogStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        self._schedule_storage = PooledScheduleStorage(
            postgres_url, should_autocreate_tables, token_provider=token_provider
        )
        DagsterStorage.__init__(self)
        self.pool_settings = {**POOL_DEFAULTS, **(pool or {})}
        self._pooled_engine = create_pg_engine(
            postgres_url,
            token_provider,
            isolation_level="AUTOCOMMIT",
            poolclass=sa.pool.QueuePool,
            pool_size=self.pool_settings["size"],
            max_overflow=self.pool_settings["max_overflow"],
            pool_recycle=self.pool_settings["recycle_seconds"],
            pool_pre_ping=True,
        )
        for storage in self.storages():
            storage.use_pool(self._pooled_engine)

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
