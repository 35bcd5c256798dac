"""Raw jaffle-shop tables: customers, and daily-partitioned orders and payments."""

from datetime import date

import dagster as dg
from platform_common import DataFrame, ObjectStore
from pydantic import Field

from ingest import generator, landing

OWNERS = ["team:ingest"]
# Explicit timezone: a day's partition and the schedule built from it agree on midnight.
DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")
BY_ORDER_DATE = {"partition_expr": "order_date"}


class CustomersConfig(dg.Config):
    seed: int = Field(default=42, description="random seed; same seed, same customers")
    n_customers: int = Field(default=100, gt=0, le=10_000_000)


@dg.asset(
    key=["raw", "customers"],
    group_name="raw",
    owners=OWNERS,
    kinds={"python", "postgres"},
    code_version="2",
    description="Customers of the jaffle shop, from the deterministic generator.",
)
def customers(config: CustomersConfig) -> DataFrame:
    return generator.customers(seed=config.seed, n_customers=config.n_customers)


@dg.asset(
    key=["raw", "landing"],
    ins={"customers": dg.AssetIn(["raw", "customers"])},
    partitions_def=DAILY,
    io_manager_key="parquet_io_manager",
    metadata=BY_ORDER_DATE,
    group_name="raw",
    owners=OWNERS,
    kinds={"csv", "parquet", "s3"},
    code_version="2",
    description=(
        "The day's landing files (landing/orders/<day>/*.csv), validated and archived as one "
        "Parquet file per day. A bad file fails the run and names the file, line and column, "
        "before anything is archived or loaded."
    ),
)
def landing_files(context: dg.AssetExecutionContext, object_store: ObjectStore, customers: DataFrame) -> DataFrame:
    import pandas as pd

    files, per_day = [], []
    try:
        # One day, or a range of days in one run (the IO manager writes one file per day).
        # Every check runs here, before this step's output is archived: a rejected file
        # leaves the archive and the raw tables as they were.
        for partition_key in context.partition_keys:
            day = date.fromisoformat(partition_key)
            day_files = [o for o in object_store.list(f"{landing.PREFIX}{day.isoformat()}/") if landing.day_of(o.key) == day]
            files += day_files
            frames = [landing.parse(o.key, object_store.get_bytes(o.key), day) for o in day_files]
            per_day.append(pd.concat(frames, ignore_index=True) if frames else landing.empty())
            landing.check_unique(per_day[-1])
            landing.check_references(per_day[-1], day, customers["customer_id"], generator.ID_BLOCK)
    except landing.LandingFileError as exc:
        raise dg.Failure(description=str(exc), metadata={"files": [o.key for o in files]}) from None
    rows = pd.concat(per_day, ignore_index=True)
    context.add_output_metadata({"files": dg.MetadataValue.json([o.key for o in files])})
    return rows


class DailyOrdersConfig(dg.Config):
    seed: int = Field(default=42, description="random seed; same seed and day, same orders")
    orders_per_day: int = Field(default=40, ge=0, lt=generator.ID_BLOCK)
    n_customers: int = Field(default=100, gt=0, description="generated orders pick customers 1..n_customers")


@dg.multi_asset(
    outs={
        "orders": dg.AssetOut(
            key=["raw", "orders"],
            metadata=BY_ORDER_DATE,
            owners=OWNERS,
            kinds={"python", "postgres"},
            description="One row per order: customer, order date and status. Partitioned by order date.",
        ),
        "payments": dg.AssetOut(
            key=["raw", "payments"],
            metadata=BY_ORDER_DATE,
            owners=OWNERS,
            kinds={"python", "postgres"},
            description="Payments against orders (an order may be split). Partitioned by order date.",
        ),
    },
    ins={"landed": dg.AssetIn(["raw", "landing"])},
    partitions_def=DAILY,
    group_name="raw",
    code_version="2",
)
def orders_and_payments(context: dg.AssetExecutionContext, config: DailyOrdersConfig, landed: DataFrame):
    import pandas as pd

    # One day, or a range of days in one run (the warehouse IO manager replaces them all).
    generated = [
        generator.orders_for_day(
            seed=config.seed, day=date.fromisoformat(key), n_orders=config.orders_per_day, n_customers=config.n_customers
        )
        for key in context.partition_keys
    ]
    gen_orders, gen_payments = (pd.concat(frames, ignore_index=True) for frames in zip(*generated, strict=True))
    days = context.partition_key_range
    day = days.start if days.start == days.end else f"{days.start}..{days.end}"
    # raw/landing checked the landed orders' customers and ids before archiving them.
    landed_orders = landed.drop_duplicates("order_id")
    orders = pd.concat([gen_orders, landed_orders[generator.ORDER_COLUMNS]], ignore_index=True)
    payments = pd.concat([gen_payments, landed[generator.PAYMENT_COLUMNS]], ignore_index=True)
    context.log.info(f"{day}: {len(orders)} orders ({len(landed_orders)} from landing files), {len(payments)} payments")
    yield dg.Output(orders, output_name="orders")
    yield dg.Output(payments, output_name="payments")
