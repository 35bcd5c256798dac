"""Run-history retention as a job and an hourly schedule, with its history in the UI."""

import dagster as dg
from pydantic import Field

from housekeeping import retention
from housekeeping.defs.prune import MEM_IO_MANAGER


class RunRetentionConfig(dg.Config):
    days: int = Field(
        default=retention.DEFAULT_DAYS, ge=1,
        description="delete runs that ended more than this many days ago (runs an asset, partition or "
                    "check still needs stay); stop the schedule to keep every run",
    )
    dry_run: bool = Field(default=False, description="list what would be deleted; delete nothing")


@dg.op(
    description="Delete (or list) the runs that ended more than `days` days ago, with their event logs.",
    # A run container's filesystem is read-only: the summary stays in memory (its metadata is the record).
    out=dg.Out(io_manager_key=MEM_IO_MANAGER),
)
def prune_run_history(context: dg.OpExecutionContext, config: RunRetentionConfig) -> dg.Output[dict]:
    result = retention.prune_runs(context.instance, config.days, dry_run=config.dry_run, log=None)
    context.log.info(result.summary())
    summary = {"days": config.days, "dry_run": config.dry_run, "deleted": len(result.deleted),
               "kept_as_latest": len(result.kept)}
    return dg.Output(summary, metadata={
        **summary,
        "runs": dg.MetadataValue.json([
            {"run_id": r.run_id, "job": r.job_name, "status": r.status, "ended_at": r.ended_at}
            for r in sorted(result.deleted, key=lambda r: r.ended_at)[:200]]),
        "kept": dg.MetadataValue.json(dict(sorted(result.kept.items())[:200])),
    })


@dg.job(
    description="Delete runs that ended more than N days ago (default 90), with their event logs. Runs that hold "
                "the latest materialization or observation of an asset or partition, or a check's latest "
                "evaluation, stay; runs in flight are never touched.",
    executor_def=dg.in_process_executor,
    tags={"housekeeping/kind": "retention"},
)
def run_retention_job():
    prune_run_history()


DAYS_VAR = "DAGSTER_RUN_RETENTION_DAYS"


def retention_days() -> int:
    """DAGSTER_RUN_RETENTION_DAYS (.env; default 90; 0 keeps every run), checked so a
    bad value fails the tick with its name rather than deleting the wrong runs."""
    import os

    raw = os.environ.get(DAYS_VAR, "").strip()
    if not raw:
        return retention.DEFAULT_DAYS
    if not raw.isdigit():
        raise dg.DagsterInvalidConfigError(
            f"{DAYS_VAR}={raw!r} is not valid: expected days of run history to keep, 0 to keep every run", [], None)
    return int(raw)


@dg.schedule(
    name="run_retention_schedule",
    job=run_retention_job,
    cron_schedule="17 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description=f"Every hour: delete run history older than {DAYS_VAR} days (default 90; 0 keeps every run).",
)
def run_retention_schedule(context: dg.ScheduleEvaluationContext):
    days = retention_days()
    if days == 0:
        return dg.SkipReason(f"{DAYS_VAR}=0: run history is kept")
    return dg.RunRequest(run_config={"ops": {"prune_run_history": {"config": {"days": days}}}})
