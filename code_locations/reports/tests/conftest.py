import pandas as pd
import pytest
from platform_common import ObjectStore, Warehouse
from platform_common.warehouse import insert_rows, write_table

# Seven orders over three months. Revenue excludes `returned` (orders 2 and 7).
MARTS_ORDERS = pd.DataFrame(
    {
        "order_id": [1, 2, 3, 4, 5, 6, 7],
        "customer_id": [1, 2, 1, 3, 2, 5, 1],
        "order_date": pd.to_datetime(
            [
                "2024-01-01 10:00",
                "2024-01-01 12:00",
                "2024-01-02 00:00",
                "2024-01-31 23:30",
                "2024-02-01 00:00",
                "2024-02-15 00:00",
                "2024-03-10 00:00",
            ]
        ),
        "status": ["completed", "returned", "shipped", "completed", "placed", "return_pending", "returned"],
        "credit_card_amount_cents": [1000, 500, 0, 200, 700, 0, 900],
        "coupon_amount_cents": [0, 0, 300, 0, 0, 0, 0],
        "bank_transfer_amount_cents": [0, 0, 0, 0, 0, 400, 0],
        "gift_card_amount_cents": [0, 0, 0, 0, 0, 0, 0],
        "amount_cents": [1000, 500, 300, 200, 700, 400, 900],
    }
)

MARTS_CUSTOMERS = pd.DataFrame(
    {
        "customer_id": [1, 2, 3, 4, 5],
        "first_name": ["Ann", "Bo", "Cy", "Di", "Ed"],
        "last_name": ["A.", "B.", "C.", "D.", "E."],
        "first_order": pd.to_datetime(
            ["2024-01-01 10:00", "2024-01-01 12:00", "2024-01-31 23:30", None, "2024-02-15 00:00"]
        ),
        "most_recent_order": pd.to_datetime(
            ["2024-03-10 00:00", "2024-02-01 00:00", "2024-01-31 23:30", None, "2024-02-15 00:00"]
        ),
        "number_of_orders": [3, 2, 1, 0, 1],
        "lifetime_value_cents": [2200, 1200, 200, 0, 400],
    }
)


@pytest.fixture(autouse=True)
def local_environment(tmp_path, monkeypatch):
    """Every test runs against its own DuckDB warehouse, as `make dev` does."""
    monkeypatch.setenv("DAGSTER_PLATFORM_ENV", "local")
    monkeypatch.setenv("DAGSTER_PLATFORM_LOCAL_DIR", str(tmp_path))
    return tmp_path


def seed(warehouse: Warehouse, schema: str, table: str, df: pd.DataFrame) -> None:
    with warehouse.begin() as conn:
        write_table(conn, df, schema, table, replace=True)
        insert_rows(conn, df, schema, table)


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    """The file definitions.py uses in the local environment, seeded with small marts."""
    wh = Warehouse(backend="duckdb", duckdb_path=str(tmp_path / "warehouse.duckdb"))
    seed(wh, "marts", "orders", MARTS_ORDERS)
    seed(wh, "marts", "customers", MARTS_CUSTOMERS)
    return wh


@pytest.fixture
def object_store(tmp_path) -> ObjectStore:
    return ObjectStore(backend="local", bucket="dagster-data", local_dir=str(tmp_path / "objects"))


