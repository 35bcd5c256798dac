import os

import dagster as dg
from dagster_dbt import DbtCliResource
from platform_common import Environment, current_environment, platform_resources

from transform.defs import assets, checks, cohorts, jobs, sensors
from transform.project import dbt_project

# The profiles.yml target for each environment: same models, another warehouse.
DBT_TARGETS = {Environment.LOCAL: "duckdb", Environment.DOCKER: "postgres", Environment.K8S: "postgres"}


@dg.definitions
def defs() -> dg.Definitions:
    env = current_environment()
    resources = platform_resources(env)
    if env is Environment.LOCAL:
        # dbt runs in a subprocess that reads its DuckDB path from the environment:
        # point it at the very file the Warehouse resource opens.
        os.environ["DBT_DUCKDB_PATH"] = resources["warehouse"].duckdb_path
    return dg.Definitions(
        assets=[*assets.upstream, assets.dbt_models, cohorts.customer_cohorts],
        asset_checks=[checks.payments_reconcile],
        jobs=[jobs.transform_job],
        sensors=[sensors.raw_data_sensor],
        resources={**resources, "dbt": DbtCliResource(project_dir=dbt_project, target=DBT_TARGETS[env])},
        # Every step in the run worker's own process: the steps follow one another
        # anyway, and a step process costs a Python start and a second load of this
        # code (2-2.5 s each on 2 cores; docs/performance.md). Locally it is also
        # what a DuckDB file needs: one writer at a time.
        executor=dg.in_process_executor,
    )
