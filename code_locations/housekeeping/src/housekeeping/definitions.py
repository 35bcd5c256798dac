import dagster as dg
from platform_common import current_environment, landing_store_for, location_store_for

from housekeeping.defs import probes, prune, retention


@dg.definitions
def defs() -> dg.Definitions:
    env = current_environment()
    return dg.Definitions(
        assets=[probes.probe],
        jobs=[probes.probe_job, probes.heartbeat_job, prune.prune_landing_job, retention.run_retention_job],
        schedules=[probes.heartbeat_schedule, prune.prune_landing_schedule, retention.run_retention_schedule],
        resources={
            # Deletes what ingest archived: the one location that may write the landing bucket.
            "landing_store": landing_store_for(env, read_only=False),
            "ingest_archive": location_store_for(env, "ingest"),
            prune.MEM_IO_MANAGER: dg.mem_io_manager,
        },
    )
