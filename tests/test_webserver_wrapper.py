"""The webserver wrapper replaces a dead pooled connection instead of failing a request."""

import sqlalchemy as sa

from platform_services import webserver
from tests.test_cli import help_of_wrapper


def test_a_connection_that_died_in_the_pool_is_replaced(tmp_path):
    webserver.install()
    webserver.install()  # idempotent
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}", pool_size=1, max_overflow=0,
                              poolclass=sa.pool.QueuePool)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
        raw = conn.connection.dbapi_connection
    raw.close()  # as if the server went away while the connection sat in the pool
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 41 + 1")).scalar() == 42
        assert conn.connection.dbapi_connection is not raw


def test_the_webserver_leaves_the_garbage_collector_as_python_sets_it():
    """Unlike the run workers and code servers (platform_services.cli.prepare):
    frozen, the webserver's start kept 3 MiB more at rest (the garbage of building its
    GraphQL schema), and it starts once, off every run's path."""
    out, frozen, enabled = help_of_wrapper("webserver")
    assert "Usage: dagster-webserver" in out
    assert frozen == 0 and enabled
