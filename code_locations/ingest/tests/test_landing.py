"""The landing-file validator: exact rejections, and properties over generated files."""

import csv
import io
import itertools
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from platform_common import ObjectStore, Warehouse
from platform_common.landing_archive import archive_key

from ingest import landing, load
from ingest.landing import COLUMNS, LandingFileError, parse

DAY = date(2024, 1, 5)
KEY = "landing/orders/2024-01-05/f.csv"
HEADER = ",".join(COLUMNS)
ROW = "1,7,2024-01-05,completed,11,credit_card,1000"


def rejected(data: bytes) -> str:
    with pytest.raises(LandingFileError) as info:
        parse(KEY, data, DAY)
    return str(info.value)


@pytest.mark.parametrize(("data", "message"), [
    (b"", f"{KEY}: the file is empty"),
    (b"\xef\xbb\xbf\n", f"{KEY}: the file is empty"),
    (f"{HEADER}\n".encode(), f"{KEY}: the file has a header but no rows"),
    (f"{HEADER},order_id\n{ROW},1\n".encode(), f"{KEY} line 1: column order_id appears twice (header fields 1 and 8)"),
    (f"{HEADER},note\n{ROW},x\n".encode(), f"{KEY} line 1: unexpected column 'note' in header field 8"),
    (f"{HEADER}\n{ROW}\n\n".encode(), f"{KEY} line 3: blank line"),
    (f"{HEADER}\n{ROW},x\n".encode(), f"{KEY} line 2: 8 fields, the header has 7"),
    (f"{HEADER}\n1,7,2024-01-05,completed,11,credit_card,1e3\n".encode(),
     f"{KEY} line 2, column amount_cents: '1e3' is not an integer written in plain digits"),
    (f"{HEADER}\n1,7,2024-01-05,completed,11,credit_card,1000.0\n".encode(), "'1000.0' is not an integer"),
    (f"{HEADER}\n1,7,2024-01-05,completed,11,credit_card,1_000\n".encode(), "'1_000' is not an integer"),
    (f"{HEADER}\n1,007,2024-01-05,completed,11,credit_card,1\n".encode(), "'007' is not an integer"),
    (f"{HEADER}\n1,7,2024-01-05,completed,11,credit_card, 1\n".encode(), "' 1' is not an integer"),
    (f"{HEADER}\n1,9223372036854775808,2024-01-05,completed,11,credit_card,1\n".encode(),
     f"{KEY} line 2, column customer_id: 9223372036854775808 is outside 1..9223372036854775807"),
    (f"{HEADER}\n1,7,2024-01-05,Completed,11,credit_card,1\n".encode(),
     f"{KEY} line 2, column status: 'Completed' is not one of placed, shipped, completed"),
    (f"{HEADER}\n1,7,2024-01-05,completed,11,credit_card,1\n1,8,2024-01-05,completed,12,coupon,1\n".encode(),
     f"{KEY} line 3, column customer_id: order 1 has conflicting customer_id values (8 here, 7 on its first line)"),
    (f"{HEADER}\n1,7,2024-01-05,completed,11,credit_card,1\n2,7,2024-01-05,completed,11,coupon,1\n".encode(),
     f"{KEY} line 3, column payment_id: duplicate id 11 (first seen in {KEY} line 2)"),
    (f"{HEADER}\n1,7,2024-01-06,completed,11,credit_card,1\n".encode(),
     f"{KEY} line 2, column order_date: 2024-01-06 is not the file's day 2024-01-05"),
    (f"{HEADER}\n1,7,2024-02-30,completed,11,credit_card,1\n".encode(), "'2024-02-30' is not a YYYY-MM-DD date"),
    # A quoted value spanning lines: the error names the physical line of the bad value.
    (f'{HEADER}\n1,7,2024-01-05,"comp\nleted",11,credit_card,1\n2,7,2024-01-05,completed,12,coupon,x\n'.encode(),
     f"{KEY} line 4, column amount_cents: 'x' is not an integer"),
    (f'{HEADER}\n1,7,2024-01-05,"comp\nleted",11,credit_card,\n'.encode(),
     f"{KEY} line 3, column amount_cents: '' is not an integer"),
    (f"{HEADER}\n1,7,2024-01-05,compl\x00eted,11,credit_card,1\n".encode(),
     f"{KEY} line 2, column status: a NUL byte (character 6 of the value), which Postgres text cannot store"),
    (HEADER.encode() + b"\n1,7,2024-01-05,completed,11,cr\xe9dit,1\n",
     f"{KEY} line 2, column payment_method: invalid UTF-8 byte 0xe9 (character 3 of the value)"),
    (f'{HEADER}\n1,7,2024-01-05,"completed"x,11,credit_card,1\n'.encode(), f"{KEY} line 2: not valid CSV"),
])
def test_rejects_naming_file_line_and_column(data, message):
    assert message in rejected(data)


def test_several_problems_are_listed_in_line_order():
    message = rejected(f"{HEADER}\n1,7,2024-01-05,completed,11,credit_card,x\n2,7,2024-01-05,nope,12,coupon,1\n".encode())
    assert message.startswith("2 problems: ") and message.index("line 2") < message.index("line 3")


def test_accepts_a_bom_crlf_any_column_order_and_quotes():
    columns = list(reversed(COLUMNS))
    text = "\ufeff" + ",".join(columns) + "\r\n" + '"1000",credit_card,11,completed,2024-01-05,7,1\r\n'
    [row] = parse(KEY, text.encode(), DAY).to_dict("records")
    assert (row["order_id"], row["amount_cents"], row["status"], row["source_line"]) == (1, 1000, "completed", 2)


# --- properties: whatever is accepted lands exactly; whatever is rejected writes nothing ---

INT_TEXT = st.one_of(
    st.integers(1, 60).map(str),
    st.integers(0, 2**64).map(str),
    st.sampled_from(["1e3", "1000.0", "-1", "+1", "007", " 1", "1_0", "", "0", "9223372036854775807",
                     "9223372036854775808", "99999999999999999999", "10000100999999", "10000101000000"]),
)
CELLS = {
    "order_id": st.one_of(st.integers(1, 8).map(str), INT_TEXT),
    "customer_id": st.one_of(st.integers(1, 50).map(str), INT_TEXT),
    "order_date": st.one_of(st.just("2024-01-05"), st.sampled_from(["2024-01-06", "2024-1-5", "05/01/2024", ""])),
    "status": st.one_of(st.sampled_from(landing.ORDER_STATUSES), st.text(max_size=4)),
    "payment_id": st.one_of(st.integers(1, 10_000).map(str), INT_TEXT),
    "payment_method": st.one_of(st.sampled_from(landing.PAYMENT_METHODS), st.text(max_size=4)),
    "amount_cents": INT_TEXT,
}


@st.composite
def landing_files(draw, valid_only: bool = False):
    """A CSV file (bytes), written the way exporters do: valid rows, and unless
    `valid_only` a few cells, the header or the bytes corrupted."""
    rows = []
    for i in range(draw(st.integers(1, 6))):
        order = draw(st.integers(1, 4))
        rows.append({"order_id": str(order), "customer_id": str(order * 3), "order_date": "2024-01-05",
                     "status": landing.ORDER_STATUSES[order], "payment_id": str(i + 1),
                     "payment_method": draw(st.sampled_from(landing.PAYMENT_METHODS)),
                     "amount_cents": str(draw(st.integers(0, landing.AMOUNT_CENTS_MAX)))})
    header = list(COLUMNS)
    if not valid_only:
        for _ in range(draw(st.integers(0, 2))):
            row, column = draw(st.sampled_from(rows)), draw(st.sampled_from(COLUMNS))
            row[column] = draw(CELLS[column])
        header = draw(st.sampled_from([COLUMNS] * 6 + [list(reversed(COLUMNS)), COLUMNS + ["order_id"],
                                                        COLUMNS + ["note"], COLUMNS[:-1]]))
    buffer = io.StringIO(newline="")
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    writer = csv.writer(buffer, quoting=quoting, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "x") for c in header])
    data = buffer.getvalue().encode("utf-8", errors="surrogatepass")
    if not valid_only and draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\x00", b"\xff", b"\xc3", b"\n", b'"', b","])) + data[at:]
    return data, rows, header


@pytest.fixture
def loaded(tmp_path):
    """A warehouse with customers 1..50 and an archive bucket, reused across examples."""
    def make(warehouse: Warehouse):
        load.upsert_customers(warehouse, seed=1, n_customers=50)
        return warehouse, ObjectStore(backend="local", bucket="archive", local_dir=str(tmp_path / "objects"))
    return make


_names = itertools.count()


def check_property(warehouse: Warehouse, store: ObjectStore, data: bytes) -> bool:
    key = f"landing/orders/2024-01-05/example-{next(_names)}.csv"
    try:
        load.load_landing_file(warehouse, store, key=key, data=data, etag="e", day=DAY)
    except LandingFileError:
        stored = warehouse.read_sql("SELECT count(*) AS n FROM raw.payments WHERE source_file IS NOT NULL")
        assert stored["n"][0] == 0 and not store.exists(archive_key(key))
        return False
    # The oracle: Python's csv module alone, and the text each warehouse value prints as.
    text = data.decode("utf-8").removeprefix("\ufeff")
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    payments = warehouse.read_sql(
        "SELECT p.payment_id, p.order_id, p.payment_method, p.amount_cents, p.order_date, o.customer_id, o.status "
        "FROM raw.payments p JOIN raw.orders o USING (order_id) WHERE p.source_file = :k ORDER BY p.payment_id", k=key)
    back = [{"order_id": str(r.order_id), "customer_id": str(r.customer_id), "order_date": r.order_date.date().isoformat(),
             "status": r.status, "payment_id": str(r.payment_id), "payment_method": r.payment_method,
             "amount_cents": str(r.amount_cents)} for r in payments.itertuples()]
    assert back == sorted(records, key=lambda r: int(r["payment_id"]))
    with warehouse.begin() as conn:  # the next example starts from the same state
        for table in ("orders", "payments"):
            conn.exec_driver_sql(f"DELETE FROM raw.{table} WHERE source_file IS NOT NULL")
    return True


PROPERTY = settings(max_examples=60, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@PROPERTY
@given(example=landing_files())
def test_accepted_files_land_exactly_and_rejected_files_write_nothing(loaded, warehouse, example):
    check_property(*loaded(warehouse), example[0])


@settings(PROPERTY, max_examples=15)
@given(example=landing_files(valid_only=True))
def test_files_of_valid_values_are_accepted_and_land_exactly_on_postgres(loaded, postgres_warehouse, example):
    assert check_property(*loaded(postgres_warehouse), example[0])
