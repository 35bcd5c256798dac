import dagster as dg

transform_job = dg.define_asset_job(
    "transform_job",
    selection=dg.AssetSelection.groups("marts"),
    description="Rebuild the marts from the raw tables.",
)
