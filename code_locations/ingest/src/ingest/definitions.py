import dagster as dg
from platform_common import Environment, ParquetIOManager, current_environment, platform_resources

from ingest.defs import assets, jobs, schedules, sensors


@dg.definitions
def defs() -> dg.Definitions:
    env = current_environment()
    resources = platform_resources(env)
    return dg.Definitions(
        assets=[assets.customers, assets.landing_files, assets.orders_and_payments, jobs.probe],
        jobs=[jobs.ingest_job, jobs.heartbeat_job, jobs.probe_job],
        schedules=[schedules.ingest_daily_schedule, schedules.heartbeat_schedule],
        sensors=[sensors.landing_sensor],
        resources={**resources, "parquet_io_manager": ParquetIOManager(store=resources["object_store"])},
        # A DuckDB file takes one writer at a time: run local steps in one process.
        executor=dg.in_process_executor if env is Environment.LOCAL else None,
    )
