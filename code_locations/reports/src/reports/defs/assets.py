"""Report tables a BI tool can query, built from transform's marts by asset key.

Each table lands in the warehouse schema `reports` through the WarehouseIOManager,
which replaces it in one transaction (a partition of `monthly_revenue` replaces
only its month). A guard that raises here leaves the previous table in place.
"""

from typing import TYPE_CHECKING

import dagster as dg
from platform_common import DataFrame, Warehouse

if TYPE_CHECKING:  # pandas loads when a step needs it, not with the definitions (docs/performance.md)
    import pandas as pd

OWNERS = ["team:reports"]
TABLE_KINDS = {"pandas", "postgres"}
MARTS_ORDERS = dg.AssetKey(["marts", "orders"])
MARTS_CUSTOMERS = dg.AssetKey(["marts", "customers"])

STATUSES = ("placed", "shipped", "completed", "return_pending", "returned")
# Revenue counts what the shop kept: returned orders are refunded.
REFUNDED_STATUSES = ("returned",)
ORDER_COLUMNS = ("order_id", "customer_id", "order_date", "status", "amount_cents")
CUSTOMER_COLUMNS = (
    "customer_id",
    "first_name",
    "last_name",
    "first_order",
    "most_recent_order",
    "number_of_orders",
    "lifetime_value_cents",
)

# UTC like ingest's daily partitions. end_offset=1 adds the month in progress, so
# month-to-date revenue is reported and re-running that month refreshes it.
MONTHLY = dg.MonthlyPartitionsDefinition(start_date="2024-01-01", timezone="UTC", end_offset=1)

# Owned and materialized by the transform location; declared here by key so the
# lineage graph joins across locations and inputs load from the warehouse.
upstream = [
    dg.AssetSpec(key, group_name="marts", owners=["team:transform"]).with_io_manager_key("io_manager")
    for key in (MARTS_ORDERS, MARTS_CUSTOMERS)
]


def columns(*spec: tuple[str, str, str]) -> dg.TableSchema:
    """The declared shape of a report table: (name, SQL type, description) per column."""
    return dg.TableSchema(columns=[dg.TableColumn(name, type, description) for name, type, description in spec])


def require_rows(df: DataFrame, table: str, needed: tuple[str, ...]) -> DataFrame:
    """Fail before anything is written, so the BI tool keeps the last good report."""
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise dg.Failure(
            description=f"{table} is missing column(s) {', '.join(missing)}; the reports need {', '.join(needed)}",
            metadata={"columns_found": dg.MetadataValue.json([str(c) for c in df.columns])},
        )
    if df.empty:
        raise no_rows(table)
    return df


def no_rows(table: str) -> dg.Failure:
    return dg.Failure(f"{table} has no rows: has transform_job run? The report tables keep their previous contents.")


def revenue_cents(orders: DataFrame) -> "pd.Series":
    return orders["amount_cents"].where(~orders["status"].isin(REFUNDED_STATUSES), 0)


DAILY_REVENUE_SCHEMA = columns(
    ("order_date", "TIMESTAMP", "the day orders were placed (midnight)"),
    ("orders", "BIGINT", "orders placed that day, returned ones included"),
    ("revenue_cents", "BIGINT", "amount paid for that day's orders, returned orders excluded"),
)


@dg.asset(
    key=["reports", "daily_revenue"],
    ins={"orders": dg.AssetIn(MARTS_ORDERS)},
    group_name="reports",
    owners=OWNERS,
    kinds=TABLE_KINDS,
    code_version="1",
    metadata={"dagster/column_schema": DAILY_REVENUE_SCHEMA},
    description="Orders and revenue (cents, refunds excluded) per order date.",
)
def daily_revenue(orders: DataFrame) -> DataFrame:
    import pandas as pd

    orders = require_rows(orders, "marts.orders", ORDER_COLUMNS)
    kept = orders.assign(revenue_cents=revenue_cents(orders))
    out = (
        kept.assign(order_date=pd.to_datetime(kept["order_date"]).dt.normalize())
        .groupby("order_date", as_index=False)
        .agg(orders=("order_id", "count"), revenue_cents=("revenue_cents", "sum"))
    )
    return out.astype({"orders": "int64", "revenue_cents": "int64"})


ORDERS_BY_STATUS_SCHEMA = columns(
    ("status", "TEXT", "placed, shipped, completed, return_pending or returned"),
    ("orders", "BIGINT", "orders currently in this status"),
    ("amount_cents", "BIGINT", "amount paid for those orders"),
    ("share_of_orders", "DOUBLE", "orders / all orders, 0..1"),
)


@dg.asset(
    key=["reports", "orders_by_status"],
    ins={"orders": dg.AssetIn(MARTS_ORDERS)},
    group_name="reports",
    owners=OWNERS,
    kinds=TABLE_KINDS,
    code_version="1",
    metadata={"dagster/column_schema": ORDERS_BY_STATUS_SCHEMA},
    description=(
        "Order count and amount per order status. Every known status has a row (zero when "
        "no order has it); a status transform adds later appears after them."
    ),
)
def orders_by_status(orders: DataFrame) -> DataFrame:
    orders = require_rows(orders, "marts.orders", ORDER_COLUMNS)
    counts = orders.groupby("status").agg(orders=("order_id", "count"), amount_cents=("amount_cents", "sum"))
    order = [*STATUSES, *sorted(set(counts.index) - set(STATUSES))]
    out = counts.reindex(order, fill_value=0).rename_axis("status").reset_index()
    out = out.astype({"orders": "int64", "amount_cents": "int64"})
    out["share_of_orders"] = out["orders"] / out["orders"].sum()
    return out


CUSTOMER_SUMMARY_SCHEMA = columns(
    ("customer_id", "BIGINT", "the customer"),
    ("first_name", "TEXT", "as in marts.customers"),
    ("last_name", "TEXT", "as in marts.customers"),
    ("segment", "TEXT", "no orders, new (one order) or repeat (two or more)"),
    ("number_of_orders", "BIGINT", "orders placed, returned ones included"),
    ("returned_orders", "BIGINT", "orders in status returned"),
    ("lifetime_value_cents", "BIGINT", "amount paid over all orders, as in marts.customers"),
    ("net_revenue_cents", "BIGINT", "lifetime value minus returned orders"),
    ("first_order", "TIMESTAMP", "empty for customers without orders"),
    ("most_recent_order", "TIMESTAMP", "empty for customers without orders"),
)


@dg.asset(
    key=["reports", "customer_summary"],
    ins={"customers": dg.AssetIn(MARTS_CUSTOMERS), "orders": dg.AssetIn(MARTS_ORDERS)},
    group_name="reports",
    owners=OWNERS,
    kinds=TABLE_KINDS,
    code_version="1",
    metadata={"dagster/column_schema": CUSTOMER_SUMMARY_SCHEMA},
    description="One row per customer: segment, orders, returns, lifetime value and net revenue (cents).",
)
def customer_summary(customers: DataFrame, orders: DataFrame) -> DataFrame:
    import pandas as pd

    customers = require_rows(customers, "marts.customers", CUSTOMER_COLUMNS)
    orders = require_rows(orders, "marts.orders", ORDER_COLUMNS)
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
    out = out.astype(
        {
            "number_of_orders": "int64",
            "returned_orders": "int64",
            "lifetime_value_cents": "int64",
            "net_revenue_cents": "int64",
        }
    )
    out["first_order"] = pd.to_datetime(out["first_order"])
    out["most_recent_order"] = pd.to_datetime(out["most_recent_order"])
    ordered = [c.name for c in CUSTOMER_SUMMARY_SCHEMA.columns]
    return out[ordered].sort_values("customer_id").reset_index(drop=True)


MONTHLY_REVENUE_SCHEMA = columns(
    ("month", "TIMESTAMP", "first day of the month (UTC); the partition column"),
    ("orders", "BIGINT", "orders placed in the month, returned ones included"),
    ("returned_orders", "BIGINT", "of those, orders in status returned"),
    ("revenue_cents", "BIGINT", "amount paid for the month's orders, returned orders excluded"),
)


@dg.asset(
    key=["reports", "monthly_revenue"],
    deps=[MARTS_ORDERS],
    partitions_def=MONTHLY,
    # A range of months (a backfill, or the sensor's run after each transform) runs
    # as one step, so the IO manager replaces all those months in one transaction.
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="reports",
    owners=OWNERS,
    kinds=TABLE_KINDS,
    code_version="1",
    metadata={"partition_expr": "month", "dagster/column_schema": MONTHLY_REVENUE_SCHEMA},
    description=(
        "Orders and revenue (cents, refunds excluded) per calendar month, one partition per "
        "month. Reads only its months' rows of marts.orders; a month without orders has a row of zeros."
    ),
)
def monthly_revenue(context: dg.AssetExecutionContext, warehouse: Warehouse) -> DataFrame:
    import pandas as pd

    if not (context.has_partition_key or context.has_partition_key_range):
        raise dg.Failure(
            "reports/monthly_revenue is partitioned by month: launch it (or reports_job) for a month "
            "or a range of months. The reports_after_transform sensor launches every month."
        )
    window = context.partition_time_window
    start, end = window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
    orders = warehouse.read_sql(
        "SELECT order_id, order_date, status, amount_cents FROM marts.orders"
        " WHERE order_date >= :start AND order_date < :end",
        start=start,
        end=end,
    )
    # An empty month is normal; an empty marts.orders is a broken upstream.
    if orders.empty and warehouse.read_sql("SELECT count(*) AS n FROM marts.orders")["n"].iloc[0] == 0:
        raise no_rows("marts.orders")
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
    context.add_output_metadata({"months": len(out), "revenue_cents": int(out["revenue_cents"].sum())})
    return out


tables = [daily_revenue, orders_by_status, customer_summary, monthly_revenue]
