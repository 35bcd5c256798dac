import dagster as dg

from housekeeping.definitions import defs
from housekeeping.defs.probes import heartbeat_job


def test_heartbeat_prints(capfd):
    result = heartbeat_job.execute_in_process(
        run_config={"ops": {"heartbeat": {"config": {"seconds": 0, "message": "probe-xyz"}}}}
    )
    assert result.success
    out, err = capfd.readouterr()
    assert "probe-xyz stdout 1" in out and "probe-xyz stderr 1" in err


def test_probe_job_materializes_its_one_asset_in_one_process():
    instance = dg.DagsterInstance.ephemeral()
    job = defs().resolve_job_def("probe_job")
    result = job.execute_in_process(instance=instance)
    assert result.success
    assert [m.asset_key for m in result.get_asset_materialization_events()] == [dg.AssetKey(["platform", "probe"])]
    # The job's own run config picks the in-process executor: no step subprocess.
    assert job.run_config == {"execution": {"config": {"in_process": {}}}}


def test_the_probe_reports_how_its_run_worker_started_the_garbage_collector():
    """0 here (pytest froze nothing); a run container's worker reports what its start
    froze (tests/e2e/test_images.py, docs/adr/0007)."""
    import gc

    from housekeeping.defs.probes import probe

    result = dg.materialize([probe])
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["startup_gc_frozen_objects"].value == gc.get_freeze_count()
