"""A weekly customer retention matrix, computed with Polars from marts.orders."""

import dagster as dg
import pandas as pd
import polars as pl
from platform_common import Warehouse

from transform.defs.assets import MARTS_ORDERS, OWNERS

COLUMNS = {
    "cohort_week": pl.Datetime("us"),
    "weeks_since_first_order": pl.Int64,
    "cohort_size": pl.Int64,
    "active_customers": pl.Int64,
    "retention": pl.Float64,
}


def retention(orders: pl.DataFrame) -> pl.DataFrame:
    """One row per (cohort week, weeks since first order): how many of the cohort ordered."""
    weekly = orders.select(
        pl.col("customer_id").cast(pl.Int64),
        pl.col("order_date").cast(pl.Datetime("us")).dt.truncate("1w").alias("order_week"),
    )
    cohorts = weekly.group_by("customer_id").agg(pl.col("order_week").min().alias("cohort_week"))
    sizes = cohorts.group_by("cohort_week").agg(pl.len().cast(pl.Int64).alias("cohort_size"))
    return (
        weekly.join(cohorts, on="customer_id")
        .with_columns(
            ((pl.col("order_week") - pl.col("cohort_week")).dt.total_days() // 7)
            .cast(pl.Int64)
            .alias("weeks_since_first_order")
        )
        .group_by("cohort_week", "weeks_since_first_order")
        .agg(pl.col("customer_id").n_unique().cast(pl.Int64).alias("active_customers"))
        .join(sizes, on="cohort_week")
        .with_columns((pl.col("active_customers") / pl.col("cohort_size")).alias("retention"))
        .select(list(COLUMNS))
        .cast(COLUMNS)
        .sort("cohort_week", "weeks_since_first_order")
    )


def matrix_markdown(long: pl.DataFrame) -> str:
    """The wide matrix (a column per week offset), which SQL cannot pivot without knowing the columns."""
    if long.is_empty():
        return "_no orders yet_"
    wide = long.pivot(on="weeks_since_first_order", index="cohort_week", values="retention", sort_columns=True)
    offsets = wide.columns[1:]
    lines = ["| cohort week | " + " | ".join(f"+{o}w" for o in offsets) + " |", "|---" * (len(offsets) + 1) + "|"]
    for row in wide.iter_rows(named=True):
        cells = ["" if row[o] is None else f"{row[o]:.0%}" for o in offsets]
        lines.append(f"| {row['cohort_week']:%Y-%m-%d} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def orders_frame(frame: pd.DataFrame) -> pl.DataFrame:
    """pandas → Polars through NumPy. pl.from_pandas needs pyarrow (left out of the
    images) for anything but plain NumPy columns, and drivers differ: Postgres gives
    object dates or nullable ints where DuckDB gives datetime64 and int64."""
    dates = pd.to_datetime(frame["order_date"])
    if dates.dt.tz is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    return pl.DataFrame({
        "customer_id": pl.Series(frame["customer_id"].to_numpy(dtype="int64")),
        "order_date": pl.Series(dates.to_numpy(dtype="datetime64[us]")),
    })


@dg.asset(
    key=["marts", "customer_cohorts"],
    deps=[MARTS_ORDERS],
    group_name="marts",
    owners=OWNERS,
    kinds={"polars", "postgres"},
    code_version="1",
    description=(
        "Weekly retention: customers grouped by the week of their first order, and the share of "
        "each cohort that ordered again N weeks later."
    ),
)
def customer_cohorts(context: dg.AssetExecutionContext, warehouse: Warehouse) -> pd.DataFrame:
    orders = orders_frame(warehouse.read_sql("SELECT customer_id, order_date FROM marts.orders"))
    long = retention(orders)
    context.add_output_metadata({"retention_matrix": dg.MetadataValue.md(matrix_markdown(long))})
    # Column by column through NumPy: DataFrame.to_pandas() needs pyarrow, which the images leave out.
    return pd.DataFrame({name: long[name].to_numpy() for name in long.columns})
