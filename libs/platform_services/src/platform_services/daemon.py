"""`dagster-daemon`, plus run-history retention (platform_services.retention).

Checks the retention variables first, so a bad value stops the daemon at
start with a message naming it. Then, for `run`, a background thread deletes
runs that ended more than DAGSTER_RUN_RETENTION_DAYS ago: first shortly after
start, then every DAGSTER_RUN_RETENTION_INTERVAL_SECONDS. A failed pass is
logged and tried again at the next interval; it never stops the daemon. The
daemon itself (schedules, sensors, run queue, heartbeats for
`dagster-daemon liveness-check`) is Dagster's own CLI, run in this process.

Usage: python -m platform_services.daemon <dagster-daemon arguments>
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from dagster import DagsterInstance

from platform_services import retention

# Long enough for the daemon to load the workspace and write its first heartbeats.
FIRST_PASS_DELAY_SECONDS = 30.0


def retention_loop(
    settings: retention.RetentionSettings,
    stop: threading.Event,
    *,
    open_instance: Callable[[], AbstractContextManager[DagsterInstance]] = DagsterInstance.get,
    first_delay: float = FIRST_PASS_DELAY_SECONDS,
    log: logging.Logger = retention.LOG,
) -> None:
    """Prune after `first_delay`, then every `settings.interval_seconds`, until `stop` is set."""
    if stop.wait(first_delay):
        return
    # Logged now, not at start: by now the daemon has configured its loggers.
    log.info(
        f"run retention: deleting runs that ended more than {settings.days} days ago, "
        f"every {settings.interval_seconds} s"
    )
    while True:
        try:
            # A fresh instance per pass: nothing stale survives a Postgres restart.
            with open_instance() as instance:
                retention.prune_runs(instance, settings.days, log=log)
        except Exception:  # noqa: BLE001 - the daemon must outlive any failed pass
            log.exception(f"run retention pass failed; next try in {settings.interval_seconds} s")
        if stop.wait(settings.interval_seconds):
            return


def start_retention(settings: retention.RetentionSettings, **loop_kwargs) -> threading.Event | None:
    """Start the retention thread; returns the event that stops it (None when retention is off)."""
    if not settings.enabled:
        print(f"run retention is off ({retention.DAYS_VAR}=0): run history is kept", file=sys.stderr)
        return None
    stop = threading.Event()
    threading.Thread(
        target=retention_loop, args=(settings, stop), kwargs=loop_kwargs, name="run-retention", daemon=True
    ).start()
    return stop


def main() -> None:
    try:
        settings = retention.settings_from_env()
    except retention.RetentionConfigError as exc:
        sys.exit(f"platform_services.daemon: {exc}")
    if sys.argv[1:2] == ["run"]:
        start_retention(settings)
    from dagster._daemon.cli import main as daemon_main

    sys.argv[0] = "dagster-daemon"
    daemon_main()


if __name__ == "__main__":
    main()
