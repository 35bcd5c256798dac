"""Run-history retention: runs that ended long ago go, with their event logs;
what assets, partitions, checks and runs in flight need stays."""

import logging
import shutil
from datetime import timedelta

import dagster as dg
import pytest
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.storage.runs.schema import RunsTable
from dagster._core.test_utils import create_run_for_test, instance_for_test

from housekeeping import retention
from housekeeping.defs.prune import MEM_IO_MANAGER
from housekeeping.defs.retention import DAYS_VAR, run_retention_job, run_retention_schedule

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


def test_the_job_prunes_the_instance_it_runs_on(instance, history):
    result = run_retention_job.execute_in_process(
        instance=instance, run_config={"ops": {"prune_run_history": {"config": {"days": DAYS}}}},
        resources={MEM_IO_MANAGER: dg.mem_io_manager})
    assert result.success
    assert result.output_for_node("prune_run_history") == {"days": DAYS, "dry_run": False, "deleted": 5,
                                                           "kept_as_latest": 5}
    for name in EXPECT_DELETED:
        assert instance.get_run_by_id(history[name]) is None


def evaluate(monkeypatch, value: str | None):
    if value is None:
        monkeypatch.delenv(DAYS_VAR, raising=False)
    else:
        monkeypatch.setenv(DAYS_VAR, value)
    return run_retention_schedule(dg.build_schedule_context())


def test_the_schedule_keeps_ninety_days_unless_told(monkeypatch):
    assert evaluate(monkeypatch, None).run_config == {"ops": {"prune_run_history": {"config": {"days": 90}}}}
    assert evaluate(monkeypatch, "30").run_config == {"ops": {"prune_run_history": {"config": {"days": 30}}}}
    assert isinstance(evaluate(monkeypatch, "0"), dg.SkipReason)


def test_a_malformed_setting_fails_the_tick_naming_it(monkeypatch):
    with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_RUN_RETENTION_DAYS='ninety' is not valid"):
        evaluate(monkeypatch, "ninety")
