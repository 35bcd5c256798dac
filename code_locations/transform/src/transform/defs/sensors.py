"""Rebuild the marts whenever ingest lands new raw orders or payments."""

from collections import defaultdict

import dagster as dg
from platform_common import sensor_interval_seconds

from transform.defs.assets import RAW_ORDERS, RAW_PAYMENTS
from transform.defs.jobs import transform_job

# Records read per asset per tick; anything beyond waits for the next tick.
BATCH = 1_000


def _run_key(run_id: str, first_storage_id: int) -> str:
    # Events reported outside a run carry an empty run id.
    return f"ingest-run:{run_id}" if run_id else f"raw-event:{first_storage_id}"


@dg.multi_asset_sensor(
    monitored_assets=[RAW_ORDERS, RAW_PAYMENTS],
    job=transform_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=sensor_interval_seconds(),
    description=(
        "One transform_job run per ingest run that materialized raw/orders or raw/payments "
        "(any number of partitions), started once that ingest run has finished."
    ),
)
def raw_data_sensor(context: dg.MultiAssetSensorEvaluationContext):
    finished: dict[str, bool] = {}

    def run_finished(run_id: str) -> bool:
        if run_id not in finished:
            run = context.instance.get_run_by_id(run_id) if run_id else None
            finished[run_id] = run is None or run.is_finished
        return finished[run_id]

    consumed: dict[str, list[dg.EventLogRecord]] = defaultdict(list)
    for key in context.asset_keys:
        for record in context.materialization_records_for_key(key, limit=BATCH):
            # Stop at a run still writing: its other partitions and assets are not
            # there yet, and a transform started now would read half a batch.
            if not run_finished(record.run_id):
                break
            consumed[record.run_id].append(record)
            context.advance_cursor({key: record})

    batches = sorted(consumed.items(), key=lambda item: min(r.storage_id for r in item[1]))
    if context.cursor is None and len(batches) > 1:
        # First tick ever: every transform_job run rebuilds all the marts, so the
        # history before this sensor existed needs one run, not one per old ingest run.
        context.log.info(f"first tick: {len(batches) - 1} earlier ingest runs folded into the latest")
        batches = batches[-1:]
    for run_id, records in batches:
        # Dagster launches a run_key once per sensor: a batch split over two ticks
        # (more than BATCH records) still starts one run.
        run_key = _run_key(run_id, min(r.storage_id for r in records))
        partitions = sorted({r.partition_key for r in records if r.partition_key})
        context.log.info(f"{run_key}: {len(records)} materializations, partitions {partitions}")
        yield dg.RunRequest(run_key=run_key, tags={"transform/trigger": run_key})
