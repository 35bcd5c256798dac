"""The transform team's code location: dbt models and Python marts."""

# dbt-core is imported by the dbt step alone. In the code server and the run
# worker that orchestrates a run, dagster-dbt loads the same definitions without
# it (its no-dbt-core mode), so the images' `dagster` keeps it out of them
# (platform_services.cli): 1.4 s off each run's start, 40 MiB off the code server.
# Keep this file free of imports: it is read before that decision is made.
STEP_ONLY_PACKAGES = ("dbt",)
