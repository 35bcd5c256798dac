import dagster as dg
import pytest

from housekeeping.definitions import defs


def test_definitions_load_the_platform_jobs_and_schedules():
    loaded = defs()
    assert {k.to_user_string() for k in loaded.resolve_all_asset_keys()} == {"platform/probe"}
    assert {j.name for j in loaded.resolve_all_job_defs()} >= {
        "probe_job", "heartbeat_job", "prune_landing_job", "run_retention_job"}
    schedules = {s.name: s.default_status for s in loaded.schedules}
    assert schedules == {"heartbeat_schedule": dg.DefaultScheduleStatus.STOPPED,
                         "prune_landing_schedule": dg.DefaultScheduleStatus.RUNNING,
                         "run_retention_schedule": dg.DefaultScheduleStatus.RUNNING}


def test_the_daily_prune_deletes_for_real_and_only_old_archived_files():
    schedule = defs().resolve_schedule_def("prune_landing_schedule")
    [request] = schedule.evaluate_tick(dg.build_schedule_context()).run_requests
    assert request.run_config == {"ops": {"find_prune_candidates": {"config": {"older_than_days": 30,
                                                                               "dry_run": False}}}}


def test_unknown_environment_is_named(monkeypatch):
    monkeypatch.setenv("DAGSTER_PLATFORM_ENV", "staging")
    with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_PLATFORM_ENV='staging'"):
        defs()


def test_every_op_output_stays_in_memory():
    """Run containers cannot write DAGSTER_HOME (non-root user, the image's files): an op output
    handled by Dagster's default filesystem IO manager fails the run at "handling output"."""
    loaded = defs()
    on_disk = sorted(
        f"{job.name}.{node.name}.{out.name}"
        for job in loaded.resolve_all_job_defs() if not job.name.startswith("__")
        for node in job.graph.nodes for out in node.definition.output_defs
        if not out.dagster_type.is_nothing and out.io_manager_key != "mem_io_manager")
    assert on_disk == []
