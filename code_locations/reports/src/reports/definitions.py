import dagster as dg
from platform_common import Environment, current_environment, platform_resources

from reports.defs import assets, charts, checks, jobs, sensors


@dg.definitions
def defs() -> dg.Definitions:
    env = current_environment()
    return dg.Definitions(
        assets=[*assets.upstream, *assets.tables, *charts.charts],
        asset_checks=[checks.daily_revenue_matches_marts],
        jobs=[jobs.reports_job],
        sensors=[sensors.reports_after_transform],
        resources=platform_resources(env),
        # A DuckDB file takes one writer at a time: run local steps in one process.
        executor=dg.in_process_executor if env is Environment.LOCAL else None,
    )
