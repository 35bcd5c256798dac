"""A deterministic jaffle-shop generator: same seed and day, same rows, everywhere.

Uses `random.Random` rather than numpy so the output does not change with a
numpy upgrade. Generated ids are derived from the day (`yyyymmdd` * 10_000 + n),
so days never collide with each other; landing files use their own ids.
"""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads when a step needs it, not with the definitions (docs/performance.md)
    import pandas as pd

FIRST_NAMES = ["Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace",
               "Hedy", "Ivan", "John", "Katherine", "Leslie", "Margaret", "Niklaus", "Radia"]
LAST_NAMES = ["Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen",
              "Hopper", "Lamarr", "Sutherland", "Backus", "Johnson", "Lamport", "Hamilton"]
ORDER_STATUSES = ["placed", "shipped", "completed", "return_pending", "returned"]
STATUS_WEIGHTS = [5, 10, 75, 4, 6]
PAYMENT_METHODS = ["credit_card", "coupon", "bank_transfer", "gift_card"]
METHOD_WEIGHTS = [55, 10, 25, 10]
ID_BLOCK = 10_000  # ids per day: yyyymmdd * ID_BLOCK + n

ORDER_COLUMNS = ["order_id", "customer_id", "order_date", "status"]
PAYMENT_COLUMNS = ["payment_id", "order_id", "payment_method", "amount_cents", "order_date"]


def customers(*, seed: int, n_customers: int) -> pd.DataFrame:
    import pandas as pd

    rng = random.Random(f"{seed}:customers")
    return pd.DataFrame(
        {
            "customer_id": range(1, n_customers + 1),
            "first_name": [rng.choice(FIRST_NAMES) for _ in range(n_customers)],
            "last_name": [rng.choice(LAST_NAMES) for _ in range(n_customers)],
        }
    )


def orders_for_day(*, seed: int, day: date, n_orders: int, n_customers: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    import pandas as pd

    """(orders, payments) for one day. Most orders are paid at once; some are split."""
    if n_orders >= ID_BLOCK:
        raise ValueError(f"n_orders must be below {ID_BLOCK} per day, got {n_orders}")
    rng = random.Random(f"{seed}:{day.isoformat()}")
    base = int(day.strftime("%Y%m%d")) * ID_BLOCK
    midnight = datetime(day.year, day.month, day.day)
    order_rows, payment_rows = [], []
    for n in range(1, n_orders + 1):
        order_id = base + n
        status = rng.choices(ORDER_STATUSES, STATUS_WEIGHTS)[0]
        order_rows.append((order_id, rng.randint(1, n_customers), midnight, status))
        for split in range(1 if rng.random() < 0.85 else 2):
            method = rng.choices(PAYMENT_METHODS, METHOD_WEIGHTS)[0]
            payment_rows.append((order_id * 10 + split, order_id, method, rng.randint(100, 3000), midnight))
    orders = pd.DataFrame(order_rows, columns=ORDER_COLUMNS)
    payments = pd.DataFrame(payment_rows, columns=PAYMENT_COLUMNS)
    orders["order_date"] = pd.to_datetime(orders["order_date"])
    payments["order_date"] = pd.to_datetime(payments["order_date"])
    return orders, payments
