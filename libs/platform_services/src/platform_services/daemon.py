"""`dagster-daemon`, plus run-history retention and run-container cleanup.

Checks its variables first, so a bad value stops the daemon at start with a
message naming it. Then, for `run`, two background threads:

- run retention (platform_services.retention) deletes runs that ended more
  than DAGSTER_RUN_RETENTION_DAYS ago: first shortly after start, then every
  DAGSTER_RUN_RETENTION_INTERVAL_SECONDS;
- the container sweep removes the containers of ended runs, every
  SWEEP_INTERVAL_SECONDS, when the instance's run launcher is ours
  (PlatformDockerRunLauncher.remove_finished_containers).

A failed pass is logged and tried again at the next interval; it never stops
the daemon. The daemon itself (schedules, sensors, run queue, heartbeats for
`dagster-daemon liveness-check`) is Dagster's own CLI, run in this process,
with one setting Dagster has no option for: DAGSTER_SENSOR_LOOP_SECONDS, how
often the sensor loop wakes (Dagster's constant is 5 s; see sensor_loop_seconds).

Usage: python -m platform_services.daemon <dagster-daemon arguments>
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from dagster import DagsterInstance

from platform_services import retention

# Long enough for the daemon to load the workspace and write its first heartbeats.
FIRST_PASS_DELAY_SECONDS = 30.0
SWEEP_INTERVAL_SECONDS = 60.0

SENSOR_LOOP_VAR = "DAGSTER_SENSOR_LOOP_SECONDS"


def sensor_loop_seconds(env=None) -> float | None:
    """DAGSTER_SENSOR_LOOP_SECONDS (0.5 to 60), or None when unset.

    Dagster's sensor loop sleeps until 5 s have passed since it last woke
    (dagster._daemon.sensor.MIN_INTERVAL_LOOP_TIME), whatever a sensor's own
    minimum_interval_seconds says: a sensor due 1 s after a wake-up waits 4 s
    more. A shorter loop lets a sensor run as often as its interval allows;
    each wake-up only reads the sensors' states, so it costs little.
    """
    raw = (os.environ if env is None else env).get(SENSOR_LOOP_VAR, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or not 0.5 <= value <= 60:
        raise ValueError(
            f"{SENSOR_LOOP_VAR}={raw!r} is not valid: expected seconds between two wake-ups of the "
            "sensor loop, from 0.5 to 60 (unset: Dagster's 5)"
        )
    return value


def set_sensor_loop(seconds: float | None) -> None:
    from dagster._daemon import sensor

    if not hasattr(sensor, "MIN_INTERVAL_LOOP_TIME"):  # pinned Dagster moved it: fail loudly, not silently
        raise RuntimeError("dagster._daemon.sensor.MIN_INTERVAL_LOOP_TIME is gone; review DAGSTER_SENSOR_LOOP_SECONDS")
    if seconds is not None:
        sensor.MIN_INTERVAL_LOOP_TIME = seconds


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
    return start_loop(retention_loop, "run-retention", settings, **loop_kwargs)


def start_loop(loop: Callable[..., None], name: str, *args, **loop_kwargs) -> threading.Event:
    """Run `loop(*args, stop, **loop_kwargs)` in a daemon thread; returns `stop`, the event that ends it."""
    stop = threading.Event()
    threading.Thread(target=loop, args=(*args, stop), kwargs=loop_kwargs, name=name, daemon=True).start()
    return stop


def sweep_loop(
    stop: threading.Event,
    *,
    open_instance: Callable[[], AbstractContextManager[DagsterInstance]] = DagsterInstance.get,
    interval: float = SWEEP_INTERVAL_SECONDS,
    log: logging.Logger = retention.LOG,
) -> None:
    """Every `interval`, remove the containers of ended runs, until `stop` is set.

    Returns after the first pass when the run launcher has no such sweep
    (Dagster's own DockerRunLauncher, the K8sRunLauncher). Each pass opens a
    fresh instance and closes it: an instance kept between passes would hold a
    pooled Postgres connection (a backend process) open for one query a minute.
    A failed pass is logged and tried again at the next interval."""
    while not stop.wait(interval):
        try:
            with open_instance() as instance:
                remove = getattr(instance.run_launcher, "remove_finished_containers", None)
                if remove is None:
                    return
                if removed := remove():
                    log.info(f"removed {len(removed)} containers of ended runs")
        except Exception:  # noqa: BLE001 - the daemon must outlive any failed pass
            log.exception(f"run container sweep failed; next try in {interval:.0f} s")


def start_sweep(**loop_kwargs) -> threading.Event:
    return start_loop(sweep_loop, "run-container-sweep", **loop_kwargs)


def main() -> None:
    try:
        settings = retention.settings_from_env()
        loop = sensor_loop_seconds()
    except (retention.RetentionConfigError, ValueError) as exc:
        sys.exit(f"platform_services.daemon: {exc}")
    set_sensor_loop(loop)
    if sys.argv[1:2] == ["run"]:
        start_retention(settings)
        start_sweep()
    from dagster._daemon.cli import main as daemon_main

    sys.argv[0] = "dagster-daemon"
    daemon_main()


if __name__ == "__main__":
    main()
