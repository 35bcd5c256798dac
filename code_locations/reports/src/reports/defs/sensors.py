import dagster as dg
from platform_common import sensor_interval_seconds

from reports.defs.assets import MONTHLY
from reports.defs.jobs import reports_job

# Another code location's job. "__repository__" is the name Dagster gives the
# repository of a location loaded from a `Definitions` object.
TRANSFORM_JOB = dg.JobSelector(location_name="transform", repository_name="__repository__", job_name="transform_job")
# Dagster's tags for a run over a range of partitions (one run, not a backfill).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
UPSTREAM_RUN_TAG = "reports/transform_run_id"


@dg.run_status_sensor(
    name="reports_after_transform",
    description=(
        "One reports_job run per successful transform_job run, over every month: transform "
        "rebuilds all of marts.orders, so any month may have changed."
    ),
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[TRANSFORM_JOB],
    request_job=reports_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=sensor_interval_seconds(),
)
def reports_after_transform(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    upstream_run_id = context.dagster_run.run_id
    return dg.RunRequest(
        # The daemon launches a run_key once per sensor: one reports run per transform run.
        run_key=upstream_run_id,
        tags={
            RANGE_START_TAG: MONTHLY.get_first_partition_key(),
            RANGE_END_TAG: MONTHLY.get_last_partition_key(),
            UPSTREAM_RUN_TAG: upstream_run_id,
        },
    )
