import dagster as dg
from platform_common import Environment, current_environment, landing_store_for, platform_resources

from ingest.defs import assets, jobs, schedules, sensors


@dg.definitions
def defs() -> dg.Definitions:
    env = current_environment()
    return dg.Definitions(
        assets=[assets.customers, assets.orders_and_payments],
        jobs=[jobs.ingest_job],
        schedules=[schedules.ingest_daily_schedule],
        sensors=[sensors.landing_sensor],
        # object_store: ingest's own bucket (the archive); landing_store: where files are dropped (read-only).
        resources={**platform_resources(env), "landing_store": landing_store_for(env)},
        # A DuckDB file takes one writer at a time: run local steps in one process.
        executor=dg.in_process_executor if env is Environment.LOCAL else None,
    )
