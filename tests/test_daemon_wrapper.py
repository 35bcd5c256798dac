"""platform_services.daemon: the run-container sweep and the sensor loop setting."""

import logging
import subprocess
import sys
import threading
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from dagster._daemon import sensor

from platform_services import daemon
from tests.e2e.platform import poll
from tests.test_cli import help_of_wrapper


class Launcher:
    def __init__(self, fail_first: int = 0):
        self.calls = 0
        self.fail_first = fail_first

    def remove_finished_containers(self):
        self.calls += 1
        if self.calls <= self.fail_first:
            raise ConnectionError("the Docker engine is restarting")
        return [f"container-{self.calls}"]


def instances(launcher, opened: list, closed: list | None = None):
    @contextmanager
    def open_instance():
        opened.append(1)
        try:
            yield SimpleNamespace(run_launcher=launcher)
        finally:
            if closed is not None:
                closed.append(1)

    return open_instance


def sweeping(launcher, opened: list) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    loop = threading.Thread(target=daemon.sweep_loop, args=(stop,), kwargs={
        "open_instance": instances(launcher, opened), "interval": 0.01, "log": logging.getLogger("tests.sweep")})
    loop.start()
    return loop, stop


def stopped(loop: threading.Thread, stop: threading.Event) -> bool:
    stop.set()
    loop.join(timeout=10)
    return not loop.is_alive()


def test_the_sweep_runs_every_interval_each_on_an_instance_it_closes(caplog):
    # An instance kept open between passes would hold a pooled Postgres connection.
    caplog.set_level(logging.INFO, logger="tests.sweep")
    launcher, opened, closed = Launcher(), [], []
    stop = threading.Event()
    loop = threading.Thread(target=daemon.sweep_loop, args=(stop,), kwargs={
        "open_instance": instances(launcher, opened, closed), "interval": 0.01,
        "log": logging.getLogger("tests.sweep")})
    loop.start()
    poll(lambda: launcher.calls >= 3, timeout=30, interval=0.02, what="three sweeps")
    assert stopped(loop, stop)
    assert len(opened) == launcher.calls >= 3
    assert len(closed) == len(opened)  # every pass's instance is closed after it
    assert "removed 1 containers of ended runs" in caplog.text


def test_a_failed_sweep_is_logged_and_retried_on_a_fresh_instance(caplog):
    caplog.set_level(logging.INFO, logger="tests.sweep")
    launcher, opened = Launcher(fail_first=1), []
    loop, stop = sweeping(launcher, opened)
    poll(lambda: launcher.calls >= 2, timeout=30, interval=0.02, what="the retried sweep")
    assert stopped(loop, stop)
    assert len(opened) == launcher.calls >= 2  # the pass after the failure opened its own
    assert "run container sweep failed; next try in 0 s" in caplog.text
    assert "ConnectionError: the Docker engine is restarting" in caplog.text


def test_the_sweep_ends_when_the_launcher_has_none():
    opened, stop = [], threading.Event()
    loop = threading.Thread(target=daemon.sweep_loop, args=(stop,), kwargs={
        "open_instance": instances(object(), opened), "interval": 0.01})
    loop.start()
    loop.join(timeout=10)
    assert not loop.is_alive() and opened == [1] and not stop.is_set()


@pytest.mark.parametrize(("raw", "expected"), [("", None), ("1", 1.0), (" 0.5 ", 0.5), ("60", 60.0)])
def test_sensor_loop_seconds_accepts(raw, expected):
    assert daemon.sensor_loop_seconds({daemon.SENSOR_LOOP_VAR: raw}) == expected


@pytest.mark.parametrize("raw", ["0", "0.1", "61", "fast", "-1"])
def test_sensor_loop_seconds_rejects_with_the_variable_named(raw):
    with pytest.raises(ValueError, match=rf"DAGSTER_SENSOR_LOOP_SECONDS='{raw}' is not valid"):
        daemon.sensor_loop_seconds({daemon.SENSOR_LOOP_VAR: raw})


def test_the_setting_reaches_dagsters_sensor_loop(monkeypatch):
    # The pinned Dagster sleeps MIN_INTERVAL_LOOP_TIME between two sensor iterations;
    # this test fails when an upgrade renames it.
    assert sensor.MIN_INTERVAL_LOOP_TIME == 5
    monkeypatch.setattr(sensor, "MIN_INTERVAL_LOOP_TIME", 5)
    daemon.set_sensor_loop(1.0)
    assert sensor.MIN_INTERVAL_LOOP_TIME == 1.0
    daemon.set_sensor_loop(None)
    assert sensor.MIN_INTERVAL_LOOP_TIME == 1.0


def test_a_bad_value_stops_the_daemon_at_start_naming_it():
    proc = subprocess.run([sys.executable, "-m", "platform_services.daemon", "run", "--empty-workspace"],
                          env={"DAGSTER_SENSOR_LOOP_SECONDS": "soon", "PATH": ""}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "DAGSTER_SENSOR_LOOP_SECONDS='soon' is not valid" in proc.stderr


def test_the_daemon_leaves_the_garbage_collector_as_python_sets_it():
    """Unlike the run workers and code servers (platform_services.cli.prepare): frozen,
    the daemon failed the e2e test of its pooled connections once (a fragile test,
    since fixed; docs/performance.md), and it starts once, off every run's path."""
    out, frozen, enabled = help_of_wrapper("daemon")
    assert "Usage: dagster-daemon" in out
    assert frozen == 0 and enabled
