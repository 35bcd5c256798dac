"""Materialize ingest in process with local resources and check the data."""

import hashlib
from contextlib import contextmanager

import dagster as dg
import pandas as pd
import pydantic
import pytest
from platform_common import ObjectStore, Warehouse
from platform_common.landing_archive import archive_key, archived_etag, is_archived
from platform_common.parquet import read_parquet_bytes

from conftest import resources_for
from ingest.defs.assets import customers, orders_and_payments
from ingest.landing import COLUMNS

ASSETS = [customers, orders_and_payments]
HEADER = ",".join(COLUMNS)
GOOD_FILE = f"""{HEADER}
1,7,2024-01-05,completed,11,credit_card,1000
1,7,2024-01-05,completed,12,coupon,250
2,8,2024-01-05,returned,13,gift_card,700
"""
KEY = "landing/orders/2024-01-05/batch-1.csv"


def run(resources, day, orders_per_day=10, n_customers=100, raise_on_error=True, landing_file=None, assets=ASSETS):
    config = {"orders_per_day": orders_per_day, "n_customers": n_customers}
    if landing_file:
        config = {"landing_file": landing_file}
        assets = [orders_and_payments]
    return dg.materialize(
        assets,
        partition_key=day,
        resources=resources,
        run_config={"ops": {"orders_and_payments": {"config": config},
                            **({"raw__customers": {"config": {"n_customers": n_customers}}} if customers in assets else {})}},
        raise_on_error=raise_on_error,
    )


def step_error(result) -> str:
    """The failed step's error, as the UI shows it."""
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures, "no step failed"
    return str(failures[-1].step_failure_data.error)


def day_rows(warehouse, table, day):
    return warehouse.read_sql(
        f"SELECT * FROM raw.{table} WHERE order_date = CAST(:d AS TIMESTAMP) ORDER BY 1", d=day
    )


def checksum(warehouse, table) -> tuple[int, str]:
    """Row count and a digest of every row, in a fixed order."""
    frame = warehouse.read_sql(f"SELECT * FROM raw.{table}")
    frame = frame[sorted(frame.columns)].sort_values(list(frame.columns[:2])).astype(str)
    return len(frame), hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def test_day_loads_generated_rows_and_upserts_customers(any_warehouse, store, dropbox):
    resources = resources_for(any_warehouse, store, dropbox)
    assert run(resources, "2024-01-05", orders_per_day=10).success
    orders = day_rows(any_warehouse, "orders", "2024-01-05")
    assert len(orders) == 10 and orders["source_file"].isna().all()
    assert any_warehouse.read_sql("SELECT count(*) AS n FROM raw.customers")["n"][0] == 100


def test_landing_file_run_loads_its_rows_and_archives_them_together(any_warehouse, store, dropbox):
    resources = resources_for(any_warehouse, store, dropbox)
    assert run(resources, "2024-01-05", orders_per_day=10).success
    dropbox.put_bytes(KEY, GOOD_FILE.encode())
    assert run(resources, "2024-01-05", landing_file=KEY).success
    orders = day_rows(any_warehouse, "orders", "2024-01-05")
    landed = orders[orders["source_file"] == KEY].set_index("order_id")
    assert len(orders) == 12 and landed.loc[1, "customer_id"] == 7 and landed.loc[2, "status"] == "returned"
    payments = any_warehouse.read_sql("SELECT * FROM raw.payments WHERE order_id = 1")
    assert payments["amount_cents"].sum() == 1250
    archive = read_parquet_bytes(store.get_bytes(archive_key(KEY)))
    assert archive["payment_id"].tolist() == [11, 12, 13] and archive["source_line"].tolist() == [2, 3, 4]
    [landing_obj] = dropbox.list("landing/")
    assert is_archived(store, landing_obj)


def test_a_day_run_keeps_the_days_landed_rows_from_the_archive(resources, warehouse, store, dropbox):
    dropbox.put_bytes(KEY, GOOD_FILE.encode())
    assert run(resources, "2024-01-05", orders_per_day=10).success
    assert run(resources, "2024-01-05", landing_file=KEY).success
    assert run(resources, "2024-01-05", orders_per_day=3).success
    orders = day_rows(warehouse, "orders", "2024-01-05")
    assert sorted(orders["source_file"].fillna("generated")) == ["generated"] * 3 + [KEY] * 2


def test_rerunning_a_partition_replaces_exactly_that_partition(resources, warehouse):
    assert run(resources, "2024-01-05", orders_per_day=10).success
    assert run(resources, "2024-01-06", orders_per_day=10).success
    assert run(resources, "2024-01-05", orders_per_day=4).success
    assert len(day_rows(warehouse, "orders", "2024-01-05")) == 4
    assert len(day_rows(warehouse, "orders", "2024-01-06")) == 10
    assert warehouse.read_sql("SELECT count(*) AS n FROM raw.orders")["n"][0] == 14


BAD_FILES = {
    "missing column": (
        "order_id,customer_id,order_date,status,payment_id,payment_method\n1,7,2024-01-05,completed,91,coupon\n",
        f"{KEY[:-11]}bad.csv line 1: missing column(s) amount_cents",
    ),
    "unknown customer": (
        f"{HEADER}\n5,4242,2024-01-05,completed,95,coupon,100\n",
        "landing/orders/2024-01-05/bad.csv line 2, column customer_id: customer 4242 does not exist "
        "(raw/customers holds 100 customers)",
    ),
    "an id another file holds": (
        f"{HEADER}\n1,7,2024-01-05,completed,95,coupon,100\n",
        f"landing/orders/2024-01-05/bad.csv line 2, column order_id: id 1 is already stored from {KEY}",
    ),
    "a payment id another file holds": (
        f"{HEADER}\n5,7,2024-01-05,completed,12,coupon,100\n",
        f"landing/orders/2024-01-05/bad.csv line 2, column payment_id: id 12 is already stored from {KEY}",
    ),
    "a generated id": (
        f"{HEADER}\n20240105000001,7,2024-01-05,completed,99,coupon,100\n",
        "landing/orders/2024-01-05/bad.csv line 2, column order_id: 20240105000001 is outside 1..10000100999999",
    ),
    "past 2^63": (
        f"{HEADER}\n5,7,2024-01-05,completed,99,coupon,99999999999999999999\n",
        "landing/orders/2024-01-05/bad.csv line 2, column amount_cents: 99999999999999999999 is outside",
    ),
    "a NUL byte": (
        f"{HEADER}\n5,7,2024-01-05,completed,99,coupon,1\x000\n",
        "landing/orders/2024-01-05/bad.csv line 2, column amount_cents: a NUL byte (character 2 of the value)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_landing_file_fails_naming_the_cell_and_writes_nothing(case, resources, warehouse, store, dropbox):
    dropbox.put_bytes(KEY, GOOD_FILE.encode())
    assert run(resources, "2024-01-05").success
    assert run(resources, "2024-01-05", landing_file=KEY).success
    before = {t: checksum(warehouse, t) for t in ("orders", "payments", "customers")}
    before_archive = store.get_bytes(archive_key(KEY))

    content, message = BAD_FILES[case]
    bad = "landing/orders/2024-01-05/bad.csv"
    dropbox.put_bytes(bad, content.encode())
    result = run(resources, "2024-01-05", landing_file=bad, raise_on_error=False)

    assert not result.success
    assert message in step_error(result)
    assert {t: checksum(warehouse, t) for t in before} == before
    assert not store.exists(archive_key(bad))
    assert store.get_bytes(archive_key(KEY)) == before_archive
    # A bad file is never retried: it fails on its first attempt.
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def test_a_fixed_file_loads_again_and_equals_a_clean_first_run(resources, warehouse, store, dropbox, tmp_path):
    assert run(resources, "2024-01-05").success
    broken = GOOD_FILE.replace("gift_card,700", "gift_card,7e2")
    dropbox.put_bytes(KEY, broken.encode())
    assert not run(resources, "2024-01-05", landing_file=KEY, raise_on_error=False).success
    dropbox.put_bytes(KEY, GOOD_FILE.encode())  # fixed: a new ETag
    assert run(resources, "2024-01-05", landing_file=KEY).success
    fixed = {t: checksum(warehouse, t) for t in ("orders", "payments")}
    fixed_archive = read_parquet_bytes(store.get_bytes(archive_key(KEY)))

    clean_dir = tmp_path / "clean"
    clean_dropbox = ObjectStore(backend="local", bucket="landing", local_dir=str(clean_dir))
    clean = resources_for(Warehouse(backend="duckdb", duckdb_path=str(clean_dir / "wh.duckdb")),
                          ObjectStore(backend="local", bucket="dagster-data", local_dir=str(clean_dir)), clean_dropbox)
    clean_dropbox.put_bytes(KEY, GOOD_FILE.encode())
    assert run(clean, "2024-01-05").success and run(clean, "2024-01-05", landing_file=KEY).success
    assert {t: checksum(clean["warehouse"], t) for t in ("orders", "payments")} == fixed
    pd.testing.assert_frame_equal(read_parquet_bytes(clean["object_store"].get_bytes(archive_key(KEY))), fixed_archive)


def test_a_failed_commit_leaves_neither_rows_nor_archive(resources, warehouse, store, dropbox, monkeypatch):
    assert run(resources, "2024-01-05").success
    dropbox.put_bytes(KEY, GOOD_FILE.encode())
    real_begin = Warehouse.begin

    @contextmanager
    def begin_then_fail_at_commit(self):
        with real_begin(self) as conn:
            yield conn
            if store.exists(archive_key(KEY)):  # the archive is written: now the commit fails
                conn.rollback()
                raise PermissionError("commit refused")

    monkeypatch.setattr(Warehouse, "begin", begin_then_fail_at_commit)
    result = run(resources, "2024-01-05", landing_file=KEY, raise_on_error=False)
    assert not result.success and "commit refused" in step_error(result)
    monkeypatch.undo()
    assert warehouse.read_sql("SELECT count(*) AS n FROM raw.orders WHERE source_file IS NOT NULL")["n"][0] == 0
    assert not store.exists(archive_key(KEY))


def test_customers_never_shrink_under_the_orders_that_reference_them(resources, warehouse):
    """The issue's sequence: a big run, then an ordinary daily run with the default configuration."""
    assert run(resources, "2024-01-05", orders_per_day=500, n_customers=1_000).success
    assert run(resources, "2024-01-06").success  # defaults: n_customers=100
    assert warehouse.read_sql("SELECT count(*) AS n FROM raw.customers")["n"][0] == 1_000
    orphans = warehouse.read_sql(
        "SELECT count(*) AS n FROM raw.orders o LEFT JOIN raw.customers c USING (customer_id) "
        "WHERE c.customer_id IS NULL")["n"][0]
    assert orphans == 0


def test_orders_whose_customers_are_not_stored_fail_and_write_nothing(resources, warehouse):
    assert run(resources, "2024-01-05", orders_per_day=5).success
    before = checksum(warehouse, "orders")
    result = run(resources, "2024-01-05", orders_per_day=5, n_customers=500, assets=[orders_and_payments],
                 raise_on_error=False)
    assert not result.success
    assert "pick customers 1..500, but raw/customers holds 100 of them" in step_error(result)
    assert checksum(warehouse, "orders") == before


def run_range(resources, first, last, orders_per_day=10):
    """One run over the days first..last, as a backfill or `make bench` launches it."""
    job = dg.Definitions(
        assets=ASSETS, resources=resources, jobs=[dg.define_asset_job("range_job", selection=ASSETS)]
    ).resolve_job_def("range_job")
    return job.execute_in_process(
        run_config={"ops": {"orders_and_payments": {"config": {"orders_per_day": orders_per_day}}}},
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
        instance=dg.DagsterInstance.ephemeral(),
    )


def test_one_run_over_a_range_equals_day_by_day_runs(any_warehouse, store, dropbox, tmp_path):
    resources = resources_for(any_warehouse, store, dropbox)
    dropbox.put_bytes(KEY, GOOD_FILE.encode())
    assert run(resources, "2024-01-05", landing_file=KEY, raise_on_error=False)  # before customers: fails
    assert run(resources, "2024-01-08", orders_per_day=3).success  # outside the range: kept
    assert run_range(resources, "2024-01-04", "2024-01-06", orders_per_day=10).success
    assert run(resources, "2024-01-05", landing_file=KEY).success
    ranged = {t: checksum(any_warehouse, t) for t in ("orders", "payments", "customers")}

    daily = Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "daily.duckdb"))
    by_day = resources_for(daily, store, dropbox)
    for day in ("2024-01-04", "2024-01-05", "2024-01-06", "2024-01-08"):
        assert run(by_day, day, orders_per_day=3 if day == "2024-01-08" else 10).success
    assert run(by_day, "2024-01-05", landing_file=KEY).success
    assert {t: checksum(daily, t) for t in ranged} == ranged
    assert any_warehouse.read_sql("SELECT count(*) AS n FROM raw.orders")["n"][0] == 30 + 2 + 3


def test_the_warehouse_rebuilds_from_the_archive_and_the_generator(resources, warehouse, store, dropbox):
    dropbox.put_bytes(KEY, GOOD_FILE.encode())
    assert run(resources, "2024-01-05", orders_per_day=10).success
    assert run(resources, "2024-01-05", landing_file=KEY).success
    before = {t: checksum(warehouse, t) for t in ("orders", "payments", "customers")}
    dropbox.delete(KEY)  # the landing file is pruned; its archive stays
    with warehouse.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA raw CASCADE")
    assert run(resources, "2024-01-05", orders_per_day=10).success
    assert {t: checksum(warehouse, t) for t in before} == before


def test_the_landing_bucket_is_read_only_for_ingest(resources):
    with pytest.raises(dg.Failure, match="read-only"):
        resources["landing_store"].put_bytes(KEY, b"x")


def test_wrong_config_names_the_field(resources):
    with pytest.raises(pydantic.ValidationError, match="orders_per_day"):
        run(resources, "2024-01-05", orders_per_day=-1)


def test_a_landing_file_of_another_day_is_refused(resources, dropbox):
    dropbox.put_bytes(KEY, GOOD_FILE.encode())
    result = run(resources, "2024-01-06", landing_file=KEY, raise_on_error=False)
    assert "is not a landing file of the run's day 2024-01-06" in step_error(result)


def test_archived_etag_names_the_loaded_version(resources, store, dropbox):
    assert run(resources, "2024-01-05").success
    dropbox.put_bytes(KEY, GOOD_FILE.encode())
    assert archived_etag(store, KEY) is None
    assert run(resources, "2024-01-05", landing_file=KEY).success
    [obj] = dropbox.list("landing/")
    assert archived_etag(store, KEY) == obj.etag
    dropbox.put_bytes(KEY, GOOD_FILE.encode() + b"3,7,2024-01-05,placed,14,coupon,5\n")
    [changed] = dropbox.list("landing/")
    assert not is_archived(store, changed)


def test_a_store_outage_is_retried_to_success(resources, warehouse, dropbox, monkeypatch):
    assert run(resources, "2024-01-05").success
    dropbox.put_bytes(KEY, GOOD_FILE.encode())
    real_get, calls = ObjectStore.get_with_etag, []

    def down_once(self, key):
        calls.append(key)
        if len(calls) == 1:
            raise ConnectionRefusedError("the object store is down")
        return real_get(self, key)

    monkeypatch.setattr(ObjectStore, "get_with_etag", down_once)
    result = run(resources, "2024-01-05", landing_file=KEY)
    assert result.success and len(calls) == 2
    assert [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert warehouse.read_sql("SELECT count(*) AS n FROM raw.payments WHERE source_file = :k", k=KEY)["n"][0] == 3
