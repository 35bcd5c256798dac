import dagster as dg
from platform_common import Environment, current_environment, platform_resources

from transform.defs import assets, checks, jobs


@dg.definitions
def defs() -> dg.Definitions:
    env = current_environment()
    return dg.Definitions(
        assets=[*assets.upstream, assets.orders, assets.customers],
        asset_checks=[checks.payments_reconcile],
        jobs=[jobs.transform_job],
        resources=platform_resources(env),
        # A DuckDB file takes one writer at a time: run local steps in one process.
        executor=dg.in_process_executor if env is Environment.LOCAL else None,
    )
