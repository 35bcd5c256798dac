"""Dagster's DockerRunLauncher, plus what operators need from it (ADR 2,
docs/adr/0002-docker-run-launcher.md; the private import is in
platform_services.private_api with a test that breaks on an upgrade that moves it).

- A run whose container died says why: the failure carries the container's
  exit code and last 50 log lines (a crash at start, before any step captured its
  logs, otherwise leaves nothing to read).
- Finished run containers do not pile up: once a run has ended (its worker
  uploads compute logs to the object store before it exits), its container is
  removed `remove_finished_after_seconds` later. The launcher looks at most once
  a minute, after it has started a run or checked a run's health (the daemon
  does both): one container listing and one query for all of them, after the new
  container has started, so no launch waits for it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import docker
from dagster import DagsterRun, Field, IntSource, RunsFilter
from dagster_docker import DockerRunLauncher
from dagster_docker.docker_run_launcher import DOCKER_CONFIG_SCHEMA

from platform_services.private_api import CheckRunHealthResult, WorkerStatus

LOG_LINES = 50  # a Python traceback with its chained cause fits
RUN_ID_LABEL = "dagster/run_id"
RUNS_PER_QUERY = 500
SWEEP_INTERVAL_SECONDS = 60.0


class PlatformDockerRunLauncher(DockerRunLauncher):
    def __init__(self, remove_finished_after_seconds: int = 300, **kwargs: Any):
        self.remove_finished_after_seconds = remove_finished_after_seconds
        self._last_sweep = 0.0
        self._sweep_lock = threading.Lock()
        super().__init__(**kwargs)

    @classmethod
    def config_type(cls):
        return {
            **DOCKER_CONFIG_SCHEMA,
            "remove_finished_after_seconds": Field(
                IntSource,
                is_required=False,
                default_value=300,
                description="Remove a run's container this long after the run ended; -1 keeps them.",
            ),
        }

    def launch_run(self, context) -> None:
        super().launch_run(context)
        self.sweep_if_due()

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """A STARTED run whose container died: why, in the container's own words."""
        result = super().check_run_worker_health(run)
        self.sweep_if_due()
        if result.status != WorkerStatus.FAILED:
            return result
        return CheckRunHealthResult(WorkerStatus.FAILED, msg=self.get_run_worker_debug_info(run) or result.msg)

    def get_run_worker_debug_info(self, run: DagsterRun, *args: Any, **kwargs: Any) -> str | None:
        """Run monitoring appends this when a run never reached STARTED (a crash at start)."""
        container = self._get_container(run)
        if container is None:
            return None
        state = container.attrs.get("State", {})
        tail = container.logs(tail=LOG_LINES).decode(errors="replace").rstrip()
        return (
            f"Run container {container.short_id} is {container.status} "
            f"(exit code {state.get('ExitCode')}, OOM killed: {state.get('OOMKilled')})."
            f"\nIts last {LOG_LINES} log lines:\n{tail or '(no output)'}"
        )

    def sweep_if_due(self, now: float | None = None) -> list[str]:
        """remove_finished_containers, at most once per SWEEP_INTERVAL_SECONDS per
        process. A failure is logged by the caller's thread and tried next time."""
        now = time.monotonic() if now is None else now
        if now - self._last_sweep < SWEEP_INTERVAL_SECONDS or not self._sweep_lock.acquire(blocking=False):
            return []
        try:
            self._last_sweep = now
            return self.remove_finished_containers()
        except Exception:  # noqa: BLE001 - cleaning up must never fail a launch or a health check
            return []
        finally:
            self._sweep_lock.release()

    def remove_finished_containers(self, now: float | None = None) -> list[str]:
        """Remove containers of runs that ended more than the configured time ago.

        A container whose run is no longer stored (deleted by run retention) goes too.
        """
        if self.remove_finished_after_seconds < 0:
            return []
        now = time.time() if now is None else now
        client = docker.client.from_env()
        exited = client.containers.list(all=True, filters={"label": RUN_ID_LABEL, "status": "exited"})
        run_ids = sorted({c.labels[RUN_ID_LABEL] for c in exited})
        records = {}
        for start in range(0, len(run_ids), RUNS_PER_QUERY):
            chunk = run_ids[start : start + RUNS_PER_QUERY]
            for record in self._instance.get_run_records(RunsFilter(run_ids=chunk)):
                records[record.dagster_run.run_id] = record
        removed = []
        for container in exited:
            record = records.get(container.labels[RUN_ID_LABEL])
            if record is not None and not record.dagster_run.is_finished:
                continue  # the monitor still needs it to tell why the run died
            ended = (record.end_time if record else None) or 0
            if now - ended >= self.remove_finished_after_seconds:
                try:
                    container.remove()
                    removed.append(container.id)
                except docker.errors.APIError:
                    pass  # already gone, or removed by another launcher
        return removed
