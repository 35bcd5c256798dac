"""Run-history retention: runs that ended long ago go, with their event logs;
what assets, partitions, checks and runs in flight need stays."""

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import dagster as dg
import pytest
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.storage.runs.schema import RunsTable
from dagster._core.test_utils import create_run_for_test, instance_for_test

from platform_services import daemon, retention

DAYS = 90
OLD = DAYS + 110  # how many days the history below is moved into the past
DAILY = dg.StaticPartitionsDefinition(["2024-01-01", "2024-01-02"])


@dg.asset
def numbers() -> list[int]:
    return [1, 2, 3]


@dg.asset_check(asset=numbers)
def numbers_are_positive(numbers: list[int]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=all(n > 0 for n in numbers))


@dg.asset(partitions_def=DAILY)
def daily(context: dg.AssetExecutionContext) -> str:
    return context.partition_key


@dg.op
def observe(context: dg.OpExecutionContext) -> None:
    context.log_event(dg.AssetObservation(asset_key="watched", metadata={"rows": 7}))


@dg.op
def noop() -> None:
    pass


@dg.op
def boom() -> None:
    raise RuntimeError("boom")


observe_job = dg.GraphDefinition("observe_job", node_defs=[observe]).to_job()
noop_job = dg.GraphDefinition("noop_job", node_defs=[noop]).to_job()
boom_job = dg.GraphDefinition("boom_job", node_defs=[boom]).to_job()


def backdate(instance: dg.DagsterInstance, run_id: str, days: int = OLD) -> None:
    """Move a run's timestamps `days` into the past, straight in the runs table."""
    record = instance.get_run_record_by_id(run_id)
    shift = timedelta(days=days)
    values = {
        "create_timestamp": (record.create_timestamp - shift).replace(tzinfo=None),
        "update_timestamp": (record.update_timestamp - shift).replace(tzinfo=None),
    }
    for column in ("start_time", "end_time"):
        if getattr(record, column) is not None:
            values[column] = getattr(record, column) - shift.total_seconds()
    with instance.run_storage.connect() as conn:
        conn.execute(RunsTable.update().where(RunsTable.c.run_id == run_id).values(**values))


def build_history(instance: dg.DagsterInstance) -> dict[str, str]:
    """Runs of every kind, in this order; all but `recent` ended (or started) OLD days ago."""
    runs = {
        "superseded": dg.materialize([numbers], instance=instance).run_id,
        "latest_check": dg.materialize([numbers, numbers_are_positive], instance=instance).run_id,
        "latest_numbers": dg.materialize([numbers], instance=instance).run_id,
        "only_jan_1": dg.materialize([daily], instance=instance, partition_key="2024-01-01").run_id,
        "superseded_jan_2": dg.materialize([daily], instance=instance, partition_key="2024-01-02").run_id,
        "latest_jan_2": dg.materialize([daily], instance=instance, partition_key="2024-01-02").run_id,
        "latest_observation": observe_job.execute_in_process(instance=instance).run_id,
        "succeeded": noop_job.execute_in_process(instance=instance).run_id,
        "failed": boom_job.execute_in_process(instance=instance, raise_on_error=False).run_id,
        "canceled": create_run_for_test(instance, job_name="noop_job", status=dg.DagsterRunStatus.CANCELED).run_id,
    }
    location = GrpcServerCodeLocationOrigin(host="ingest", port=4000, location_name="ingest")
    origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), "noop_job")
    for name, status in (("started", "STARTED"), ("queued", "QUEUED"), ("not_started", "NOT_STARTED"),
                         ("canceling", "CANCELING")):
        runs[name] = create_run_for_test(instance, job_name="noop_job", remote_job_origin=origin,
                                         status=dg.DagsterRunStatus[status]).run_id
    for run_id in runs.values():
        backdate(instance, run_id)
    runs["recent"] = noop_job.execute_in_process(instance=instance).run_id
    return runs


EXPECT_DELETED = {"superseded", "superseded_jan_2", "succeeded", "failed", "canceled"}
EXPECT_KEPT = {
    "latest_check": "latest evaluation of check numbers:numbers_are_positive",
    "latest_numbers": "latest materialization of numbers",
    "only_jan_1": "latest materialization of a partition of daily",
    "latest_jan_2": "latest materialization of daily",
    "latest_observation": "latest observation of watched",
}
IN_FLIGHT = {"started", "queued", "not_started", "canceling"}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """The history is built once; each test gets its own copy of the instance."""
    home = tmp_path_factory.mktemp("dagster_home")
    with instance_for_test(temp_dir=str(home)) as instance:
        runs = build_history(instance)
    return home, runs


@pytest.fixture
def history(template):
    return dict(template[1])


@pytest.fixture
def instance(template, tmp_path):
    home = shutil.copytree(template[0], tmp_path / "dagster_home")
    with instance_for_test(temp_dir=str(home)) as instance:
        yield instance


def names(history: dict[str, str], run_ids) -> set[str]:
    by_id = {v: k for k, v in history.items()}
    return {by_id[r] for r in run_ids}


def test_old_ended_runs_go_with_their_events_and_what_assets_need_stays(instance, history, caplog):
    old_events = {name: len(instance.get_records_for_run(history[name]).records) for name in EXPECT_DELETED}
    assert all(count > 0 for name, count in old_events.items() if name != "canceled")
    caplog.set_level(logging.INFO, logger=retention.LOG.name)

    result = retention.prune_runs(instance, DAYS, batch_size=2)  # small batches: paging past kept runs

    assert names(history, [r.run_id for r in result.deleted]) == EXPECT_DELETED
    assert names(history, result.kept) == set(EXPECT_KEPT)
    assert {name: result.kept[history[name]] for name in EXPECT_KEPT} == EXPECT_KEPT
    for name in EXPECT_DELETED:
        assert instance.get_run_by_id(history[name]) is None
        assert instance.get_records_for_run(history[name]).records == []
    for name in set(history) - EXPECT_DELETED:
        assert instance.get_run_by_id(history[name]) is not None, name
    assert {instance.get_run_by_id(history[n]).status.value for n in IN_FLIGHT} == {
        "STARTED", "QUEUED", "NOT_STARTED", "CANCELING"}

    # The assets look exactly as before: latest runs, every partition, the check's result.
    assert instance.get_latest_materialization_event(dg.AssetKey("numbers")).run_id == history["latest_numbers"]
    assert instance.get_materialized_partitions(dg.AssetKey("daily")) == {"2024-01-01", "2024-01-02"}
    [observation] = instance.fetch_observations(dg.AssetKey("watched"), limit=5).records
    assert observation.run_id == history["latest_observation"]
    assert observation.asset_observation.metadata["rows"].value == 7
    check = dg.AssetCheckKey(dg.AssetKey("numbers"), "numbers_are_positive")
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key([check])[check]
    assert latest.run_id == history["latest_check"] and latest.status.value == "SUCCEEDED"

    assert result.oldest.run_id == history["superseded"]
    # SQLite keeps the canceled run's update_timestamp (its end) to the second.
    assert result.newest.run_id in {history["failed"], history["canceled"]}
    assert (result.oldest.job_name, result.oldest.status) == ("__ephemeral_asset_job__", "SUCCESS")
    failed = next(r for r in result.deleted if r.run_id == history["failed"])
    assert (failed.job_name, failed.status) == ("boom_job", "FAILURE")
    assert f"run retention ({DAYS} days): deleted 5 runs that ended " in caplog.text
    assert "kept 5 older runs" in caplog.text

    again = retention.prune_runs(instance, DAYS)
    assert again.deleted == [] and again.kept == result.kept


def test_dry_run_lists_the_same_runs_and_deletes_nothing(instance, history):
    before = {r.dagster_run.run_id for r in instance.get_run_records()}
    planned = retention.prune_runs(instance, DAYS, dry_run=True, batch_size=3)
    assert names(history, [r.run_id for r in planned.deleted]) == EXPECT_DELETED
    assert {r.dagster_run.run_id for r in instance.get_run_records()} == before
    assert all(instance.get_records_for_run(history[n]).records for n in EXPECT_DELETED - {"canceled"})
    assert planned.summary().startswith(f"run retention ({DAYS} days): would delete 5 runs")
    done = retention.prune_runs(instance, DAYS)
    assert [r.run_id for r in done.deleted] == [r.run_id for r in planned.deleted]


def test_a_longer_retention_keeps_everything(instance, history):
    assert retention.prune_runs(instance, OLD + 1).deleted == []
    assert len(instance.get_run_records()) == len(history)


def test_runs_another_pass_deleted_first_are_not_an_error(instance, history, monkeypatch):
    """Two passes at once (the daemon and an operator): each page read is
    deleted by the other pass before this one gets to it."""
    read = instance.get_run_records

    def read_then_lose_race(*args, **kwargs):
        records = read(*args, **kwargs)
        for record in records:
            if names(history, [record.dagster_run.run_id]) <= EXPECT_DELETED:
                instance.delete_run(record.dagster_run.run_id)
        return records

    monkeypatch.setattr(instance, "get_run_records", read_then_lose_race)
    retention.prune_runs(instance, DAYS, batch_size=2)
    monkeypatch.undo()
    assert {names(history, [r.dagster_run.run_id]).pop() for r in instance.get_run_records()} == (
        set(history) - EXPECT_DELETED)


def test_zero_days_is_refused_by_prune_runs(instance):
    with pytest.raises(ValueError, match="0 means retention is off"):
        retention.prune_runs(instance, 0)


# --- settings -----------------------------------------------------------------

def test_settings_default_to_90_days_every_hour():
    assert retention.settings_from_env({}) == retention.RetentionSettings(days=90, interval_seconds=3600)
    assert retention.settings_from_env({retention.DAYS_VAR: " 30 ", retention.INTERVAL_VAR: ""}) == (
        retention.RetentionSettings(days=30, interval_seconds=3600))
    assert retention.settings_from_env({retention.DAYS_VAR: "0"}).enabled is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DAGSTER_RUN_RETENTION_DAYS", "ninety"),
        ("DAGSTER_RUN_RETENTION_DAYS", "-1"),
        ("DAGSTER_RUN_RETENTION_DAYS", "7.5"),
        ("DAGSTER_RUN_RETENTION_INTERVAL_SECONDS", "0"),
        ("DAGSTER_RUN_RETENTION_INTERVAL_SECONDS", "hourly"),
    ],
)
def test_a_malformed_setting_is_named_with_its_value(name, value):
    with pytest.raises(retention.RetentionConfigError) as err:
        retention.settings_from_env({name: value})
    assert str(err.value).startswith(f"{name}={value!r} is not valid: expected ")


def run_module(module: str, *args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


def test_the_daemon_refuses_to_start_with_a_malformed_setting(tmp_path):
    proc = run_module("platform_services.daemon", "run", "--empty-workspace",
                      env={"DAGSTER_HOME": str(tmp_path), retention.DAYS_VAR: "ninety"})
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "platform_services.daemon: DAGSTER_RUN_RETENTION_DAYS='ninety' is not valid: expected days of run "
        "history to keep, 0 to keep every run (a whole number >= 0, default 90)")
    assert not list(tmp_path.iterdir())  # it stopped before touching the instance


# --- the daemon wrapper ---------------------------------------------------------

@contextmanager
def borrowed(instance):
    yield instance  # the test owns the instance: a pass must not dispose of it


def poll(fn, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := fn():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_the_daemon_thread_prunes_soon_after_start(instance, history):
    settings = retention.RetentionSettings(days=DAYS, interval_seconds=3600)
    stop = daemon.start_retention(settings, open_instance=lambda: borrowed(instance), first_delay=0)
    try:
        poll(lambda: instance.get_run_by_id(history["succeeded"]) is None, what="the first pass")
    finally:
        stop.set()
    poll(lambda: not any(t.name == "run-retention" for t in threading.enumerate()), what="the thread to stop")
    assert instance.get_run_by_id(history["latest_numbers"]) is not None


def test_a_failed_pass_is_logged_and_retried(instance, history, caplog):
    log = logging.getLogger("tests.run_retention")
    caplog.set_level(logging.INFO, logger=log.name)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("postgres is restarting")
        return borrowed(instance)

    stop = threading.Event()
    loop = threading.Thread(target=daemon.retention_loop, args=(retention.RetentionSettings(DAYS, 1), stop),
                            kwargs={"open_instance": flaky, "first_delay": 0, "log": log})
    loop.start()
    try:
        poll(lambda: instance.get_run_by_id(history["succeeded"]) is None, what="the retried pass")
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive()
    assert "run retention pass failed; next try in 1 s" in caplog.text
    assert "ConnectionError: postgres is restarting" in caplog.text
    assert f"run retention ({DAYS} days): deleted 5 runs" in caplog.text


def test_zero_days_starts_no_thread(capsys):
    assert daemon.start_retention(retention.RetentionSettings(days=0)) is None
    assert not any(t.name == "run-retention" for t in threading.enumerate())
    assert "run retention is off (DAGSTER_RUN_RETENTION_DAYS=0)" in capsys.readouterr().err


def test_the_wrapper_runs_the_real_daemon_and_its_heartbeats_pass_the_liveness_check(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {"DAGSTER_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "yes"}
    # Create the SQLite tables now: two processes creating them at once (the
    # daemon and a liveness check) race. Postgres is migrated by init instead.
    with dg.DagsterInstance.from_config(str(home)) as fresh:
        fresh.get_runs()
        fresh.get_daemon_heartbeats()
    log = tmp_path / "daemon.log"  # a file, not a pipe: a full pipe would stall the daemon
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "platform_services.daemon", "run", "--empty-workspace"],
                                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)

    def live() -> bool:
        assert proc.poll() is None, f"the daemon exited:\n{log.read_text()}"
        return run_module("dagster._daemon", "liveness-check", env=env).stdout == "Daemon live\n"

    try:
        poll(live, timeout=120, what="dagster-daemon liveness-check to pass")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ndaemon output:\n{log.read_text()[-3000:]}") from None
    finally:
        proc.terminate()
        proc.wait(timeout=60)


# --- the operators' CLI -------------------------------------------------------

def test_cli_lists_then_deletes(instance, history, capsys):
    assert retention.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    for name in EXPECT_DELETED:
        assert f"would delete {history[name]} " in out
    assert f"kept {history['latest_numbers']}: latest materialization of numbers" in out
    assert out.strip().splitlines()[-1].startswith("run retention (90 days): would delete 5 runs that ended ")
    assert instance.get_run_by_id(history["succeeded"]) is not None

    assert retention.main(["--days", str(DAYS)]) == 0
    out = capsys.readouterr().out
    assert f"deleted {history['failed']} boom_job FAILURE ended " in out
    assert instance.get_run_by_id(history["failed"]) is None
    assert instance.get_run_by_id(history["recent"]) is not None


def test_cli_with_zero_days_deletes_nothing(instance, history, capsys, monkeypatch):
    monkeypatch.setenv(retention.DAYS_VAR, "0")
    assert retention.main([]) == 0
    assert capsys.readouterr().out == "run retention is off (0 days): nothing deleted\n"
    assert len(instance.get_run_records()) == len(history)


def test_cli_names_a_malformed_setting(monkeypatch, capsys):
    monkeypatch.setenv(retention.DAYS_VAR, "-5")
    with pytest.raises(SystemExit) as exit_:
        retention.main([])
    assert exit_.value.code == 2
    assert "DAGSTER_RUN_RETENTION_DAYS='-5' is not valid" in capsys.readouterr().err
