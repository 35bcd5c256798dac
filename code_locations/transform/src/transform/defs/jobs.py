import dagster as dg

# The reports location's run-status sensor watches this job by name.
transform_job = dg.define_asset_job(
    "transform_job",
    selection=dg.AssetSelection.groups("staging", "marts"),
    description="dbt build (staging and marts models with their tests), then the Python marts and checks.",
)
