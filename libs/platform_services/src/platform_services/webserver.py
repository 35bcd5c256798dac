"""`dagster-webserver`, with pooled Postgres connections checked before use.

The webserver keeps pooled connections (`optimize_for_webserver`) without
SQLAlchemy's pre-ping. After Postgres restarts, each stale connection fails
one request: a launch could then create its run but not its enqueue event,
leaving a run that never starts. Pinging on checkout (SQLAlchemy's
"pessimistic disconnect handling") replaces dead connections before they are
used. That is for Dagster's own `storage: postgres`; the pool of
platform_services.storage pings on its own (pool_pre_ping), so with it each
checkout pings twice.

Usage: python -m platform_services.webserver <dagster-webserver arguments>
"""

import sys

from sqlalchemy import event, exc
from sqlalchemy.pool import Pool


def _ping(dbapi_connection, connection_record, connection_proxy) -> None:
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
    except Exception as error:  # any failure: the pool discards it and connects afresh
        raise exc.DisconnectionError() from error


def install() -> None:
    if not event.contains(Pool, "checkout", _ping):
        event.listen(Pool, "checkout", _ping)


def main() -> None:
    install()
    from dagster_webserver.cli import main as webserver_main

    sys.argv[0] = "dagster-webserver"
    webserver_main()


if __name__ == "__main__":
    main()
