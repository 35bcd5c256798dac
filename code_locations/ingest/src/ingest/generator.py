"""A deterministic jaffle-shop generator: same seed, same rows, everywhere.

Uses `random.Random` rather than numpy so the output does not change with a
numpy upgrade.
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

FIRST_NAMES = ["Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace",
               "Hedy", "Ivan", "John", "Katherine", "Leslie", "Margaret", "Niklaus", "Radia"]
LAST_NAMES = ["Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen",
              "Hopper", "Lamarr", "Sutherland", "Backus", "Johnson", "Lamport", "Hamilton"]
ORDER_STATUSES = ["placed", "shipped", "completed", "return_pending", "returned"]
STATUS_WEIGHTS = [5, 10, 75, 4, 6]
PAYMENT_METHODS = ["credit_card", "coupon", "bank_transfer", "gift_card"]
METHOD_WEIGHTS = [55, 10, 25, 10]


@dataclass(frozen=True)
class JaffleShop:
    customers: pd.DataFrame
    orders: pd.DataFrame
    payments: pd.DataFrame


def generate(*, seed: int, n_customers: int, n_orders: int, start: date, days: int) -> JaffleShop:
    rng = random.Random(seed)
    customers = pd.DataFrame(
        {
            "customer_id": range(1, n_customers + 1),
            "first_name": [rng.choice(FIRST_NAMES) for _ in range(n_customers)],
            "last_name": [rng.choice(LAST_NAMES) for _ in range(n_customers)],
        }
    )
    order_rows, payment_rows = [], []
    payment_id = 0
    for order_id in range(1, n_orders + 1):
        order_date = start + timedelta(days=rng.randrange(days))
        status = rng.choices(ORDER_STATUSES, STATUS_WEIGHTS)[0]
        order_rows.append((order_id, rng.randint(1, n_customers), order_date, status))
        # Most orders are paid at once; some are split across two methods.
        for _ in range(1 if rng.random() < 0.85 else 2):
            payment_id += 1
            method = rng.choices(PAYMENT_METHODS, METHOD_WEIGHTS)[0]
            payment_rows.append((payment_id, order_id, method, rng.randint(100, 3000)))
    orders = pd.DataFrame(order_rows, columns=["order_id", "customer_id", "order_date", "status"])
    orders["order_date"] = pd.to_datetime(orders["order_date"])
    payments = pd.DataFrame(payment_rows, columns=["payment_id", "order_id", "payment_method", "amount_cents"])
    return JaffleShop(customers=customers, orders=orders, payments=payments)
