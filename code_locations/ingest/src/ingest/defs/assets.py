from datetime import date

import dagster as dg
from pydantic import Field

from ingest.generator import generate

OWNERS = ["team:ingest"]


class JaffleShopConfig(dg.Config):
    """How much jaffle-shop data to generate. The same values give the same rows."""

    seed: int = Field(default=42, description="random seed; same seed, same data")
    n_customers: int = Field(default=100, gt=0, le=10_000_000)
    n_orders: int = Field(default=1_000, gt=0, le=50_000_000)
    start_date: str = Field(default="2024-01-01", pattern=r"^\d{4}-\d{2}-\d{2}$", description="first order date, YYYY-MM-DD")
    days: int = Field(default=30, gt=0, le=3_650, description="order dates span this many days")


@dg.multi_asset(
    outs={
        "customers": dg.AssetOut(
            key=["raw", "customers"],
            description="Customers of the jaffle shop, as generated.",
            owners=OWNERS,
            kinds={"python", "postgres"},
        ),
        "orders": dg.AssetOut(
            key=["raw", "orders"],
            description="One row per order: customer, order date and status.",
            owners=OWNERS,
            kinds={"python", "postgres"},
        ),
        "payments": dg.AssetOut(
            key=["raw", "payments"],
            description="Payments against orders; an order may be split across methods.",
            owners=OWNERS,
            kinds={"python", "postgres"},
        ),
    },
    group_name="raw",
    code_version="1",
)
def raw_jaffle_shop(context: dg.AssetExecutionContext, config: JaffleShopConfig):
    shop = generate(
        seed=config.seed,
        n_customers=config.n_customers,
        n_orders=config.n_orders,
        start=date.fromisoformat(config.start_date),
        days=config.days,
    )
    context.log.info(
        f"generated {len(shop.customers)} customers, {len(shop.orders)} orders, "
        f"{len(shop.payments)} payments (seed {config.seed})"
    )
    yield dg.Output(shop.customers, output_name="customers")
    yield dg.Output(shop.orders, output_name="orders")
    yield dg.Output(shop.payments, output_name="payments")
