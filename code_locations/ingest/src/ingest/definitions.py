import dagster as dg
from platform_common import Environment, current_environment, platform_resources

from ingest.defs import assets, jobs


@dg.definitions
def defs() -> dg.Definitions:
    env = current_environment()
    return dg.Definitions(
        assets=[assets.raw_jaffle_shop],
        jobs=[jobs.ingest_job, jobs.heartbeat_job],
        resources=platform_resources(env),
        # A DuckDB file takes one writer at a time: run local steps in one process.
        executor=dg.in_process_executor if env is Environment.LOCAL else None,
    )
