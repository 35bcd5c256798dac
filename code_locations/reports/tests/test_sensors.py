import dagster as dg
import pytest
from dagster._core.definitions.run_status_sensor_definition import RunStatusSensorCursor
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.remote_origin import (
    GrpcServerCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.test_utils import create_run_for_test

from reports.definitions import defs
from reports.defs.assets import MONTHLY
from reports.defs.sensors import RANGE_END_TAG, RANGE_START_TAG, UPSTREAM_RUN_TAG, reports_after_transform


@dg.op
def noop() -> None:
    pass


@dg.job(name="transform_job")
def transform_job_stand_in():
    noop()


def test_a_transform_success_requests_one_reports_run_keyed_by_the_upstream_run():
    with dg.DagsterInstance.ephemeral() as instance:
        result = transform_job_stand_in.execute_in_process(instance=instance)
        context = dg.build_run_status_sensor_context(
            sensor_name="reports_after_transform",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_success_event(),
        )
        request = reports_after_transform(context)

    assert isinstance(request, dg.RunRequest)
    assert request.run_key == result.run_id
    assert request.tags[UPSTREAM_RUN_TAG] == result.run_id
    # One run over every month: transform rebuilds all of marts.orders.
    assert request.tags[RANGE_START_TAG] == "2024-01-01"
    assert request.tags[RANGE_END_TAG] == MONTHLY.get_last_partition_key()
    assert reports_after_transform.job_name == "reports_job"


def _remote_origin(location: str, job_name: str) -> RemoteJobOrigin:
    return RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=GrpcServerCodeLocationOrigin(host=location, port=4000, location_name=location),
            repository_name="__repository__",
        ),
        job_name=job_name,
    )


@pytest.mark.parametrize(
    ("location", "job_name", "launches"),
    [("transform", "transform_job", True), ("ingest", "transform_job", False), ("transform", "other_job", False)],
)
def test_the_sensor_matches_only_transform_job_in_the_transform_location(location, job_name, launches):
    """Through Dagster's own matching of runs from other code locations to `monitored_jobs`."""
    with dg.DagsterInstance.ephemeral() as instance:
        run = create_run_for_test(
            instance, job_name=job_name, remote_job_origin=_remote_origin(location, job_name)
        )
        instance.report_dagster_event(
            DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name=job_name), run_id=run.run_id
        )
        context = dg.build_sensor_context(
            instance=instance,
            cursor=RunStatusSensorCursor(record_id=0, update_timestamp=None).to_json(),
            definitions=defs(),
        )
        data = reports_after_transform.evaluate_tick(context)

    run_keys = [r.run_key for r in data.run_requests or []]
    assert run_keys == ([run.run_id] if launches else [])
