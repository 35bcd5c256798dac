"""Issue 21 on the stack (Postgres, the object store, runs in containers): strict
landing files, atomic loads, customers that never shrink, one-run backfills,
an object-store outage waited out, and a warehouse rebuilt from its sources.

Landing files go to the landing bucket, put with the landing key."""

import time
import uuid
from datetime import date, timedelta

from tests.e2e.platform import (
    docker, gql, instance_sql, launch, list_keys, poll, psql, put_landing, run_events, run_failure, runs,
    service_container, wait_for_run, wait_for_status,
)

HEADER = "order_id,customer_id,order_date,status,payment_id,payment_method,amount_cents"


def archive_exists(key: str) -> bool:
    """ingest archived this landing file, in its own bucket."""
    return bool(list_keys("archive/raw/landing/" + key.removeprefix("landing/") + ".parquet"))


def fresh() -> tuple[str, int]:
    day = (date(2024, 4, 1) + timedelta(days=uuid.uuid4().int % 600)).isoformat()
    return day, 1_000_000 + uuid.uuid4().int % 8_000_000 * 2


def landing_run(key: str, start: float, status: set[str]) -> dict:
    found = poll(lambda: runs("ingest_job", {"ingest/landing_file": key}, start), timeout=120,
                 what=f"an ingest run for {key}")
    return wait_for_status(found[-1]["runId"], status, timeout=300)


def test_a_value_past_bigint_fails_naming_the_cell_and_a_fixed_file_loads_cleanly():
    day, order_id = fresh()
    key = f"landing/orders/{day}/e2e-big-{uuid.uuid4().hex[:6]}.csv"
    good = f"{HEADER}\n{order_id},3,{day},completed,{order_id},credit_card,4200\n"
    start = time.time()
    put_landing(key, good.replace(",4200", ",99999999999999999999").encode())
    failed = landing_run(key, start, {"FAILURE"})
    failure = run_failure(failed["runId"])
    assert f"{key} line 2, column amount_cents: 99999999999999999999 is outside" in failure, failure
    assert not any(e["__typename"] == "ExecutionStepUpForRetryEvent" for e in run_events(failed["runId"]))
    assert psql(f"SELECT count(*) FROM raw.payments WHERE source_file = '{key}'") == [["0"]]
    assert not archive_exists(key)

    fixed_at = time.time()
    put_landing(key, good.encode())  # a new ETag: the sensor runs it again
    landing_run(key, fixed_at, {"SUCCESS"})
    assert psql(f"SELECT payment_id, amount_cents FROM raw.payments WHERE source_file = '{key}'") == [
        [str(order_id), "4200"]]
    assert archive_exists(key)


def ingest(day: str, orders_per_day: int, n_customers: int | None = None) -> dict:
    config = {"ops": {"orders_and_payments": {"config": {"orders_per_day": orders_per_day,
                                                          **({"n_customers": n_customers} if n_customers else {})}},
                      **({"raw__customers": {"config": {"n_customers": n_customers}}} if n_customers else {})}}
    return wait_for_status(launch("ingest", "ingest_job", config, {"dagster/partition": day}), {"SUCCESS"})


def test_an_ordinary_run_after_a_big_one_keeps_every_customer_and_transform_passes():
    day, _ = fresh()
    ingest(day, 2_000, n_customers=5_000)
    [[stored]] = psql("SELECT count(*) FROM raw.customers")
    start = time.time()
    ingest(day, 40)  # the default configuration: 100 customers
    assert psql("SELECT count(*) FROM raw.customers") == [[stored]] and int(stored) >= 5_000
    assert psql("SELECT count(*) FROM raw.orders o LEFT JOIN raw.customers c USING (customer_id) "
                "WHERE c.customer_id IS NULL") == [["0"]]
    wait_for_run("transform_job", created_after=start, timeout=600)


BACKFILL = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) { __typename
  ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""


def test_a_thirty_day_backfill_from_the_ui_is_one_run_per_asset_group():
    first = date(2023, 12, 1) + timedelta(days=32 + uuid.uuid4().int % 300)
    days = [(first + timedelta(days=i)).isoformat() for i in range(30)]
    params = {"partitionNames": days, "fromFailure": False,
              "assetSelection": [{"path": ["raw", k]} for k in ("landing", "orders", "payments")]}
    result = gql(BACKFILL, params=params)["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    backfill = result["backfillId"]

    def finished():
        found = runs(tags={"dagster/backfill": backfill})
        return found if found and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in found) else None

    found = poll(finished, timeout=600, interval=3, what=f"backfill {backfill}'s runs")
    assert [r["status"] for r in found] == ["SUCCESS"]  # one run for the 30 days
    counted = psql(f"SELECT count(*) FROM raw.orders WHERE order_date >= '{days[0]}' AND order_date <= '{days[-1]}' "
                   "AND source_file IS NULL")
    assert counted == [[str(30 * 40)]]

    # Each day is materialized on its own in the event log (the UI's partition status),
    # written in one transaction per asset (DAGSTER_EVENT_BATCH_SIZE), not one per day.
    [run] = found
    written = instance_sql(
        "SELECT asset_key, count(DISTINCT partition), count(DISTINCT xmin::text) FROM event_logs "
        f"WHERE run_id = '{run['runId']}' AND dagster_event_type = 'ASSET_MATERIALIZATION' "
        "GROUP BY asset_key ORDER BY asset_key")
    assert [(key, int(parts)) for key, parts, _ in written] == [
        ('["raw", "landing"]', 30), ('["raw", "orders"]', 30), ('["raw", "payments"]', 30)]
    assert [int(txns) for _, _, txns in written] == [1, 1, 1]


def test_an_object_store_outage_under_a_minute_ends_in_success():
    """The store is stopped for 25 s while an ingest run needs it; the step retries
    with backoff and the run succeeds (a bad file, a permanent error, is not retried:
    test_a_value_past_bigint_fails_naming_the_cell_and_a_fixed_file_loads_cleanly)."""
    s3 = service_container("s3")
    day, _ = fresh()
    docker("stop", s3)
    try:
        run_id = launch("ingest", "ingest_job", {}, {"dagster/partition": day})
        wait_for_status(run_id, {"STARTED"}, timeout=120)
        time.sleep(25)  # the outage itself, not a wait for a condition
    finally:
        docker("start", s3)
    done = wait_for_status(run_id, {"SUCCESS"}, timeout=400)
    assert any(e["__typename"] == "ExecutionStepUpForRetryEvent" for e in run_events(done["runId"]))
    assert psql(f"SELECT count(*) FROM raw.orders WHERE order_date = '{day}'") == [["40"]]


def test_a_bulk_load_leaves_fresh_statistics_for_the_next_reader():
    """A load that autovacuum would analyze at its next look (more than its threshold
    plus its scale factor of the table's rows) is analyzed by ingest itself before the
    commit: transform's models, which start seconds later, plan with the new rows."""
    [[stored]] = psql("SELECT CAST(greatest(reltuples, 0) AS bigint) FROM pg_class "
                      "WHERE oid = CAST('raw.orders' AS regclass)")
    need = 50 + int(stored) // 10 + 100  # Postgres's defaults, with room for rows stored meanwhile
    per_day = 9_999  # the most ingest's generator makes a day
    days = -(-need // per_day)
    first = date(2024, 1, 10) + timedelta(days=uuid.uuid4().int % 12)  # days no other test loads
    last = first + timedelta(days=days - 1)

    def analyzed() -> dict[str, int]:
        return {name: int(count) for name, count in psql(
            "SELECT relname, analyze_count FROM pg_stat_user_tables "
            "WHERE schemaname = 'raw' AND relname IN ('orders', 'payments')")}

    before = analyzed()
    tags = {"dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat()}
    config = {"ops": {"orders_and_payments": {"config": {"orders_per_day": per_day}}}}
    run = wait_for_status(launch("ingest", "ingest_job", config, tags), {"SUCCESS"}, timeout=600)
    assert psql(f"SELECT count(*) FROM raw.orders WHERE order_date >= '{first}' "
                f"AND order_date < '{last + timedelta(days=1)}' AND source_file IS NULL") == [[str(days * per_day)]]
    # Statistics counters reach pg_stat_user_tables within a second of the commit.
    def analyzed_again() -> dict[str, int] | None:
        now = analyzed()
        return now if all(now[table] > before[table] for table in before) else None

    after = poll(analyzed_again, timeout=30, interval=0.5,
                 what=f"an ANALYZE of raw.orders and raw.payments by run {run['runId']}")
    assert set(after) == {"orders", "payments"}
