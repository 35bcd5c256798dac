import hashlib
from datetime import date

import dagster as dg
import pandas as pd
import pytest
from platform_common import Warehouse, WarehouseIOManager

from ingest import generator, landing
from ingest.definitions import defs


def test_definitions_load():
    loaded = defs()
    keys = {k.to_user_string() for k in loaded.resolve_all_asset_keys()}
    assert keys == {"raw/customers", "raw/landing", "raw/orders", "raw/payments"}
    assert set(loaded.resources) >= {"warehouse", "object_store", "landing_store"}
    assert {j.name for j in loaded.resolve_all_job_defs()} >= {"ingest_job"}
    # The platform's probes are housekeeping's: no team's location does another's housekeeping.
    assert not {"heartbeat_job", "probe_job"} & {j.name for j in loaded.resolve_all_job_defs()}
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


def digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.astype(str).to_csv(index=False).encode()).hexdigest()[:16]


def test_generator_output_is_pinned():
    """The same rows on every machine and after every upgrade: a change here changes
    every stored day and must be deliberate."""
    orders, payments = generator.orders_for_day(seed=42, day=date(2024, 1, 5), n_orders=1000, n_customers=100)
    assert (digest(orders), digest(payments)) == ("30d5371196d5c89d", "59a863b9c5fcfe24")
    assert digest(generator.customers(seed=42, n_customers=1000)) == "e6e8e240865fd8da"


def test_generator_chunks_are_whole_days_and_equal_one_day_at_a_time():
    chunks = list(generator.chunks(seed=3, first=date(2024, 1, 1), last=date(2024, 1, 7), orders_per_day=100,
                                   n_customers=50, chunk_orders=250))
    assert [len(c.days) for c in chunks] == [3, 3, 1]
    one_by_one = [generator.orders_for_day(seed=3, day=d, n_orders=100, n_customers=50) for c in chunks for d in c.days]
    pd.testing.assert_frame_equal(pd.concat([c.orders for c in chunks], ignore_index=True),
                                  pd.concat([o for o, _ in one_by_one], ignore_index=True))
    in_pieces = pd.concat(generator.customer_chunks(seed=3, n_customers=1001, chunk_rows=300), ignore_index=True)
    pd.testing.assert_frame_equal(in_pieces, generator.customers(seed=3, n_customers=1001))


def test_generated_ids_stay_above_landed_ids_and_below_2_to_the_53():
    orders, payments = generator.orders_for_day(seed=1, day=date(2024, 1, 1), n_orders=generator.ID_BLOCK - 1,
                                                n_customers=10)
    assert orders["order_id"].min() > landing.LANDED_ID_MAX
    assert payments["payment_id"].max() < 2**53 and orders["order_id"].is_unique and payments["payment_id"].is_unique
    last_day, _ = generator.orders_for_day(seed=1, day=date(9999, 12, 31), n_orders=1, n_customers=10)
    assert last_day["order_id"].max() * 10 + 1 < 2**53


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
