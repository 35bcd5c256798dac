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
