import dagster as dg

reports_job = dg.define_asset_job(
    "reports_job",
    selection=dg.AssetSelection.groups("reports"),
    description="Rebuild the report tables from the marts.",
)
