import dagster as dg

from ingest.defs.jobs import ingest_job

# Loads yesterday's partition (the last complete UTC day) every night. The
# timezone is the partitions' own: UTC, set explicitly on DAILY.
ingest_daily_schedule = dg.build_schedule_from_partitioned_job(
    ingest_job,
    name="ingest_daily_schedule",
    hour_of_day=1,
    minute_of_hour=0,
    description="Every day at 01:00 UTC: ingest the day that just ended.",
)
