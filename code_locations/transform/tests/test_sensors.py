"""raw_data_sensor: one transform_job run per finished ingest run, however many partitions it wrote."""

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.test_utils import create_run_for_test

from transform.definitions import defs
from transform.defs.assets import RAW_CUSTOMERS, RAW_ORDERS, RAW_PAYMENTS
from transform.defs.sensors import raw_data_sensor

FINISHED = dg.DagsterRunStatus.SUCCESS


def ingest_run(instance, partitions, status=FINISHED, keys=(RAW_CUSTOMERS, RAW_ORDERS, RAW_PAYMENTS)) -> str:
    """A stand-in ingest run in `status` that materialized `keys` for each daily partition."""
    run = create_run_for_test(instance, job_name="ingest_job", status=status)
    for key in keys:
        for partition in [None] if key == RAW_CUSTOMERS else partitions:
            materialization = dg.AssetMaterialization(key, partition=partition)
            instance.report_dagster_event(
                DagsterEvent(
                    DagsterEventType.ASSET_MATERIALIZATION.value,
                    job_name="ingest_job",
                    event_specific_data=StepMaterializationData(materialization),
                ),
                run_id=run.run_id,
            )
    return run.run_id


class Ticks:
    """Evaluates the sensor tick after tick, carrying its cursor like the daemon does."""

    def __init__(self, instance):
        self.instance, self.cursor, self.definitions = instance, None, defs()

    def __call__(self) -> list[dg.RunRequest]:
        # A plain sensor context, as the daemon passes: the sensor resolves what it monitors.
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, definitions=self.definitions)
        data = raw_data_sensor.evaluate_tick(context)
        self.cursor = data.cursor or self.cursor
        return list(data.run_requests or [])


def test_one_run_per_ingest_run_and_none_for_one_already_seen():
    with dg.instance_for_test() as instance:
        tick = Ticks(instance)
        assert tick() == []
        zero = ingest_run(instance, ["2024-01-10"])
        assert [r.run_key for r in tick()] == [f"ingest-run:{zero}"]
        first = ingest_run(instance, ["2024-01-01", "2024-01-02", "2024-01-03"])
        second = ingest_run(instance, ["2024-01-04"])
        requests = tick()
        assert [r.run_key for r in requests] == [f"ingest-run:{first}", f"ingest-run:{second}"]
        assert requests[0].tags["transform/trigger"] == f"ingest-run:{first}"
        assert tick() == []  # both already seen
        third = ingest_run(instance, ["2024-01-05", "2024-01-06"])
        assert [r.run_key for r in tick()] == [f"ingest-run:{third}"]
        assert tick() == []
    assert raw_data_sensor.job_name == "transform_job"


def test_waits_for_an_ingest_run_still_writing():
    with dg.instance_for_test() as instance:
        tick = Ticks(instance)
        running = ingest_run(instance, ["2024-01-01"], status=dg.DagsterRunStatus.STARTED, keys=[RAW_ORDERS])
        assert tick() == []  # payments not written yet: a transform now would read half a batch
        instance.report_dagster_event(
            DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name="ingest_job"), run_id=running
        )
        assert [r.run_key for r in tick()] == [f"ingest-run:{running}"]
        assert tick() == []


def test_a_run_that_wrote_only_payments_still_triggers():
    with dg.instance_for_test() as instance:
        tick = Ticks(instance)
        run_id = ingest_run(instance, ["2024-01-07"], keys=[RAW_PAYMENTS])
        assert [r.run_key for r in tick()] == [f"ingest-run:{run_id}"]


def test_sensor_runs_in_the_daemon_every_five_seconds():
    assert raw_data_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert raw_data_sensor.minimum_interval_seconds == 4


def test_the_first_tick_folds_history_into_one_run():
    with dg.instance_for_test() as instance:
        tick = Ticks(instance)
        ingest_run(instance, ["2024-01-01"])
        latest = ingest_run(instance, ["2024-01-02"])
        assert [r.run_key for r in tick()] == [f"ingest-run:{latest}"]
        assert tick() == []
