"""A deterministic jaffle-shop generator: same seed and day, same rows, everywhere.

Every value is a pure function of (seed, day, order number, field), computed
with splitmix64 over numpy uint64 arrays: the arithmetic is fixed by the
algorithm, not by a library's random stream, so a numpy or Python upgrade
cannot change the rows, and a day is generated without generating the days
before it. Generated ids are derived from the day (`yyyymmdd` * ID_BLOCK + n),
so days never collide with each other, and they are all at least
GENERATED_ID_MIN: landing files use ids below it (ingest.landing).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and pandas load when a step needs them, not with the definitions
    import numpy as np
    import pandas as pd

FIRST_NAMES = ["Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace",
               "Hedy", "Ivan", "John", "Katherine", "Leslie", "Margaret", "Niklaus", "Radia"]
LAST_NAMES = ["Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen",
              "Hopper", "Lamarr", "Sutherland", "Backus", "Johnson", "Lamport", "Hamilton"]
ORDER_STATUSES = ["placed", "shipped", "completed", "return_pending", "returned"]
STATUS_WEIGHTS = [5, 10, 75, 4, 6]  # percent
PAYMENT_METHODS = ["credit_card", "coupon", "bank_transfer", "gift_card"]
METHOD_WEIGHTS = [55, 10, 25, 10]  # percent
SPLIT_PERCENT = 15  # orders paid in two payments
AMOUNT_CENTS = (100, 3000)  # inclusive
ID_BLOCK = 1_000_000  # ids per day: yyyymmdd * ID_BLOCK + n, n from 1 to ID_BLOCK - 1
# The smallest generated order id (yyyymmdd >= 10000101); payment ids are order ids * 10 + split.
GENERATED_ID_MIN = 10_000_101 * ID_BLOCK

ORDER_COLUMNS = ["order_id", "customer_id", "order_date", "status"]
PAYMENT_COLUMNS = ["payment_id", "order_id", "payment_method", "amount_cents", "order_date"]
CUSTOMER_COLUMNS = ["customer_id", "first_name", "last_name"]

# One stream per field, so adding a field never shifts another's values.
_CUSTOMER, _STATUS, _SPLIT, _METHOD, _AMOUNT, _FIRST, _LAST = range(1, 8)
_GOLDEN = 0x9E3779B97F4A7C15


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 (wrapping arithmetic, as in the reference C)."""
    import numpy as np

    x = x + np.uint64(_GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _hash(seed: int, stream: int, key: int, counters: np.ndarray) -> np.ndarray:
    """A uint64 per counter, fixed by (seed, stream, key, counter)."""
    import numpy as np

    with np.errstate(over="ignore"):
        base = _splitmix64(np.array([seed & 0xFFFF_FFFF_FFFF_FFFF], dtype=np.uint64))
        base = _splitmix64(base ^ np.uint64((stream << 40) ^ (key & 0xFF_FFFF_FFFF)))
        return _splitmix64(counters.astype(np.uint64) ^ base)


def _pick(hashes: np.ndarray, weights: list[int]) -> np.ndarray:
    """Index into `weights` (percentages summing to 100) for each hash."""
    import numpy as np

    bounds = np.cumsum(weights)
    assert bounds[-1] == 100, weights
    return np.searchsorted(bounds, (hashes % np.uint64(100)).astype(np.int64), side="right")


def _uniform(hashes: np.ndarray, low: int, high: int) -> np.ndarray:
    """Integers from low to high inclusive (the modulo bias is below 1e-15)."""
    import numpy as np

    return (hashes % np.uint64(high - low + 1)).astype(np.int64) + low


def customers(*, seed: int, n_customers: int, first: int = 1) -> pd.DataFrame:
    """Customers `first` .. `n_customers` (ids are their numbers)."""
    import numpy as np
    import pandas as pd

    ids = np.arange(first, n_customers + 1, dtype=np.int64)
    first_names = np.array(FIRST_NAMES, dtype=object)[_uniform(_hash(seed, _FIRST, 0, ids), 0, len(FIRST_NAMES) - 1)]
    last_names = np.array(LAST_NAMES, dtype=object)[_uniform(_hash(seed, _LAST, 0, ids), 0, len(LAST_NAMES) - 1)]
    return pd.DataFrame({"customer_id": ids, "first_name": first_names, "last_name": last_names})


def customer_chunks(*, seed: int, n_customers: int, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """`customers` in pieces of at most `chunk_rows`, so memory does not grow with n."""
    for first in range(1, n_customers + 1, chunk_rows):
        yield customers(seed=seed, n_customers=min(n_customers, first + chunk_rows - 1), first=first)


def day_key(day: date) -> int:
    return int(day.strftime("%Y%m%d"))


def orders_for_day(*, seed: int, day: date, n_orders: int, n_customers: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(orders, payments) for one day. Most orders are paid at once; some are split."""
    import numpy as np
    import pandas as pd

    if not 0 <= n_orders < ID_BLOCK:
        raise ValueError(f"n_orders must be from 0 to {ID_BLOCK - 1} per day, got {n_orders}")
    key = day_key(day)
    n = np.arange(1, n_orders + 1, dtype=np.int64)
    order_ids = key * ID_BLOCK + n
    midnight = pd.Timestamp(day)
    statuses = np.array(ORDER_STATUSES, dtype=object)[_pick(_hash(seed, _STATUS, key, n), STATUS_WEIGHTS)]
    orders = pd.DataFrame({
        "order_id": order_ids,
        "customer_id": _uniform(_hash(seed, _CUSTOMER, key, n), 1, n_customers),
        "order_date": np.full(n_orders, midnight.to_datetime64(), dtype="datetime64[ns]"),
        "status": statuses,
    })
    split = (_hash(seed, _SPLIT, key, n) % np.uint64(100)) < np.uint64(SPLIT_PERCENT)
    # Payment k of order n is counter n * 2 + k: first payments for every order, second ones for split orders.
    paid = np.concatenate([order_ids, order_ids[split]])
    splits = np.concatenate([np.zeros(n_orders, dtype=np.int64), np.ones(int(split.sum()), dtype=np.int64)])
    counters = (paid - key * ID_BLOCK) * 2 + splits
    order = np.argsort(paid * 10 + splits, kind="stable")
    paid, splits, counters = paid[order], splits[order], counters[order]
    methods = np.array(PAYMENT_METHODS, dtype=object)[_pick(_hash(seed, _METHOD, key, counters), METHOD_WEIGHTS)]
    payments = pd.DataFrame({
        "payment_id": paid * 10 + splits,
        "order_id": paid,
        "payment_method": methods,
        "amount_cents": _uniform(_hash(seed, _AMOUNT, key, counters), *AMOUNT_CENTS),
        "order_date": np.full(len(paid), midnight.to_datetime64(), dtype="datetime64[ns]"),
    })
    return orders, payments


@dataclass(frozen=True)
class Chunk:
    days: tuple[date, ...]
    orders: pd.DataFrame
    payments: pd.DataFrame


def chunks(
    *, seed: int, first: date, last: date, orders_per_day: int, n_customers: int, chunk_orders: int = 500_000
) -> Iterator[Chunk]:
    """The days first..last, a few whole days at a time (about `chunk_orders` orders
    per chunk), so a run over any number of days holds one chunk in memory."""
    import pandas as pd

    days: list[date] = []
    parts: list[tuple[pd.DataFrame, pd.DataFrame]] = []
    day = first
    while day <= last:
        days.append(day)
        parts.append(orders_for_day(seed=seed, day=day, n_orders=orders_per_day, n_customers=n_customers))
        day += timedelta(days=1)
        if len(days) * orders_per_day >= chunk_orders or day > last:
            orders, payments = (pd.concat(frames, ignore_index=True) for frames in zip(*parts, strict=True))
            yield Chunk(tuple(days), orders, payments)
            days, parts = [], []
