"""The run queue looked at every half second (platform_services.run_queue, ADR 8).

These fail when a Dagster upgrade stops doing what the coordinator relies on:
the daemon taking the coordinator's interval as it is, and its loop waiting for
a fractional interval rather than a whole second."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from dagster._core.test_utils import instance_for_test
from dagster._daemon import daemon as daemon_module
from dagster._daemon.controller import create_daemon_of_type
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from platform_services.run_queue import HalfSecondQueuedRunCoordinator

ROOT = Path(__file__).resolve().parents[1]
LIMITS = [{"key": "dagster/code_location", "value": {"applyLimitPerUniqueValue": True}, "limit": 4}]


def coordinator_config(**config):
    return {"module": "platform_services.run_queue", "class": "HalfSecondQueuedRunCoordinator", "config": config}


@pytest.fixture
def instance():
    with instance_for_test(
        overrides={"run_coordinator": coordinator_config(dequeue_interval_seconds=0.5, dequeue_use_threads=True,
                                                         tag_concurrency_limits=LIMITS)}
    ) as instance:
        yield instance


def test_the_instance_gets_half_a_second_and_dagsters_own_limits(instance):
    coordinator = instance.run_coordinator
    assert isinstance(coordinator, HalfSecondQueuedRunCoordinator)
    assert coordinator.dequeue_interval_seconds == 0.5
    assert coordinator.dequeue_use_threads is True
    queue = coordinator.get_run_queue_config()
    assert [(limit["key"], limit["limit"]) for limit in queue.tag_concurrency_limits] == [("dagster/code_location", 4)]
    assert queue.max_concurrent_runs == 10  # Dagster's default, untouched


def test_whole_seconds_and_the_default_are_dagsters():
    assert HalfSecondQueuedRunCoordinator(dequeue_interval_seconds=2).dequeue_interval_seconds == 2
    assert HalfSecondQueuedRunCoordinator().dequeue_interval_seconds == 5  # Dagster's default


def test_an_interval_below_half_a_second_is_refused_by_its_key():
    with pytest.raises(ValueError, match=r"run_coordinator\.config\.dequeue_interval_seconds: 0\.2 is below 0\.5"):
        HalfSecondQueuedRunCoordinator(dequeue_interval_seconds=0.2)


def test_dagsters_daemon_takes_the_interval_as_it_is(instance):
    daemon = create_daemon_of_type(QueuedRunCoordinatorDaemon.daemon_type(), instance)
    assert isinstance(daemon, QueuedRunCoordinatorDaemon)
    assert daemon.interval_seconds == 0.5


def looks_at_the_queue(interval, monkeypatch, looks=6):
    """When Dagster's own loop (IntervalDaemon.core_loop) starts each iteration,
    on a clock that moves only while the loop waits: the iterations take no time."""
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(daemon_module.time, "time", lambda: clock.now)

    class Shutdown:
        def wait(self, seconds):
            clock.now += seconds
            return False

    daemon = QueuedRunCoordinatorDaemon(interval_seconds=interval)
    starts = []

    def run_iteration(_context):
        starts.append(clock.now)
        yield

    monkeypatch.setattr(daemon, "run_iteration", run_iteration)
    loop = daemon.core_loop(None, Shutdown())
    while len(starts) < looks:
        next(loop)
    return [round(b - a, 3) for a, b in zip(starts, starts[1:])]


def test_dagsters_loop_looks_every_half_second_at_half_a_second(monkeypatch):
    assert looks_at_the_queue(0.5, monkeypatch) == [0.5] * 5
    # What Dagster's own shortest interval gives: the loop's 0.5 s slices, twice.
    assert looks_at_the_queue(1, monkeypatch) == [1.0] * 5


def test_the_platforms_instances_dequeue_every_half_second():
    """compose's dagster.yaml and the chart's name this class at 0.5 s (the chart's
    instance is compared with compose's in tests/helm)."""
    section = yaml.safe_load((ROOT / "dagster.yaml").read_text())["run_coordinator"]
    assert (section["module"], section["class"]) == ("platform_services.run_queue", "HalfSecondQueuedRunCoordinator")
    assert section["config"]["dequeue_interval_seconds"] == 0.5
    coordinator = HalfSecondQueuedRunCoordinator.from_config_value(None, section["config"])
    assert coordinator.dequeue_interval_seconds == 0.5
