"""The platform's run launcher: failure messages with logs, and container cleanup."""

from types import SimpleNamespace

import pytest
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.test_utils import create_run_for_test, instance_for_test

from platform_services import run_launcher as module
from platform_services.run_launcher import PlatformDockerRunLauncher


class FakeContainer:
    def __init__(self, run_id, status="exited", exit_code=1, logs=b""):
        self.id = self.short_id = f"c-{run_id[:6]}"
        self.labels = {"dagster/run_id": run_id}
        self.status = status
        self.attrs = {"State": {"ExitCode": exit_code, "OOMKilled": False}}
        self._logs = logs
        self.removed = False

    def logs(self, tail):
        return b"\n".join(self._logs.splitlines()[-tail:])

    def remove(self):
        self.removed = True


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        yield instance


@pytest.fixture
def launcher(instance):
    launcher = PlatformDockerRunLauncher(remove_finished_after_seconds=300, network="dagster_platform")
    launcher.register_instance(instance)
    return launcher


def test_failed_container_reports_exit_code_and_last_log_lines(launcher, instance, monkeypatch):
    run = create_run_for_test(instance, job_name="j", tags={"docker/container_id": "abc"})
    lines = b"\n".join(f"line {i}".encode() for i in range(60)) + b"\nKeyError: 'DAGSTER_PG_PASSWORD'"
    container = FakeContainer(run.run_id, logs=lines)
    monkeypatch.setattr(launcher, "_get_container", lambda r: container)
    monkeypatch.setattr(
        module.DockerRunLauncher, "check_run_worker_health",
        lambda self, r: CheckRunHealthResult(WorkerStatus.FAILED, msg="Container status is exited."),
    )
    result = launcher.check_run_worker_health(run)
    assert result.status == WorkerStatus.FAILED
    assert "exit code 1" in result.msg
    assert "KeyError: 'DAGSTER_PG_PASSWORD'" in result.msg
    assert "line 11\n" in result.msg and "line 10\n" not in result.msg  # only the last 50 lines


def test_running_container_is_reported_unchanged(launcher, instance, monkeypatch):
    run = create_run_for_test(instance, job_name="j")
    monkeypatch.setattr(
        module.DockerRunLauncher, "check_run_worker_health",
        lambda self, r: CheckRunHealthResult(WorkerStatus.RUNNING),
    )
    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING


def test_only_containers_of_runs_ended_long_enough_ago_are_removed(launcher, instance, monkeypatch):
    ended = create_run_for_test(instance, job_name="j", status=DagsterRunStatus.SUCCESS)
    in_flight = create_run_for_test(instance, job_name="j", status=DagsterRunStatus.STARTED)
    deleted = "0123456789ab-deleted-by-retention"
    containers = [FakeContainer(ended.run_id), FakeContainer(in_flight.run_id), FakeContainer(deleted)]
    listed = lambda **kw: [c for c in containers if not c.removed]  # noqa: E731
    monkeypatch.setattr(module.docker.client, "from_env",
                        lambda: SimpleNamespace(containers=SimpleNamespace(list=listed)))
    queries = []

    def get_run_records(filters):
        queries.append(sorted(filters.run_ids))
        return [SimpleNamespace(dagster_run=r, end_time=1_000.0 if r.run_id == ended.run_id else None)
                for r in (ended, in_flight) if r.run_id in filters.run_ids]

    monkeypatch.setattr(instance, "get_run_records", get_run_records)
    # A container whose run is gone from storage goes at once; the others wait.
    assert launcher.remove_finished_containers(now=1_100.0) == [containers[2].id]  # ended 100 s ago: kept
    assert launcher.remove_finished_containers(now=1_301.0) == [containers[0].id]
    assert containers[0].removed and not containers[1].removed
    # One query per sweep for all the containers, not one per container.
    assert queries == [sorted(c.labels["dagster/run_id"] for c in containers),
                       sorted([ended.run_id, in_flight.run_id])]


def test_many_containers_are_looked_up_in_batches(launcher, instance, monkeypatch):
    containers = [FakeContainer(f"{n:04d}-run") for n in range(module.RUNS_PER_QUERY + 1)]
    monkeypatch.setattr(module.docker.client, "from_env",
                        lambda: SimpleNamespace(containers=SimpleNamespace(list=lambda **kw: containers)))
    sizes = []
    monkeypatch.setattr(instance, "get_run_records", lambda filters: sizes.append(len(filters.run_ids)) or [])
    assert len(launcher.remove_finished_containers(now=1_000.0)) == len(containers)
    assert sizes == [module.RUNS_PER_QUERY, 1]


def test_launching_sweeps_after_the_container_started_at_most_once_a_minute(launcher, monkeypatch):
    order = []
    monkeypatch.setattr(module.DockerRunLauncher, "launch_run", lambda self, context: order.append("launched"))
    monkeypatch.setattr(launcher, "remove_finished_containers", lambda *a: order.append("swept") or [])
    launcher.launch_run(SimpleNamespace())
    launcher.launch_run(SimpleNamespace())
    assert order == ["launched", "swept", "launched"]  # the second launch comes within the minute
    assert launcher.sweep_if_due(now=launcher._last_sweep + module.SWEEP_INTERVAL_SECONDS) is not None
    assert order[-1] == "swept"


def test_a_failed_sweep_never_fails_the_launch(launcher, monkeypatch):
    monkeypatch.setattr(module.DockerRunLauncher, "launch_run", lambda self, context: None)

    def broken(*_):
        raise RuntimeError("docker is away")

    monkeypatch.setattr(launcher, "remove_finished_containers", broken)
    assert launcher.launch_run(SimpleNamespace()) is None


def test_negative_setting_keeps_every_container(instance):
    launcher = PlatformDockerRunLauncher(remove_finished_after_seconds=-1)
    launcher.register_instance(instance)
    assert launcher.remove_finished_containers() == []


def test_a_run_that_never_started_gets_the_container_logs_as_debug_info(launcher, instance, monkeypatch):
    run = create_run_for_test(instance, job_name="j", tags={"docker/container_id": "abc"})
    container = FakeContainer(run.run_id, logs=b"psycopg2.OperationalError: fe_sendauth: no password supplied")
    monkeypatch.setattr(launcher, "_get_container", lambda r: container)
    info = launcher.get_run_worker_debug_info(run)
    assert "is exited (exit code 1" in info and "no password supplied" in info
    monkeypatch.setattr(launcher, "_get_container", lambda r: None)
    assert launcher.get_run_worker_debug_info(run) is None
