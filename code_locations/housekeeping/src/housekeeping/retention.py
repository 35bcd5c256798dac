"""Run-history retention: delete runs that ended long ago, with their event logs.

Dagster OSS purges old ticks (`retention:` in dagster.yaml) but never runs:
`run_retention_job` (housekeeping.defs.retention) calls `prune_runs` every hour,
with its history in the UI.

Only runs that ended (SUCCESS, FAILURE, CANCELED) more than N days ago are
deleted. A run is kept, however old, while it holds the latest materialization
or observation of an asset or of one of its partitions, or the latest
evaluation of an asset check: without it the asset (or partition) would look
never materialized, and sensors and backfills would act on that.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunRecord,
    RunsFilter,
)

DEFAULT_DAYS = 90
BATCH_SIZE = 100
ENDED = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
# Storage ids per query when mapping the latest event of each partition to its run.
_STORAGE_ID_CHUNK = 500

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    job_name: str
    status: str
    ended_at: float


@dataclass
class PruneResult:
    days: int
    dry_run: bool
    deleted: list[RunSummary] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # run id -> why it was kept

    @property
    def oldest(self) -> RunSummary | None:
        return min(self.deleted, key=lambda r: r.ended_at, default=None)

    @property
    def newest(self) -> RunSummary | None:
        return max(self.deleted, key=lambda r: r.ended_at, default=None)

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        text = f"run retention ({self.days} days): {verb} {len(self.deleted)} runs"
        if self.deleted:
            text += f" that ended {_iso(self.oldest.ended_at)} to {_iso(self.newest.ended_at)}"
        if self.kept:
            text += f"; kept {len(self.kept)} older runs that hold the latest event of an asset, partition or check"
        return text


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _latest_by_partition(instance: DagsterInstance, key: AssetKey, event_type: DagsterEventType) -> set[str]:
    """Runs holding the latest event of `event_type` for some partition of `key`."""
    fetch = (
        instance.fetch_materializations
        if event_type == DagsterEventType.ASSET_MATERIALIZATION
        else instance.fetch_observations
    )
    runs: set[str] = set()
    storage_ids = sorted(set(instance.get_latest_storage_id_by_partition(key, event_type).values()))
    for chunk in _chunks(storage_ids, _STORAGE_ID_CHUNK):
        result = fetch(AssetRecordsFilter(asset_key=key, storage_ids=list(chunk)), limit=len(chunk))
        runs.update(r.run_id for r in result.records if r.run_id)
    return runs


def protected_run_ids(instance: DagsterInstance) -> dict[str, str]:
    """Run id -> why it is kept: it holds the latest materialization or
    observation of an asset, or of one partition of an asset."""
    protected: dict[str, str] = {}

    def protect(run_ids, reason: str) -> None:
        for run_id in run_ids:
            if run_id:
                protected.setdefault(run_id, reason)

    for record in instance.get_asset_records():
        entry = record.asset_entry
        name = entry.asset_key.to_user_string()
        if entry.last_materialization_record is not None:
            protect([entry.last_materialization_record.run_id], f"latest materialization of {name}")
        latest_observation = instance.fetch_observations(entry.asset_key, limit=1).records
        protect([r.run_id for r in latest_observation], f"latest observation of {name}")
        for event_type, what in (
            (DagsterEventType.ASSET_MATERIALIZATION, "materialization"),
            (DagsterEventType.ASSET_OBSERVATION, "observation"),
        ):
            runs = _latest_by_partition(instance, entry.asset_key, event_type)
            protect(runs, f"latest {what} of a partition of {name}")
    return protected


def _latest_check_evaluation(instance: DagsterInstance, run_id: str) -> str | None:
    """The asset check whose latest evaluation is in this run, if any.

    Asset checks cannot be listed without the code locations' definitions, so
    each candidate run is asked which checks it evaluated.
    """
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    check_keys = list(
        {r.event_log_entry.dagster_event.asset_check_evaluation_data.asset_check_key for r in records}
    )
    if not check_keys:
        return None
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys)
    for check_key, execution in latest.items():
        if execution.run_id == run_id:
            return f"latest evaluation of check {check_key.to_user_string()}"
    return None


def _ended_at(record: RunRecord) -> float:
    return record.end_time if record.end_time is not None else record.update_timestamp.timestamp()


def prune_runs(
    instance: DagsterInstance,
    days: int,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    now: datetime | None = None,
    log: logging.Logger | None = LOG,
) -> PruneResult:
    """Delete (or with dry_run, only list) runs that ended more than `days` days ago.

    Idempotent, and safe next to another pass: a run already deleted is not an error.
    """
    if days <= 0:
        raise ValueError(f"days must be at least 1 (0 means retention is off), got {days}")
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    result = PruneResult(days=days, dry_run=dry_run)
    # Read every asset's latest events only once a pass has a run to weigh: most
    # hourly passes find none.
    protected: dict[str, str] | None = None
    # The run storage filters on update_timestamp, which a run's last status
    # change sets; end_time is checked too, in case tags were added later.
    filters = RunsFilter(statuses=list(ENDED), updated_before=cutoff)
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        records = instance.get_run_records(filters=filters, limit=batch_size, cursor=cursor, ascending=True)
        fresh = [r for r in records if r.dagster_run.run_id not in seen]
        if not fresh:
            break
        for record in fresh:
            run = record.dagster_run
            seen.add(run.run_id)
            if _ended_at(record) >= cutoff.timestamp():
                cursor = run.run_id
                continue
            if protected is None:
                protected = protected_run_ids(instance)
            reason = protected.get(run.run_id) or _latest_check_evaluation(instance, run.run_id)
            if reason is not None:
                result.kept[run.run_id] = reason
                cursor = run.run_id  # still there: the next page starts after it
                continue
            if dry_run:
                cursor = run.run_id
            else:
                # Its event log goes too. A run another pass deleted first is a no-op.
                instance.delete_run(run.run_id)
            result.deleted.append(RunSummary(run.run_id, run.job_name, run.status.value, _ended_at(record)))
        # Deleted runs leave the result set: the same cursor then gives the next batch.
    if log is not None:
        log.info(result.summary())
    return result
