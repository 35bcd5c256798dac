"""The report tables, computed by the warehouse, hold what the pandas code they
replaced computed: checked against that code on data with the awkward cases
(NULLs, statuses nobody declared, returned orders, months without orders)."""

import random

import dagster as dg
import pandas as pd
import pytest
from conftest import MARTS_CUSTOMERS, MARTS_ORDERS, seed
from test_tables import build as build_with_checks

from reports.defs.assets import (
    CUSTOMER_SUMMARY_SCHEMA,
    DAILY_REVENUE_SCHEMA,
    MONTHLY_REVENUE_SCHEMA,
    ORDERS_BY_STATUS_SCHEMA,
    REFUNDED_STATUSES,
    STATUSES,
    customer_summary,
    daily_revenue,
    monthly_revenue,
    orders_by_status,
)

def build(warehouse, assets, **kwargs) -> dg.ExecuteInProcessResult:
    """The tables alone: the awkward marts fail daily_revenue's check by design
    (rows without an order id or a status), which would stop the run."""
    return build_with_checks(warehouse, dg.AssetSelection.assets(*assets).without_checks(), **kwargs)


# ---------------------------------------------------------- the pandas oracle
# The computations as they were in pandas (git history: reports/defs/assets.py
# before the tables moved to SQL), unchanged but for their inputs and guards.


def revenue_cents(orders):
    return orders["amount_cents"].where(~orders["status"].isin(REFUNDED_STATUSES), 0)


def daily_revenue_pandas(orders):
    kept = orders.assign(revenue_cents=revenue_cents(orders))
    out = (
        kept.assign(order_date=pd.to_datetime(kept["order_date"]).dt.normalize())
        .groupby("order_date", as_index=False)
        .agg(orders=("order_id", "count"), revenue_cents=("revenue_cents", "sum"))
    )
    return out.astype({"orders": "int64", "revenue_cents": "int64"})


def orders_by_status_pandas(orders):
    counts = orders.groupby("status").agg(orders=("order_id", "count"), amount_cents=("amount_cents", "sum"))
    order = [*STATUSES, *sorted(set(counts.index) - set(STATUSES))]
    out = counts.reindex(order, fill_value=0).rename_axis("status").reset_index()
    out = out.astype({"orders": "int64", "amount_cents": "int64"})
    out["share_of_orders"] = out["orders"] / out["orders"].sum()
    return out


def customer_summary_pandas(customers, orders):
    returned = (
        orders[orders["status"].isin(REFUNDED_STATUSES)]
        .groupby("customer_id")
        .agg(returned_orders=("order_id", "count"), refunded_cents=("amount_cents", "sum"))
    )
    out = customers.merge(returned, on="customer_id", how="left")
    out[["returned_orders", "refunded_cents"]] = out[["returned_orders", "refunded_cents"]].fillna(0)
    out["net_revenue_cents"] = out["lifetime_value_cents"] - out["refunded_cents"]
    n = out["number_of_orders"]
    out["segment"] = "repeat"
    out.loc[n == 1, "segment"] = "new"
    out.loc[n == 0, "segment"] = "no orders"
    out = out.astype({"number_of_orders": "int64", "returned_orders": "int64",
                      "lifetime_value_cents": "int64", "net_revenue_cents": "int64"})
    out["first_order"] = pd.to_datetime(out["first_order"])
    out["most_recent_order"] = pd.to_datetime(out["most_recent_order"])
    ordered = [c.name for c in CUSTOMER_SUMMARY_SCHEMA.columns]
    return out[ordered].sort_values("customer_id").reset_index(drop=True)


def monthly_revenue_pandas(orders, start, end):
    orders = orders[(orders["order_date"] >= start) & (orders["order_date"] < end)]
    months = pd.date_range(start, end, freq="MS", inclusive="left", name="month")
    kept = orders.assign(
        month=pd.to_datetime(orders["order_date"]).dt.to_period("M").dt.to_timestamp(),
        returned=orders["status"].isin(REFUNDED_STATUSES),
        revenue_cents=revenue_cents(orders),
    )
    out = (
        kept.groupby("month")
        .agg(orders=("order_id", "count"), returned_orders=("returned", "sum"), revenue_cents=("revenue_cents", "sum"))
        .reindex(months, fill_value=0)
        .reset_index()
        .astype({"orders": "int64", "returned_orders": "int64", "revenue_cents": "int64"})
    )
    out["month"] = out["month"].astype("datetime64[ns]")
    return out


# ---------------------------------------------------------- awkward marts

# Statuses the report has never heard of, in an order where byte order and a
# locale's order disagree ("Zeta" < "alpha" < "Ärger" by code point).
ODD_STATUSES = ["lost", "Zeta", "alpha", "Ärger"]


def awkward_marts(n_orders: int = 600, n_customers: int = 60) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = random.Random(20241)
    # Jan, Feb and Apr 2024: March has no orders at all.
    days = [d for d in pd.date_range("2024-01-01", "2024-04-30", freq="D") if d.month != 3]
    rows = []
    for order_id in range(1, n_orders + 1):
        status = rng.choice([*STATUSES, *STATUSES, "returned", None, *ODD_STATUSES])
        at = rng.choice(days) + pd.Timedelta(minutes=rng.randrange(24 * 60))
        rows.append({
            "order_id": order_id if rng.random() > 0.02 else None,  # count(order_id) skips these
            "customer_id": rng.randint(1, n_customers - 5) if rng.random() > 0.03 else None,
            "order_date": at,
            "status": status,
            "amount_cents": rng.randint(0, 5000) if rng.random() > 0.05 else None,
        })
    rows[0]["customer_id"] = n_customers - 4  # the one order of a "new" customer
    orders = pd.DataFrame(rows).astype({"order_id": "Int64", "customer_id": "Int64", "amount_cents": "Int64"})
    kept = orders.dropna(subset=["customer_id"])
    per_customer = kept.groupby("customer_id").agg(
        first_order=("order_date", "min"), most_recent_order=("order_date", "max"),
        number_of_orders=("order_date", "size"), lifetime_value_cents=("amount_cents", "sum"),
    )
    customers = pd.DataFrame({"customer_id": range(1, n_customers + 1)})
    customers["first_name"] = [f"F{i}" for i in customers["customer_id"]]
    customers["last_name"] = [f"L'{i}" for i in customers["customer_id"]]
    customers = customers.merge(per_customer, left_on="customer_id", right_index=True, how="left")
    customers = customers.fillna({"number_of_orders": 0, "lifetime_value_cents": 0}).astype(
        {"number_of_orders": "int64", "lifetime_value_cents": "int64"})
    return orders, customers


@pytest.fixture
def awkward(warehouse):
    orders, customers = awkward_marts()
    seed(warehouse, "marts", "orders", orders)
    seed(warehouse, "marts", "customers", customers)
    # The oracle gets what a pandas read of the warehouse gave it.
    return (warehouse.read_sql("SELECT * FROM marts.orders ORDER BY order_id"),
            warehouse.read_sql("SELECT * FROM marts.customers ORDER BY customer_id"))


def report(warehouse, table: str, order_by: str | None = None) -> pd.DataFrame:
    return warehouse.read_sql(f"SELECT * FROM reports.{table}" + (f" ORDER BY {order_by}" if order_by else ""))


def same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(actual.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False, check_exact=True)


def test_the_awkward_marts_have_the_awkward_cases(awkward):
    orders, customers = awkward
    assert orders["status"].isna().any() and orders["amount_cents"].isna().any() and orders["order_id"].isna().any()
    assert set(ODD_STATUSES) <= set(orders["status"].dropna())
    assert (customers["number_of_orders"] == 0).any() and (customers["number_of_orders"] == 1).any()
    assert not (pd.to_datetime(orders["order_date"]).dt.month == 3).any()


def test_daily_revenue_is_what_pandas_computed(warehouse, awkward):
    orders, _ = awkward
    assert build(warehouse, [daily_revenue]).success
    same(report(warehouse, "daily_revenue", "order_date"), daily_revenue_pandas(orders))


def test_orders_by_status_is_what_pandas_computed_in_the_same_row_order(warehouse, awkward):
    orders, _ = awkward
    assert build(warehouse, [orders_by_status]).success
    actual = report(warehouse, "orders_by_status")  # as stored: the chart draws them in this order
    same(actual, orders_by_status_pandas(orders))
    assert actual["status"].tolist()[len(STATUSES):] == ["Zeta", "alpha", "lost", "Ärger"]


def test_customer_summary_is_what_pandas_computed(warehouse, awkward):
    orders, customers = awkward
    assert build(warehouse, [customer_summary]).success
    actual = report(warehouse, "customer_summary")
    same(actual, customer_summary_pandas(customers, orders))
    assert actual["customer_id"].is_monotonic_increasing


def test_monthly_revenue_over_a_range_is_what_pandas_computed_with_a_row_for_the_empty_month(warehouse, awkward):
    orders, _ = awkward
    assert build(warehouse, [monthly_revenue],
                 tags={"dagster/asset_partition_range_start": "2024-01-01",
                       "dagster/asset_partition_range_end": "2024-05-01"}).success
    actual = report(warehouse, "monthly_revenue", "month")
    expected = monthly_revenue_pandas(orders, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-06-01"))
    same(actual, expected)
    assert actual.set_index("month").loc["2024-03-01"].tolist() == [0, 0, 0]


# How DuckDB and Postgres name the declared types in information_schema.
WAREHOUSE_TYPES = {
    "TEXT": {"VARCHAR", "TEXT"},
    "DOUBLE": {"DOUBLE", "DOUBLE PRECISION"},
    "TIMESTAMP": {"TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE"},
}


def test_tables_have_the_declared_column_types(warehouse):
    """share_of_orders is a DOUBLE, not the 4-byte FLOAT pandas' writer made of it in DuckDB."""
    assert build(warehouse, [daily_revenue, orders_by_status, customer_summary]).success
    assert build(warehouse, [monthly_revenue], partition_key="2024-01-01").success
    for table, schema in [("daily_revenue", DAILY_REVENUE_SCHEMA), ("orders_by_status", ORDERS_BY_STATUS_SCHEMA),
                          ("customer_summary", CUSTOMER_SUMMARY_SCHEMA), ("monthly_revenue", MONTHLY_REVENUE_SCHEMA)]:
        found = warehouse.read_sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = 'reports' AND table_name = '{table}' ORDER BY ordinal_position")
        declared = [(c.name, c.type) for c in schema.columns]
        assert [n for n, _ in declared] == found["column_name"].tolist(), table
        for (name, kind), actual in zip(declared, found["data_type"], strict=True):
            assert actual.upper() in WAREHOUSE_TYPES.get(kind, {kind}), (table, name, actual)


def test_share_of_orders_keeps_full_precision(warehouse):
    assert build(warehouse, [orders_by_status]).success
    shares = report(warehouse, "orders_by_status").set_index("status")["share_of_orders"]
    assert shares["completed"] == 2 / 7  # exactly: a float32 column would give 0.2857142984867096


def test_rows_without_a_status_or_a_date_are_left_out_as_pandas_left_them(warehouse):
    orders = MARTS_ORDERS.assign(
        status=[None, *MARTS_ORDERS["status"][1:]],
        order_date=[MARTS_ORDERS["order_date"][0], None, *MARTS_ORDERS["order_date"][2:]],
    )
    seed(warehouse, "marts", "orders", orders)
    assert build(warehouse, [daily_revenue, orders_by_status]).success
    by_status = report(warehouse, "orders_by_status").set_index("status")
    assert by_status["orders"].sum() == 6  # order 1 has no status
    daily = report(warehouse, "daily_revenue", "order_date")
    assert daily["orders"].sum() == 6  # order 2 has no date
    # Order 1 (no status) is not returned: its 1000 cents count as revenue.
    assert daily["revenue_cents"].tolist()[0] == 1000


def test_customer_summary_of_the_sample_marts_is_unchanged(warehouse):
    assert build(warehouse, [customer_summary]).success
    same(report(warehouse, "customer_summary"), customer_summary_pandas(MARTS_CUSTOMERS, MARTS_ORDERS))
