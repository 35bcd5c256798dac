"""Cleaned and joined marts, built from ingest's raw tables by asset key."""

import dagster as dg
import pandas as pd

from transform.payments import PAYMENT_METHODS

OWNERS = ["team:transform"]
RAW_CUSTOMERS = dg.AssetKey(["raw", "customers"])
RAW_ORDERS = dg.AssetKey(["raw", "orders"])
RAW_PAYMENTS = dg.AssetKey(["raw", "payments"])

# Owned and materialized by the ingest location; declared here by key so the
# lineage graph joins across locations and inputs load from the warehouse.
upstream = [
    dg.AssetSpec(key, group_name="raw", owners=["team:ingest"]).with_io_manager_key("io_manager")
    for key in (RAW_CUSTOMERS, RAW_ORDERS, RAW_PAYMENTS)
]


@dg.asset(
    key=["marts", "orders"],
    ins={"raw_orders": dg.AssetIn(RAW_ORDERS), "raw_payments": dg.AssetIn(RAW_PAYMENTS)},
    group_name="marts",
    owners=OWNERS,
    kinds={"pandas", "postgres"},
    code_version="1",
    description="One row per order with its payment total and the amount paid by each method (cents).",
)
def orders(raw_orders: pd.DataFrame, raw_payments: pd.DataFrame) -> pd.DataFrame:
    by_method = (
        raw_payments.pivot_table(
            index="order_id", columns="payment_method", values="amount_cents", aggfunc="sum", fill_value=0
        )
        .reindex(columns=PAYMENT_METHODS, fill_value=0)
        .add_suffix("_amount_cents")
        .reset_index()
    )
    out = raw_orders.merge(by_method, on="order_id", how="left")
    method_columns = [f"{m}_amount_cents" for m in PAYMENT_METHODS]
    out[method_columns] = out[method_columns].fillna(0).astype("int64")
    out["amount_cents"] = out[method_columns].sum(axis=1)
    return out.sort_values("order_id").reset_index(drop=True)


@dg.asset(
    key=["marts", "customers"],
    ins={"raw_customers": dg.AssetIn(RAW_CUSTOMERS), "orders": dg.AssetIn(["marts", "orders"])},
    group_name="marts",
    owners=OWNERS,
    kinds={"pandas", "postgres"},
    code_version="1",
    description="Customers with first and last order, order count and lifetime value (cents).",
)
def customers(raw_customers: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    stats = orders.groupby("customer_id").agg(
        first_order=("order_date", "min"),
        most_recent_order=("order_date", "max"),
        number_of_orders=("order_id", "count"),
        lifetime_value_cents=("amount_cents", "sum"),
    )
    out = raw_customers.merge(stats, on="customer_id", how="left")
    out["number_of_orders"] = out["number_of_orders"].fillna(0).astype("int64")
    out["lifetime_value_cents"] = out["lifetime_value_cents"].fillna(0).astype("int64")
    return out.sort_values("customer_id").reset_index(drop=True)
