"""Landing files: CSV batches of paid orders dropped into the object store.

Layout: `landing/orders/<YYYY-MM-DD>/<any name>.csv`, one row per payment:
order_id, customer_id, order_date, status, payment_id, payment_method, amount_cents.
Every problem is reported with the file, the line and the column.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas loads when a step needs it, not with the definitions (docs/performance.md)
    import pandas as pd

PREFIX = "landing/orders/"
KEY_PATTERN = re.compile(r"^landing/orders/(\d{4}-\d{2}-\d{2})/[^/]+\.csv$")
COLUMNS = ["order_id", "customer_id", "order_date", "status", "payment_id", "payment_method", "amount_cents"]
INTEGER_COLUMNS = ["order_id", "customer_id", "payment_id", "amount_cents"]
TEXT_COLUMNS = ["status", "payment_method"]


class LandingFileError(ValueError):
    """A landing file that cannot be ingested; the message names file, line and column."""


def day_of(key: str) -> date | None:
    """The partition day a landing key belongs to, or None if the key is not a landing file."""
    match = KEY_PATTERN.match(key)
    if not match:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


@dataclass(frozen=True)
class Cell:
    key: str
    line: int  # 1-based line in the file; the header is line 1
    column: str

    def __str__(self) -> str:
        return f"{self.key} line {self.line}, column {self.column}"


def parse(key: str, data: bytes, day: date) -> pd.DataFrame:
    """Validate and type one landing file. Raises LandingFileError naming the bad cell."""
    import pandas as pd

    try:
        raw = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise LandingFileError(f"{key}: not a readable CSV file: {exc}") from None
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise LandingFileError(f"{key}: missing column(s) {', '.join(missing)} (expected {', '.join(COLUMNS)})")
    out = pd.DataFrame(index=raw.index)
    for column in INTEGER_COLUMNS:
        values = pd.to_numeric(raw[column].str.strip(), errors="coerce")
        bad = values.isna() | (values % 1 != 0)
        if bad.any():
            i = int(bad.idxmax())
            raise LandingFileError(f"{Cell(key, i + 2, column)}: {raw[column][i]!r} is not an integer")
        out[column] = values.astype("int64")
    for column in TEXT_COLUMNS:
        empty = raw[column].str.strip() == ""
        if empty.any():
            i = int(empty.idxmax())
            raise LandingFileError(f"{Cell(key, i + 2, column)}: value is empty")
        out[column] = raw[column].str.strip()
    dates = pd.to_datetime(raw["order_date"].str.strip(), errors="coerce", format="%Y-%m-%d")
    if dates.isna().any():
        i = int(dates.isna().idxmax())
        raise LandingFileError(f"{Cell(key, i + 2, 'order_date')}: {raw['order_date'][i]!r} is not a YYYY-MM-DD date")
    outside = dates.dt.date != day
    if outside.any():
        i = int(outside.idxmax())
        raise LandingFileError(
            f"{Cell(key, i + 2, 'order_date')}: {raw['order_date'][i]} is not the file's day {day.isoformat()}"
        )
    out["order_date"] = dates
    out["source_file"] = key
    out["source_line"] = (raw.index + 2).astype("int64")
    return out[[*COLUMNS, "source_file", "source_line"]]


def check_unique(rows: pd.DataFrame) -> None:
    """Payment ids are unique across a day's files; an order's fields agree on every line."""
    dupes = rows[rows.duplicated("payment_id", keep=False)].sort_values(["payment_id", "source_file", "source_line"])
    if not dupes.empty:
        first, second = dupes.iloc[0], dupes.iloc[1]
        raise LandingFileError(
            f"{Cell(second.source_file, second.source_line, 'payment_id')}: duplicate id {second.payment_id} "
            f"(first seen in {first.source_file} line {first.source_line})"
        )
    for column in ("customer_id", "status"):
        conflicts = rows.groupby("order_id")[column].nunique()
        if (conflicts > 1).any():
            order_id = conflicts[conflicts > 1].index[0]
            lines = rows[rows.order_id == order_id].iloc[1]
            raise LandingFileError(
                f"{Cell(lines.source_file, lines.source_line, column)}: order {order_id} has conflicting {column} values"
            )


def check_references(rows: pd.DataFrame, day: date, customer_ids: pd.Series, id_block: int) -> None:
    """Every landed order names a stored customer, and uses an id outside the block
    the generator keeps for `day` (yyyymmdd * id_block + 1 .. + id_block - 1)."""
    orders = rows.drop_duplicates("order_id")
    unknown = orders[~orders["customer_id"].isin(customer_ids)]
    if not unknown.empty:
        row = unknown.iloc[0]
        raise LandingFileError(
            f"{Cell(row.source_file, row.source_line, 'customer_id')}: customer {row.customer_id} does not exist "
            f"(raw/customers has {len(customer_ids)} customers)"
        )
    base = int(day.strftime("%Y%m%d")) * id_block
    reserved = orders[orders["order_id"].between(base + 1, base + id_block - 1)]
    if not reserved.empty:
        row = reserved.iloc[0]
        raise LandingFileError(
            f"{Cell(row.source_file, row.source_line, 'order_id')}: id {row.order_id} is reserved for the "
            f"generated orders of {day} ({base + 1}..{base + id_block - 1})"
        )


def empty() -> pd.DataFrame:
    """A day with no landing files: no rows, the same columns and types."""
    import pandas as pd

    types = {c: "int64" for c in INTEGER_COLUMNS} | {c: "object" for c in TEXT_COLUMNS}
    frame = pd.DataFrame({c: pd.Series(dtype=types.get(c, "object")) for c in COLUMNS})
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    frame["source_file"] = pd.Series(dtype="object")
    frame["source_line"] = pd.Series(dtype="int64")
    return frame
