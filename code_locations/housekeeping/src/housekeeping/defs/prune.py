"""Delete landing files that ingest has already archived.

An op job rather than assets: it changes no data anyone reads, it only frees
space. A file goes only when it is old enough and ingest has archived this very
version of it (platform_common.landing_archive, read from ingest's bucket), so
nothing that has not been ingested can be lost. The platform's job, not a
data team's: it deletes from the landing bucket with housekeeping's own key.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import dagster as dg
from platform_common import ObjectInfo, ObjectStore
from platform_common.landing_archive import LANDING_ROOT, is_archived
from pydantic import Field, field_validator

from platform_common.retries import RETRY_POLICY, FailsAtOnceConfig, permanent_unless_transient

# Ops hand their outputs to the next op in memory. Provided by definitions.py.
MEM_IO_MANAGER = "mem_io_manager"
DAY_SEGMENT = re.compile(r"(?:^|/)(\d{4}-\d{2}-\d{2})/")


class PruneLandingConfig(FailsAtOnceConfig):
    older_than_days: int = Field(default=30, ge=1, description="delete only files last modified this many days ago")
    dry_run: bool = Field(default=True, description="log what would be deleted and delete nothing")
    prefix: str = Field(default=LANDING_ROOT, description="folder to prune, under landing/ and ending with '/'")

    @field_validator("prefix")
    @classmethod
    def _a_landing_folder(cls, value: str) -> str:
        if not value.endswith("/"):
            raise ValueError(f"must end with '/' (a folder), got {value!r}")
        if not value.startswith(LANDING_ROOT):
            raise ValueError(f"must be under {LANDING_ROOT!r}: this job only prunes landing files, got {value!r}")
        return value


def day_of(key: str) -> str | None:
    """The landing day in `landing/orders/<YYYY-MM-DD>/<name>.csv`, or None."""
    match = DAY_SEGMENT.search(key)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1)).isoformat()
    except ValueError:
        return None


@dataclass(frozen=True)
class PrunePlan:
    dry_run: bool
    candidates: list[ObjectInfo]
    scanned: int
    kept_recent: int
    kept_not_archived: int
    kept_unrecognised: int


@dataclass(frozen=True)
class PruneOutcome:
    plan: PrunePlan
    deleted: list[str]


@dg.op(
    description="List landing files older than `older_than_days` whose day is archived.",
    out=dg.Out(io_manager_key=MEM_IO_MANAGER),
)
@permanent_unless_transient("prune_landing_job: listing landing files")
def find_prune_candidates(
    context: dg.OpExecutionContext, config: PruneLandingConfig, landing_store: ObjectStore, ingest_archive: ObjectStore
) -> PrunePlan:
    cutoff = datetime.now(timezone.utc) - timedelta(days=config.older_than_days)
    candidates: list[ObjectInfo] = []
    objects = landing_store.list(config.prefix)
    recent = not_archived = unrecognised = 0
    for obj in objects:
        day = day_of(obj.key)
        if day is None:
            unrecognised += 1
            context.log.warning(f"keeping {obj.key}: no <YYYY-MM-DD>/ folder in its key")
            continue
        if obj.last_modified >= cutoff:
            recent += 1
            continue
        # Ingest archives each landing file it loaded; only that very version (ETag) counts.
        if is_archived(ingest_archive, obj):
            candidates.append(obj)
        else:
            not_archived += 1
    context.log.info(
        f"{len(objects)} files under {config.prefix}: {len(candidates)} to prune, {recent} newer than "
        f"{cutoff:%Y-%m-%d %H:%M} UTC, {not_archived} not archived, {unrecognised} unrecognised"
    )
    return PrunePlan(config.dry_run, candidates, len(objects), recent, not_archived, unrecognised)


@dg.op(description="Delete the candidates, or only log them in a dry run.", out=dg.Out(io_manager_key=MEM_IO_MANAGER))
@permanent_unless_transient("prune_landing_job: deleting landing files")
def delete_landing_files(context: dg.OpExecutionContext, plan: PrunePlan, landing_store: ObjectStore) -> PruneOutcome:
    deleted: list[str] = []
    for obj in plan.candidates:
        if plan.dry_run:
            context.log.info(f"dry run: would delete {obj.key}")
            continue
        landing_store.delete(obj.key)
        deleted.append(obj.key)
    return PruneOutcome(plan, deleted)


@dg.op(
    description="Log what was pruned and record the counts as output metadata.",
    out=dg.Out(io_manager_key=MEM_IO_MANAGER),
)
def log_prune_summary(context: dg.OpExecutionContext, outcome: PruneOutcome) -> dg.Output[dict]:
    plan = outcome.plan
    deleted = set(outcome.deleted)
    summary = {
        "dry_run": plan.dry_run,
        "scanned": plan.scanned,
        "candidates": len(plan.candidates),
        "deleted": len(outcome.deleted),
        "bytes_freed": sum(o.size for o in plan.candidates if o.key in deleted),
        "kept_recent": plan.kept_recent,
        "kept_not_archived": plan.kept_not_archived,
        "kept_unrecognised": plan.kept_unrecognised,
    }
    context.log.info(", ".join(f"{k}={v}" for k, v in summary.items()))
    keys = [o.key for o in plan.candidates]
    return dg.Output(summary, metadata={**summary, "candidate_keys": dg.MetadataValue.json(keys[:200])})


@dg.graph
def prune_landing():
    log_prune_summary(delete_landing_files(find_prune_candidates()))


prune_landing_job = prune_landing.to_job(
    name="prune_landing_job",
    description=(
        "Delete landing files older than N days whose day has been archived as Parquet. "
        "Dry run by default: set dry_run: false to delete."
    ),
    # A few small sequential steps in one process, so in-memory outputs reach the next op.
    executor_def=dg.in_process_executor,
    # The store's outages; a retried delete deletes again, which the store allows.
    op_retry_policy=RETRY_POLICY,
)


# Daily, for real (not a dry run): files 30 days old whose archive holds this very version.
prune_landing_schedule = dg.ScheduleDefinition(
    name="prune_landing_schedule",
    job=prune_landing_job,
    cron_schedule="43 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    run_config={"ops": {"find_prune_candidates": {"config": {"older_than_days": 30, "dry_run": False}}}},
    description="Every day at 03:43 UTC: delete landing files older than 30 days that ingest has archived.",
)
