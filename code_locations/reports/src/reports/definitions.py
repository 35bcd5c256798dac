import dagster as dg
from platform_common import current_environment, platform_resources

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
        # Every step in the run worker's own process: the steps follow one another
        # anyway, and a step process costs a Python start and a second load of this
        # code (2-2.5 s each on 2 cores; docs/performance.md). Locally it is also
        # what a DuckDB file needs: one writer at a time.
        executor=dg.in_process_executor,
    )
