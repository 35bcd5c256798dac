"""The warehouse is derived data: its sources of truth are ingest's landing archive
(archive/raw/landing/ in ingest's bucket) and the generator's inputs (seed,
orders_per_day, n_customers, in each ingest run's config). Dropping the raw,
staging, marts and reports schemas and materializing again gives identical tables.

Destructive for the stack's warehouse: it empties it first. Run it on its own."""

import time
import uuid
from datetime import date, timedelta

from tests.e2e.platform import launch, poll, psql, rerun_init, runs_in_flight, wait_for_run, wait_for_status
from tests.e2e.test_landing_data import HEADER, landing_run, put_landing

SCHEMAS = ("raw", "staging", "marts", "reports")


def tables() -> dict[str, list[str]]:
    """Each table's row count and an md5 of its rows in a fixed order."""
    names = psql("SELECT table_schema || '.' || table_name FROM information_schema.tables "
                 f"WHERE table_schema IN ({', '.join(repr(s) for s in SCHEMAS)}) AND table_type = 'BASE TABLE' "
                 "ORDER BY 1")
    return {name: psql(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                       f"FROM {name} t")[0] for [name] in names}


def drop_schemas() -> None:
    """Drop the schemas; the platform's init creates them again, with their owners
    and the grants between locations."""
    for schema in SCHEMAS:
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    rerun_init()


def materialize(days: list[str], landing: tuple[str, bytes] | None) -> None:
    """The range in one ingest run, then the landing file (its customers exist by then),
    then whatever transform and reports runs the sensors start."""
    config = {"ops": {"raw__customers": {"config": {"n_customers": 300}},
                      "orders_and_payments": {"config": {"orders_per_day": 50, "n_customers": 300}}}}
    run_id = launch("ingest", "ingest_job", config, {"dagster/asset_partition_range_start": days[0],
                                                      "dagster/asset_partition_range_end": days[-1]})
    last = wait_for_status(run_id, {"SUCCESS"}, timeout=600)
    if landing:
        since = time.time()
        put_landing(*landing)
        last = landing_run(landing[0], since, {"SUCCESS"})
    wait_for_run("reports_job", created_after=last["endTime"], timeout=900)
    poll(lambda: not runs_in_flight(), timeout=600, interval=2, what="the chain to finish")


def test_dropping_the_warehouse_and_materializing_again_gives_identical_tables():
    first = date(2024, 2, 1) + timedelta(days=uuid.uuid4().int % 60)
    days = [(first + timedelta(days=i)).isoformat() for i in range(3)]
    key = f"landing/orders/{days[1]}/rebuild-{uuid.uuid4().hex[:6]}.csv"
    content = f"{HEADER}\n5,3,{days[1]},completed,5,coupon,700\n5,3,{days[1]},completed,6,gift_card,58\n"
    drop_schemas()
    materialize(days, (key, content.encode()))
    before = tables()
    assert psql(f"SELECT count(*) FROM raw.payments WHERE source_file = '{key}'") == [["2"]]

    drop_schemas()
    materialize(days, None)  # the landed rows come back from the archive
    assert tables() == before
