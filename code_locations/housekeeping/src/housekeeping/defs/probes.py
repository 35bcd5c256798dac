"""Probes the platform team runs to see that runs start, log and stop, and that
`make bench` times. Harmless at any time; they touch no data."""

import gc
import sys
import time

import dagster as dg
from pydantic import Field

OWNERS = ["team:platform"]


class HeartbeatConfig(dg.Config):
    seconds: int = Field(default=1, ge=0, le=3_600, description="how long to keep beating")
    message: str = Field(default="heartbeat", min_length=1)


@dg.op(description="Prints a line to stdout and stderr every second for `seconds`.")
def heartbeat(context: dg.OpExecutionContext, config: HeartbeatConfig) -> None:
    beats = 0
    deadline = time.monotonic() + config.seconds
    while True:
        beats += 1
        print(f"{config.message} stdout {beats}", flush=True)
        print(f"{config.message} stderr {beats}", file=sys.stderr, flush=True)
        if time.monotonic() >= deadline:
            break
        time.sleep(1)
    context.log.info(f"{beats} beats")


@dg.job(description="A platform probe: proves runs start, log and stop. Harmless to run any time.")
def heartbeat_job():
    heartbeat()


# Proves the daemon ticks schedules and launches runs.
heartbeat_schedule = dg.ScheduleDefinition(
    name="heartbeat_schedule",
    job=heartbeat_job,
    cron_schedule="* * * * *",
    execution_timezone="UTC",
    description="Every minute while running: a one-second heartbeat run. Stopped by default.",
)


@dg.asset(
    key=["platform", "probe"],
    group_name="platform",
    owners=OWNERS,
    kinds={"python"},
    description="Does nothing: the benchmark's (make bench) and the operators' measure of run start-up.",
)
def probe(context: dg.AssetExecutionContext) -> None:
    # Annotated `-> None`: Dagster stores nothing, so no IO manager is involved.
    # How this run worker started: the objects its start froze out of the
    # garbage collector's reach (platform_services.startup_gc; 0 without it).
    context.add_output_metadata({"startup_gc_frozen_objects": gc.get_freeze_count()})


# One step needs no subprocess: the in-process executor skips a second Python
# start and code load per run (about 2 s on 2 cores; docs/performance.md).
# Launches may still choose `multiprocess` in run config (the benchmark's reference does).
probe_job = dg.define_asset_job(
    "probe_job",
    selection=[probe],
    executor_def=dg.multi_or_in_process_executor,
    config={"execution": {"config": {"in_process": {}}}},
    description="Materializes platform/probe, which does nothing. Harmless to run any time.",
)
