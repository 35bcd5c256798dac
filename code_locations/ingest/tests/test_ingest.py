"""Materialize ingest in process with local resources and check the data."""

import dagster as dg
import pandas as pd
import pydantic
import pytest
from platform_common.parquet import read_parquet_bytes

from ingest.defs.assets import customers, landing_files, orders_and_payments
from ingest.landing import COLUMNS

ASSETS = [customers, landing_files, orders_and_payments]
HEADER = ",".join(COLUMNS)
GOOD_FILE = f"""{HEADER}
1,7,2024-01-05,completed,11,credit_card,1000
1,7,2024-01-05,completed,12,coupon,250
2,8,2024-01-05,returned,13,gift_card,700
"""


def run(resources, day, orders_per_day=10, raise_on_error=True):
    return dg.materialize(
        ASSETS,
        partition_key=day,
        resources=resources,
        run_config={"ops": {"orders_and_payments": {"config": {"orders_per_day": orders_per_day}}}},
        raise_on_error=raise_on_error,
    )


def step_error(result) -> str:
    """The one failed step's error, as the UI shows it."""
    [failure] = [e for e in result.all_events if e.is_step_failure]
    return str(failure.step_failure_data.error)


def day_rows(warehouse, table, day):
    return warehouse.read_sql(
        f"SELECT * FROM raw.{table} WHERE order_date = CAST(:d AS TIMESTAMP) ORDER BY 1", d=day
    )


def test_partition_loads_generated_and_landed_rows(resources, warehouse, store):
    store.put_bytes("landing/orders/2024-01-05/batch-1.csv", GOOD_FILE.encode())
    assert run(resources, "2024-01-05").success
    orders = day_rows(warehouse, "orders", "2024-01-05")
    payments = day_rows(warehouse, "payments", "2024-01-05")
    assert len(orders) == 10 + 2
    landed = orders[orders["order_id"] < 100].set_index("order_id")
    assert landed.loc[1, "customer_id"] == 7 and landed.loc[2, "status"] == "returned"
    assert payments[payments["order_id"] == 1]["amount_cents"].sum() == 1250
    assert warehouse.read_sql("SELECT count(*) AS n FROM raw.customers")["n"][0] == 100
    archive = read_parquet_bytes(store.get_bytes("archive/raw/landing/2024-01-05.parquet"))
    assert archive["payment_id"].tolist() == [11, 12, 13]
    assert archive["source_file"].unique().tolist() == ["landing/orders/2024-01-05/batch-1.csv"]


def test_rerunning_a_partition_replaces_exactly_that_partition(resources, warehouse):
    assert run(resources, "2024-01-05", orders_per_day=10).success
    assert run(resources, "2024-01-06", orders_per_day=10).success
    assert run(resources, "2024-01-05", orders_per_day=4).success
    assert len(day_rows(warehouse, "orders", "2024-01-05")) == 4
    assert len(day_rows(warehouse, "orders", "2024-01-06")) == 10
    assert warehouse.read_sql("SELECT count(*) AS n FROM raw.orders")["n"][0] == 14


def test_day_with_no_landing_files_archives_an_empty_file(resources, store):
    assert run(resources, "2024-01-07").success
    archive = read_parquet_bytes(store.get_bytes("archive/raw/landing/2024-01-07.parquet"))
    assert archive.empty and list(archive.columns)[: len(COLUMNS)] == COLUMNS


BAD_FILES = {
    "missing column": (
        "order_id,customer_id,order_date,status,payment_id,payment_method\n1,7,2024-01-05,completed,91,coupon\n",
        "landing/orders/2024-01-05/bad.csv: missing column(s) amount_cents",
    ),
    "wrong type": (
        f"{HEADER}\n1,7,2024-01-05,completed,91,coupon,100\n2,8,2024-01-05,completed,92,coupon,lots\n",
        "landing/orders/2024-01-05/bad.csv line 3, column amount_cents: 'lots' is not an integer",
    ),
    "bad date": (
        f"{HEADER}\n1,7,05/01/2024,completed,91,coupon,100\n",
        "landing/orders/2024-01-05/bad.csv line 2, column order_date: '05/01/2024' is not a YYYY-MM-DD date",
    ),
    "other day": (
        f"{HEADER}\n1,7,2024-01-06,completed,91,coupon,100\n",
        "landing/orders/2024-01-05/bad.csv line 2, column order_date: 2024-01-06 is not the file's day 2024-01-05",
    ),
    "duplicate id": (
        f"{HEADER}\n1,7,2024-01-05,completed,91,coupon,100\n2,7,2024-01-05,completed,91,coupon,100\n",
        "landing/orders/2024-01-05/bad.csv line 3, column payment_id: duplicate id 91 "
        "(first seen in landing/orders/2024-01-05/bad.csv line 2)",
    ),
    "conflicting order": (
        f"{HEADER}\n5,7,2024-01-05,completed,91,coupon,100\n5,9,2024-01-05,completed,92,coupon,100\n",
        "landing/orders/2024-01-05/bad.csv line 3, column customer_id: order 5 has conflicting customer_id values",
    ),
    "empty text": (
        f"{HEADER}\n1,7,2024-01-05,,91,coupon,100\n",
        "landing/orders/2024-01-05/bad.csv line 2, column status: value is empty",
    ),
    # Checked against what is stored and generated, still before anything is archived.
    "unknown customer": (
        f"{HEADER}\n5,4242,2024-01-05,completed,95,coupon,100\n",
        "landing/orders/2024-01-05/bad.csv line 2, column customer_id: customer 4242 does not exist "
        "(raw/customers has 100 customers)",
    ),
    "generated id": (
        f"{HEADER}\n202401050001,7,2024-01-05,completed,99,coupon,100\n",
        "landing/orders/2024-01-05/bad.csv line 2, column order_id: id 202401050001 is reserved for the "
        "generated orders of 2024-01-05 (202401050001..202401059999)",
    ),
    # An id the day's 3 generated orders do not use, but a rerun with more would.
    "id of a later generated order": (
        f"{HEADER}\n202401050500,7,2024-01-05,completed,99,coupon,100\n",
        "landing/orders/2024-01-05/bad.csv line 2, column order_id: id 202401050500 is reserved",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_landing_file_fails_naming_the_cell_and_keeps_stored_data(case, resources, warehouse, store):
    store.put_bytes("landing/orders/2024-01-05/batch-1.csv", GOOD_FILE.encode())
    assert run(resources, "2024-01-05").success
    before_orders = day_rows(warehouse, "orders", "2024-01-05")
    before_archive = store.get_bytes("archive/raw/landing/2024-01-05.parquet")

    content, message = BAD_FILES[case]
    store.put_bytes("landing/orders/2024-01-05/bad.csv", content.encode())
    result = run(resources, "2024-01-05", orders_per_day=3, raise_on_error=False)

    assert not result.success
    assert message in step_error(result)
    pd.testing.assert_frame_equal(day_rows(warehouse, "orders", "2024-01-05"), before_orders)
    assert store.get_bytes("archive/raw/landing/2024-01-05.parquet") == before_archive
    assert store.get_bytes("landing/orders/2024-01-05/batch-1.csv") == GOOD_FILE.encode()


def test_wrong_config_names_the_field(resources):
    with pytest.raises(pydantic.ValidationError, match="orders_per_day"):
        dg.materialize(
            ASSETS, partition_key="2024-01-05", resources=resources,
            run_config={"ops": {"orders_and_payments": {"config": {"orders_per_day": -1}}}},
        )


def test_wrong_config_type_names_the_field(resources):
    with pytest.raises(dg.DagsterInvalidConfigError, match="orders_per_day"):
        dg.materialize(
            ASSETS, partition_key="2024-01-05", resources=resources,
            run_config={"ops": {"orders_and_payments": {"config": {"orders_per_day": "many"}}}},
        )


def run_range(resources, first, last, orders_per_day=10):
    """One run over the days first..last, as `make bench` and operators launch them."""
    job = dg.Definitions(
        assets=ASSETS, resources=resources, jobs=[dg.define_asset_job("range_job", selection=ASSETS)]
    ).resolve_job_def("range_job")
    return job.execute_in_process(
        run_config={"ops": {"orders_and_payments": {"config": {"orders_per_day": orders_per_day}}}},
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
        instance=dg.DagsterInstance.ephemeral(),
    )


def test_one_run_over_a_range_of_days_loads_and_archives_each_day(resources, warehouse, store):
    store.put_bytes("landing/orders/2024-01-05/batch-1.csv", GOOD_FILE.encode())
    assert run(resources, "2024-01-08", orders_per_day=3).success  # outside the range: kept
    assert run_range(resources, "2024-01-04", "2024-01-06", orders_per_day=10).success
    for day, expected in (("2024-01-04", 10), ("2024-01-05", 12), ("2024-01-06", 10), ("2024-01-08", 3)):
        assert len(day_rows(warehouse, "orders", day)) == expected, day
    for day, landed in (("2024-01-04", []), ("2024-01-05", [11, 12, 13]), ("2024-01-06", [])):
        archive = read_parquet_bytes(store.get_bytes(f"archive/raw/landing/{day}.parquet"))
        assert archive["payment_id"].tolist() == landed, day
    # Re-running the range with fewer orders replaces exactly those days.
    assert run_range(resources, "2024-01-04", "2024-01-06", orders_per_day=0).success
    assert warehouse.read_sql("SELECT count(*) AS n FROM raw.orders")["n"][0] == 2 + 3
