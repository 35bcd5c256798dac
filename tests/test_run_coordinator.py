"""Every run is tagged with its code location before it is queued."""

import shutil
from pathlib import Path

import pytest

from dagster._core.instance.config import dagster_instance_config

from dagster._core.remote_origin import (
    GrpcServerCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.run_coordinator import SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.test_utils import create_run_for_test, instance_for_test
from dagster._daemon.controller import create_daemon_of_type
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from platform_services.run_coordinator import LOCATION_TAG, LocationTaggingRunCoordinator

COORDINATOR = {"module": "platform_services.run_coordinator", "class": "LocationTaggingRunCoordinator"}


def origin(location: str) -> RemoteJobOrigin:
    code_location = GrpcServerCodeLocationOrigin(host=location, port=4000, location_name=location)
    return RemoteJobOrigin(RemoteRepositoryOrigin(code_location, "__repository__"), "some_job")


def submit(instance, run):
    return instance.run_coordinator.submit_run(SubmitRunContext(run, workspace=None))


def test_submitted_run_is_tagged_with_its_location_and_queued():
    with instance_for_test(overrides={"run_coordinator": COORDINATOR}) as instance:
        assert isinstance(instance.run_coordinator, LocationTaggingRunCoordinator)
        run = create_run_for_test(instance, job_name="some_job", remote_job_origin=origin("transform"),
                                  status=DagsterRunStatus.NOT_STARTED)
        queued = submit(instance, run)
        assert queued.status == DagsterRunStatus.QUEUED
        assert instance.get_run_by_id(run.run_id).tags[LOCATION_TAG] == "transform"


def test_a_correct_location_tag_is_kept():
    with instance_for_test(overrides={"run_coordinator": COORDINATOR}) as instance:
        run = create_run_for_test(instance, job_name="some_job", remote_job_origin=origin("ingest"),
                                  tags={LOCATION_TAG: "ingest"}, status=DagsterRunStatus.NOT_STARTED)
        assert submit(instance, run).tags[LOCATION_TAG] == "ingest"


def test_a_run_cannot_tag_itself_into_another_locations_share():
    with instance_for_test(overrides={"run_coordinator": COORDINATOR}) as instance:
        run = create_run_for_test(instance, job_name="some_job", remote_job_origin=origin("ingest"),
                                  tags={LOCATION_TAG: "reports"}, status=DagsterRunStatus.NOT_STARTED)
        assert submit(instance, run).tags[LOCATION_TAG] == "ingest"
        assert instance.get_run_by_id(run.run_id).tags[LOCATION_TAG] == "ingest"


def test_limits_in_dagster_yaml_are_per_location(tmp_path):
    shutil.copy(Path(__file__).resolve().parents[1] / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    limits = config["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert {"key": LOCATION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 4} in limits
    assert {"key": LOCATION_TAG, "value": "transform", "limit": 1} in limits


def test_a_fractional_dequeue_interval_reaches_the_daemon():
    overrides = {"run_coordinator": {**COORDINATOR, "config": {"dequeue_interval_seconds": 0.5}}}
    with instance_for_test(overrides=overrides) as instance:
        assert instance.run_coordinator.dequeue_interval_seconds == 0.5
        daemon = create_daemon_of_type(QueuedRunCoordinatorDaemon.daemon_type(), instance)
        assert daemon.interval_seconds == 0.5


def test_dagster_yaml_dequeues_every_half_second(tmp_path):
    shutil.copy(Path(__file__).resolve().parents[1] / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_coordinator"]["config"]["dequeue_interval_seconds"] == 0.5


def test_without_an_interval_dagsters_default_applies():
    with instance_for_test(overrides={"run_coordinator": COORDINATOR}) as instance:
        assert instance.run_coordinator.dequeue_interval_seconds == 5


def test_an_interval_below_the_daemons_wait_is_refused():
    overrides = {"run_coordinator": {**COORDINATOR, "config": {"dequeue_interval_seconds": 0.1}}}
    with pytest.raises(ValueError, match=r"run_coordinator\.config\.dequeue_interval_seconds: 0\.1 is below 0\.5"):
        with instance_for_test(overrides=overrides) as instance:
            instance.run_coordinator  # noqa: B018 - the coordinator is built on first use
