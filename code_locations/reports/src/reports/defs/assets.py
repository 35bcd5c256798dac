"""Report tables a BI tool can query, built from transform's marts by asset key."""

import dagster as dg
import pandas as pd

OWNERS = ["team:reports"]
MARTS_ORDERS = dg.AssetKey(["marts", "orders"])
# Revenue counts what the shop kept: returned orders are refunded.
REFUNDED_STATUSES = ("returned",)

# Owned and materialized by the transform location; declared here by key so the
# lineage graph joins across locations and inputs load from the warehouse.
upstream = [dg.AssetSpec(MARTS_ORDERS, group_name="marts", owners=["team:transform"]).with_io_manager_key("io_manager")]


@dg.asset(
    key=["reports", "daily_revenue"],
    ins={"orders": dg.AssetIn(MARTS_ORDERS)},
    group_name="reports",
    owners=OWNERS,
    kinds={"pandas", "postgres"},
    code_version="1",
    description="Orders and revenue (cents, refunds excluded) per order date.",
)
def daily_revenue(orders: pd.DataFrame) -> pd.DataFrame:
    kept = orders.assign(revenue_cents=orders["amount_cents"].where(~orders["status"].isin(REFUNDED_STATUSES), 0))
    out = (
        kept.assign(order_date=pd.to_datetime(kept["order_date"]).dt.normalize())
        .groupby("order_date", as_index=False)
        .agg(orders=("order_id", "count"), revenue_cents=("revenue_cents", "sum"))
    )
    return out.astype({"orders": "int64", "revenue_cents": "int64"})
