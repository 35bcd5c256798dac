from datetime import date

import dagster as dg
import pandas as pd
import pytest
from platform_common import Warehouse, WarehouseIOManager

from ingest import generator
from ingest.definitions import defs
from ingest.defs.jobs import heartbeat_job


def test_definitions_load():
    loaded = defs()
    keys = {k.to_user_string() for k in loaded.resolve_all_asset_keys()}
    assert keys == {"raw/customers", "raw/landing", "raw/orders", "raw/payments", "platform/probe"}
    assert {j.name for j in loaded.resolve_all_job_defs()} >= {"ingest_job", "heartbeat_job", "probe_job"}
    daily = loaded.resolve_schedule_def("ingest_daily_schedule")
    assert (daily.cron_schedule, daily.execution_timezone) == ("0 1 * * *", "UTC")
    assert loaded.resolve_sensor_def("landing_sensor").default_status == dg.DefaultSensorStatus.RUNNING


def test_unknown_environment_is_named(monkeypatch):
    monkeypatch.setenv("DAGSTER_PLATFORM_ENV", "staging")
    with pytest.raises(dg.DagsterInvalidConfigError, match="DAGSTER_PLATFORM_ENV='staging'"):
        defs()


def test_generator_is_deterministic_per_day():
    day = date(2024, 1, 5)
    a_orders, a_payments = generator.orders_for_day(seed=7, day=day, n_orders=50, n_customers=20)
    b_orders, b_payments = generator.orders_for_day(seed=7, day=day, n_orders=50, n_customers=20)
    pd.testing.assert_frame_equal(a_orders, b_orders)
    pd.testing.assert_frame_equal(a_payments, b_payments)
    other, _ = generator.orders_for_day(seed=7, day=date(2024, 1, 6), n_orders=50, n_customers=20)
    assert not set(other["order_id"]) & set(a_orders["order_id"])
    assert a_orders["order_id"].min() == 20240105 * generator.ID_BLOCK + 1
    assert set(a_orders["status"]) <= set(generator.ORDER_STATUSES)
    assert set(a_payments["payment_method"]) <= set(generator.PAYMENT_METHODS)
    assert a_orders["customer_id"].between(1, 20).all()
    assert set(a_payments["order_id"]) == set(a_orders["order_id"])
    assert (a_orders["order_date"] == pd.Timestamp(day)).all()


def test_heartbeat_prints(capfd):
    result = heartbeat_job.execute_in_process(
        run_config={"ops": {"heartbeat": {"config": {"seconds": 0, "message": "probe-xyz"}}}}
    )
    assert result.success
    out, err = capfd.readouterr()
    assert "probe-xyz stdout 1" in out and "probe-xyz stderr 1" in err


def test_op_outputs_are_refused_by_the_warehouse_io_manager(tmp_path):
    @dg.op
    def not_an_asset() -> int:
        return 1

    @dg.job
    def op_job():
        not_an_asset()

    warehouse = Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "wh.duckdb"))
    result = op_job.execute_in_process(
        resources={"io_manager": WarehouseIOManager(warehouse=warehouse)}, raise_on_error=False
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "stores asset outputs only; output 'result' of op 'not_an_asset'" in str(failure.step_failure_data.error)


def test_probe_job_materializes_its_one_asset_in_one_process():
    instance = dg.DagsterInstance.ephemeral()
    job = defs().resolve_job_def("probe_job")
    result = job.execute_in_process(instance=instance)
    assert result.success
    assert [m.asset_key for m in result.get_asset_materialization_events()] == [dg.AssetKey(["platform", "probe"])]
    # The job's own run config picks the in-process executor: no step subprocess.
    assert job.run_config == {"execution": {"config": {"in_process": {}}}}
