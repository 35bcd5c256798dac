"""Small raw tables in ingest's shape, and helpers to load them into a DuckDB warehouse."""

import pandas as pd
from platform_common import Warehouse
from platform_common.warehouse import insert_rows, write_table

CUSTOMERS = pd.DataFrame(
    {"customer_id": [1, 2, 3], "first_name": ["Ada", "Alan", "Grace"], "last_name": ["Lovelace", "Turing", "Hopper"]}
)
ORDERS = pd.DataFrame(
    {
        "order_id": [10, 11, 12],
        "customer_id": [1, 1, 2],
        "order_date": pd.to_datetime(["2024-01-01 09:00", "2024-01-09 12:30", "2024-01-02 18:00"]),
        "status": ["completed", "returned", "placed"],
    }
)
PAYMENTS = pd.DataFrame(
    {
        "payment_id": [1, 2, 3, 4, 5],
        "order_id": [10, 10, 11, 12, 12],
        "payment_method": ["credit_card", "coupon", "gift_card", "bank_transfer", "credit_card"],
        "amount_cents": [1000, 250, 700, 1200, 300],
        "order_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-09", "2024-01-02", "2024-01-02"]),
    }
)
RAW = {"customers": CUSTOMERS, "orders": ORDERS, "payments": PAYMENTS}


def load_raw(warehouse: Warehouse, tables: dict[str, pd.DataFrame], *, replace: bool = True) -> None:
    """Write (or append to) raw.<table>, then let go of the file so dbt can open it."""
    with warehouse.begin() as conn:
        for table, df in tables.items():
            write_table(conn, df, "raw", table, replace=replace)
            insert_rows(conn, df, "raw", table)
    warehouse.engine().dispose()
