import dagster as dg
from platform_common import current_environment, landing_store_for, platform_resources

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
        # Every step in the run worker's own process: the steps follow one another
        # anyway, and a step process costs a Python start and a second load of this
        # code (2-2.5 s each on 2 cores; docs/performance.md). Locally it is also
        # what a DuckDB file needs: one writer at a time.
        executor=dg.in_process_executor,
    )
