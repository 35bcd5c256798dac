"""Landing files: CSV batches of paid orders dropped into the landing bucket.

Layout: `landing/orders/<YYYY-MM-DD>/<any name>.csv`, one row per payment. A file
is accepted only if every value lands in the warehouse exactly as the file
writes it; anything else is rejected with the file, the physical line (a quoted
value may span lines) and the column. The rules, also in the README:

- UTF-8, with an optional byte-order mark; no NUL byte (Postgres text cannot
  hold one) and no invalid UTF-8 anywhere.
- A header naming each of COLUMNS exactly once, in any order; any other column
  is rejected (no column is ever dropped silently). At least one row; no blank
  lines; every row has as many fields as the header.
- Ids (`order_id`, `payment_id`) are canonical decimal integers (no sign, no
  leading zero, no exponent, no `.0`, no spaces) from 1 to
  LANDED_ID_MAX: the generator's ids start above it, so the two never collide.
  `customer_id` is such an integer naming a stored customer; `amount_cents` is
  one from 0 to AMOUNT_CENTS_MAX, so that sums over millions of payments stay
  within Postgres' bigint.
- `order_date` is `YYYY-MM-DD`, the file's own day; `status` and
  `payment_method` are one of the values transform's tests accept.
- Within a file, payment ids are unique and every line of an order agrees on
  its customer, date and status. Against the warehouse (ingest.load): ids
  are not already stored from another file, and customers exist.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from ingest.generator import GENERATED_ID_MIN, ORDER_STATUSES, PAYMENT_METHODS

if TYPE_CHECKING:  # pandas loads when a step needs it, not with the definitions (docs/performance.md)
    import pandas as pd

PREFIX = "landing/orders/"
KEY_PATTERN = re.compile(r"^landing/orders/(\d{4}-\d{2}-\d{2})/[^/]+\.csv$")
COLUMNS = ["order_id", "customer_id", "order_date", "status", "payment_id", "payment_method", "amount_cents"]
ORDER_FIELDS = ["order_id", "customer_id", "order_date", "status"]
PAYMENT_FIELDS = ["payment_id", "order_id", "payment_method", "amount_cents", "order_date"]
LANDED_ID_MAX = GENERATED_ID_MIN - 1
AMOUNT_CENTS_MAX = 10_000_000_000
BIGINT_MAX = 2**63 - 1
INTEGER_RANGES = {
    "order_id": (1, LANDED_ID_MAX),
    "payment_id": (1, LANDED_ID_MAX),
    "customer_id": (1, BIGINT_MAX),
    "amount_cents": (0, AMOUNT_CENTS_MAX),
}
ALLOWED = {"status": ORDER_STATUSES, "payment_method": PAYMENT_METHODS}
MAX_REPORTED = 10  # problems listed in one error message
BOM = "\ufeff"

_CANONICAL_INT = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_UNSTORABLE = re.compile("[\x00\udc80-\udcff]")  # NUL, and bytes that were not UTF-8 (surrogateescape)


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
    line: int  # 1-based physical line in the file; the header is line 1
    column: str

    def __str__(self) -> str:
        return f"{self.key} line {self.line}, column {self.column}"


class _Problems:
    def __init__(self, key: str):
        self.key = key
        self.found: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        self.found.append((line, message))

    def raise_if_any(self) -> None:
        if not self.found:
            return
        ordered = [m for _, m in sorted(self.found, key=lambda f: f[0])]
        more = len(ordered) - MAX_REPORTED
        text = "; ".join(ordered[:MAX_REPORTED]) + (f"; and {more} more" if more > 0 else "")
        raise LandingFileError(text if len(ordered) == 1 else f"{len(ordered)} problems: {text}")


def _describe_unstorable(value: str) -> str:
    bad = _UNSTORABLE.search(value)
    assert bad is not None
    char = bad.group(0)
    where = f"character {bad.start() + 1} of the value"
    if char == "\x00":
        return f"a NUL byte ({where}), which Postgres text cannot store"
    return f"invalid UTF-8 byte 0x{ord(char) - 0xDC00:02x} ({where})"


def _records(key: str, text: str, problems: _Problems):
    """(first physical line, fields) per record; stops at a CSV syntax error."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    last = 0
    try:
        for fields in reader:
            yield last + 1, fields
            last = reader.line_num
    except csv.Error as exc:
        problems.add(reader.line_num, f"{key} line {reader.line_num}: not valid CSV: {exc}")


def parse(key: str, data: bytes, day: date) -> pd.DataFrame:
    """Validate and type one landing file. Raises LandingFileError naming the bad cells."""
    import pandas as pd

    problems = _Problems(key)
    text = data.decode("utf-8", errors="surrogateescape")
    text = text.removeprefix(BOM)
    if not text.strip():
        raise LandingFileError(f"{key}: the file is empty (expected a header line: {','.join(COLUMNS)})")
    records = _records(key, text, problems)
    header_line, header = next(records, (1, None))
    if header is None:  # the header itself is not valid CSV
        problems.raise_if_any()
    _check_header(key, header, problems)
    problems.raise_if_any()
    position = {name: i for i, name in enumerate(header)}
    values: dict[str, list] = {c: [] for c in COLUMNS}
    lines: dict[str, list[int]] = {c: [] for c in COLUMNS}
    first_lines: list[int] = []
    for first_line, fields in records:
        if not fields:
            problems.add(first_line, f"{key} line {first_line}: blank line (every line after the header is a row)")
            continue
        if len(fields) != len(header):
            problems.add(first_line, f"{key} line {first_line}: {len(fields)} fields, the header has {len(header)}")
            continue
        # The physical line of each field: the record's first line plus the line breaks before it.
        field_lines, line = [], first_line
        for field in fields:
            field_lines.append(line)
            line += len(_LINE_BREAK.findall(field))
        for column in COLUMNS:
            i = position[column]
            value = _cell(Cell(key, field_lines[i], column), fields[i], day, problems)
            values[column].append(value)
            lines[column].append(field_lines[i])
        first_lines.append(first_line)
    if not first_lines and not problems.found:
        problems.add(header_line, f"{key}: the file has a header but no rows")
    problems.raise_if_any()

    frame = pd.DataFrame({c: values[c] for c in COLUMNS})
    for column in INTEGER_RANGES:
        frame[column] = frame[column].astype("int64")
    frame["order_date"] = pd.to_datetime(frame["order_date"]).astype("datetime64[ns]")
    frame["source_file"] = key
    frame["source_line"] = pd.Series(first_lines, dtype="int64")
    _check_within_file(key, frame, lines, problems)
    problems.raise_if_any()
    return frame


def _check_header(key: str, header: list[str], problems: _Problems) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        if _UNSTORABLE.search(name):
            problems.add(1, f"{key} line 1, header field {i}: {_describe_unstorable(name)}")
        elif name in seen:
            problems.add(1, f"{key} line 1: column {name} appears twice (header fields {seen[name]} and {i})")
        elif name not in COLUMNS:
            problems.add(1, f"{key} line 1: unexpected column {name!r} in header field {i} "
                            f"(expected exactly {', '.join(COLUMNS)}; extra columns are rejected, never dropped)")
        seen.setdefault(name, i)
    missing = [c for c in COLUMNS if c not in seen]
    if missing:
        problems.add(1, f"{key} line 1: missing column(s) {', '.join(missing)} (expected {', '.join(COLUMNS)})")


def _cell(cell: Cell, value: str, day: date, problems: _Problems) -> object:
    """The typed value of one field, or None after recording why it is rejected."""
    if _UNSTORABLE.search(value):
        problems.add(cell.line, f"{cell}: {_describe_unstorable(value)}")
        return None
    column = cell.column
    if column in INTEGER_RANGES:
        if not _CANONICAL_INT.match(value):
            problems.add(cell.line, f"{cell}: {value!r} is not an integer written in plain digits "
                                    "(no sign, spaces, leading zeros, decimals or exponent)")
            return None
        number, (low, high) = int(value), INTEGER_RANGES[column]
        if not low <= number <= high:
            problems.add(cell.line, f"{cell}: {value} is outside {low}..{high}")
            return None
        return number
    if column == "order_date":
        try:
            parsed = date.fromisoformat(value) if _ISO_DAY.match(value) else None
        except ValueError:
            parsed = None
        if parsed is None:
            problems.add(cell.line, f"{cell}: {value!r} is not a YYYY-MM-DD date")
        elif parsed != day:
            problems.add(cell.line, f"{cell}: {value} is not the file's day {day.isoformat()}")
        return value
    if value not in ALLOWED[column]:
        shown = "value is empty" if value == "" else f"{value!r} is not one of {', '.join(ALLOWED[column])}"
        problems.add(cell.line, f"{cell}: {shown}")
    return value


def _check_within_file(key: str, frame: pd.DataFrame, lines: dict[str, list[int]], problems: _Problems) -> None:
    """Payment ids are unique in the file; an order's lines agree on its customer, date and status."""
    dupes = frame[frame.duplicated("payment_id", keep=False)]
    for payment_id, group in dupes.groupby("payment_id", sort=False):
        first, *others = group.index
        for i in others:
            line = lines["payment_id"][i]
            problems.add(line, f"{Cell(key, line, 'payment_id')}: duplicate id {payment_id} "
                               f"(first seen in {key} line {lines['payment_id'][first]})")
    for column in ("customer_id", "order_date", "status"):
        firsts = frame.groupby("order_id")[column].transform("first")
        for i in frame.index[frame[column] != firsts]:
            line = lines[column][i]
            problems.add(line, f"{Cell(key, line, column)}: order {frame.at[i, 'order_id']} has conflicting "
                               f"{column} values ({frame.at[i, column]} here, {firsts[i]} on its first line)")


def orders_of(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per landed order (its first line), with `source_file`."""
    return rows.drop_duplicates("order_id")[[*ORDER_FIELDS, "source_file"]].reset_index(drop=True)


def payments_of(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[[*PAYMENT_FIELDS, "source_file"]].reset_index(drop=True)
