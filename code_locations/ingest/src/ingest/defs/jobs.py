import dagster as dg

from ingest.defs.assets import DAILY

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.groups("raw"),
    partitions_def=DAILY,
    description=(
        "Load days of raw data: upsert customers, then replace each day's orders and payments with the "
        "generated rows and the rows of its archived landing files. landing_sensor runs it per landing file."
    ),
)
