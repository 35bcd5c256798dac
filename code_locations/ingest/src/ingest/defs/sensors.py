from datetime import datetime, timezone

import dagster as dg
from platform_common import sensor_interval_seconds
from platform_common import ObjectStore

from ingest import landing
from ingest.defs.assets import DAILY
from ingest.defs.jobs import ingest_job


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=sensor_interval_seconds(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One ingest run per new landing file, for the file's day. A file already seen never runs again.",
)
def landing_sensor(context: dg.SensorEvaluationContext, object_store: ObjectStore):
    first_day = DAILY.start.date()
    today = datetime.now(timezone.utc).date()
    for obj in object_store.list(landing.PREFIX):
        day = landing.day_of(obj.key)
        if day == today:
            continue  # today's partition opens at midnight UTC; the file waits until then
        if day is None or not first_day <= day < today:
            context.log.warning(f"ignoring {obj.key}: expected landing/orders/<YYYY-MM-DD>/<name>.csv "
                                f"with a day from {first_day} to yesterday")
            continue
        # The run key names the file and its content: the same file dropped twice
        # (same key, same bytes) is one run; a corrected file is a new run.
        yield dg.RunRequest(
            run_key=f"{obj.key}@{obj.etag}",
            partition_key=day.isoformat(),
            tags={"ingest/landing_file": obj.key},
        )

