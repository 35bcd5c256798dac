import dagster as dg
import pandas as pd
import pytest
from platform_common import Warehouse, WarehouseIOManager
from platform_common.warehouse import insert_rows, write_table

from transform.definitions import defs
from transform.defs.assets import customers, orders, upstream
from transform.defs.checks import payments_reconcile

RAW = {
    "customers": pd.DataFrame({"customer_id": [1, 2, 3], "first_name": ["Ada", "Alan", "Grace"],
                               "last_name": ["Lovelace", "Turing", "Hopper"]}),
    "orders": pd.DataFrame({"order_id": [10, 11, 12], "customer_id": [1, 1, 2],
                            "order_date": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02"]),
                            "status": ["completed", "returned", "placed"]}),
    "payments": pd.DataFrame({"payment_id": [1, 2, 3, 4], "order_id": [10, 10, 11, 12],
                              "payment_method": ["credit_card", "coupon", "gift_card", "bank_transfer"],
                              "amount_cents": [1000, 250, 700, 1200]}),
}


@pytest.fixture
def warehouse(tmp_path):
    wh = Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "wh.duckdb"))
    with wh.begin() as conn:
        for table, df in RAW.items():
            write_table(conn, df, "raw", table, replace=True)
            insert_rows(conn, df, "raw", table)
    return wh


def build(warehouse, defs_, selection=None):
    return dg.materialize(
        [*upstream, *defs_],
        selection=selection or defs_,
        resources={"io_manager": WarehouseIOManager(warehouse=warehouse), "warehouse": warehouse},
        raise_on_error=False,
    )


def test_definitions_load():
    loaded = defs()
    keys = {k.to_user_string() for k in loaded.resolve_all_asset_keys()}
    assert {"marts/orders", "marts/customers"} <= keys
    assert loaded.resolve_job_def("transform_job")


def test_marts_values(warehouse):
    result = build(warehouse, [orders, customers, payments_reconcile])
    assert result.success
    o = warehouse.read_sql("SELECT * FROM marts.orders ORDER BY order_id")
    assert o["amount_cents"].tolist() == [1250, 700, 1200]
    assert o["credit_card_amount_cents"].tolist() == [1000, 0, 0]
    assert o["coupon_amount_cents"].tolist() == [250, 0, 0]
    c = warehouse.read_sql("SELECT * FROM marts.customers ORDER BY customer_id")
    assert c["number_of_orders"].tolist() == [2, 1, 0]
    assert c["lifetime_value_cents"].tolist() == [1950, 1200, 0]
    assert str(c["first_order"][0])[:10] == "2024-01-01"
    assert str(c["most_recent_order"][0])[:10] == "2024-01-03"
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["raw_cents"].value == 3150


def test_reconcile_check_fails_on_mismatch(warehouse):
    assert build(warehouse, [orders]).success
    with warehouse.begin() as conn:  # a payment arrives that the mart has not seen
        insert_rows(conn, pd.DataFrame({"payment_id": [5], "order_id": [12], "payment_method": ["coupon"],
                                        "amount_cents": [99]}), "raw", "payments")
    result = build(warehouse, [orders, payments_reconcile], dg.AssetSelection.checks(payments_reconcile))
    [check] = result.get_asset_check_evaluations()
    assert not check.passed
    assert check.metadata["difference"].value == -99
