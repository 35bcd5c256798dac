"""Raw jaffle-shop tables: customers, and daily-partitioned orders and payments.

The assets write the warehouse and the archive themselves (ingest.load): rows go
in by COPY, chunk by chunk, inside one transaction per run, so no DataFrame of a
whole table is ever built and no IO manager stores one.
"""

from datetime import date

import dagster as dg
from platform_common import RETRY_POLICY, ObjectStore, Warehouse, permanent_unless_transient
from pydantic import Field

from ingest import generator, landing, load

OWNERS = ["team:ingest"]
# Explicit timezone: a day's partition and the schedule built from it agree on midnight.
DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")
CUSTOMERS = dg.AssetKey(["raw", "customers"])
LANDING = dg.AssetKey(["raw", "landing"])
ORDERS = dg.AssetKey(["raw", "orders"])
PAYMENTS = dg.AssetKey(["raw", "payments"])
BY_ORDER_DATE = {"partition_expr": "order_date"}


class CustomersConfig(dg.Config):
    seed: int = Field(default=42, description="random seed; same seed, same customers")
    n_customers: int = Field(default=100, gt=0, le=10_000_000,
                             description="customers 1..n are upserted; customers above n already stored stay")


@dg.asset(
    key=CUSTOMERS,
    group_name="raw",
    owners=OWNERS,
    kinds={"python", "postgres"},
    code_version="3",
    retry_policy=RETRY_POLICY,
    # Unpartitioned: the policy only lets `dagster job execute --partition-range` take ingest_job whole.
    backfill_policy=dg.BackfillPolicy.single_run(),
    # A dimension never shrinks: customers 1..n_customers are inserted or updated,
    # and every stored customer stays, so stored orders never lose theirs.
    description="Customers of the jaffle shop, from the deterministic generator: upserted, never removed.",
    metadata={"dagster/table_name": "warehouse.raw.customers"},
)
def customers(context: dg.AssetExecutionContext, config: CustomersConfig, warehouse: Warehouse) -> dg.MaterializeResult:
    with permanent_unless_transient("raw/customers"):
        stats = load.upsert_customers(warehouse, seed=config.seed, n_customers=config.n_customers)
    context.log.info(f"raw/customers: {stats}")
    return dg.MaterializeResult(metadata={"dagster/row_count": stats["stored"], **stats})


class DailyOrdersConfig(dg.Config):
    seed: int = Field(default=42, description="random seed; same seed and day, same orders")
    orders_per_day: int = Field(default=40, ge=0, lt=generator.ID_BLOCK)
    n_customers: int = Field(default=100, gt=0, description="generated orders pick customers 1..n_customers")
    landing_file: str | None = Field(
        default=None,
        description="load this one landing file (landing_sensor sets it) instead of the whole day: "
        "its rows replace the file's earlier rows; the generated rows are left alone",
    )
    landing_etag: str | None = Field(default=None, description="the ETag landing_sensor saw for landing_file")


@dg.multi_asset(
    name="orders_and_payments",
    specs=[
        dg.AssetSpec(
            LANDING, deps=[CUSTOMERS], owners=OWNERS, kinds={"csv", "parquet", "s3"},
            description=(
                "Landing files (landing/orders/<day>/*.csv in the landing bucket), validated and "
                "archived one Parquet file per landing file (archive/raw/landing/orders/<day>/). "
                "A bad file fails its run naming file, line and column; nothing is archived or loaded."
            ),
        ),
        dg.AssetSpec(
            ORDERS, deps=[LANDING, CUSTOMERS], owners=OWNERS, kinds={"python", "postgres"}, metadata=BY_ORDER_DATE,
            description="One row per order: customer, order date and status (generated and landed). "
            "Partitioned by order date.",
        ),
        dg.AssetSpec(
            PAYMENTS, deps=[LANDING], owners=OWNERS, kinds={"python", "postgres"}, metadata=BY_ORDER_DATE,
            description="Payments against orders (an order may be split). Partitioned by order date.",
        ),
    ],
    partitions_def=DAILY,
    # A range of days (a backfill from the UI, `dagster job launch` with a range) is one run.
    backfill_policy=dg.BackfillPolicy.single_run(),
    retry_policy=RETRY_POLICY,
    group_name="raw",
    code_version="3",
)
def orders_and_payments(
    context: dg.AssetExecutionContext,
    config: DailyOrdersConfig,
    warehouse: Warehouse,
    object_store: ObjectStore,
    landing_store: ObjectStore,
):
    days = context.partition_key_range
    first, last = date.fromisoformat(days.start), date.fromisoformat(days.end)
    with permanent_unless_transient("orders_and_payments"):
        if config.landing_file:
            stats = _load_one_file(context, config, warehouse, object_store, landing_store, first, last)
        else:
            stats = load.load_days(
                warehouse, object_store, seed=config.seed, first=first, last=last,
                orders_per_day=config.orders_per_day, n_customers=config.n_customers, log=context.log.info,
            )
    span = days.start if first == last else f"{days.start}..{days.end}"
    context.log.info(f"{span}: {stats}")
    generated = {"seed": config.seed, "orders_per_day": config.orders_per_day, "n_customers": config.n_customers}
    yield dg.MaterializeResult(asset_key=LANDING, metadata={
        k: v for k, v in stats.items() if k.startswith("landed") or k == "files"})
    yield dg.MaterializeResult(asset_key=ORDERS, metadata={
        "dagster/table_name": "warehouse.raw.orders", "landed_orders": stats["landed_orders"],
        **({"generated_orders": stats["generated_orders"], "generator": dg.MetadataValue.json(generated)}
           if "generated_orders" in stats else {})})
    yield dg.MaterializeResult(asset_key=PAYMENTS, metadata={
        "dagster/table_name": "warehouse.raw.payments", "landed_payments": stats["landed_payments"],
        **({"generated_payments": stats["generated_payments"]} if "generated_payments" in stats else {})})


def _load_one_file(context, config, warehouse, archive_store, landing_store, first: date, last: date) -> dict:
    key = config.landing_file
    day = landing.day_of(key)
    if day is None or not first == day == last:
        raise dg.Failure(f"landing_file {key!r} is not a landing file of the run's day {first}: "
                         f"expected {landing.PREFIX}{first}/<name>.csv", allow_retries=False)
    data, etag = landing_store.get_with_etag(key)
    if config.landing_etag and etag != config.landing_etag:
        context.log.info(f"{key} changed since the sensor saw it (ETag {config.landing_etag} -> {etag}): "
                         "loading the version there now; the sensor requests a run for it too")
    try:
        stats = load.load_landing_file(warehouse, archive_store, key=key, data=data, etag=etag, day=day)
    except landing.LandingFileError as exc:
        raise dg.Failure(description=str(exc), metadata={"file": key, "etag": etag}, allow_retries=False) from None
    return {**stats, "files": dg.MetadataValue.json([key]), "etag": etag}
