from datetime import date, datetime, timedelta, timezone

import dagster as dg
from platform_common import ObjectInfo, ObjectStore

from ingest.defs.schedules import ingest_daily_schedule
from ingest.defs.sensors import GRACE, Cursor, evaluate, landing_sensor


def tick(dropbox: ObjectStore, cursor: str | None = None) -> dg.SensorResult:
    read_only = ObjectStore(backend="local", bucket=dropbox.bucket, local_dir=dropbox.local_dir, read_only=True)
    with dg.build_sensor_context(resources={"landing_store": read_only}, cursor=cursor) as context:
        return landing_sensor(context)


def test_one_run_request_per_landing_file_each_loading_only_its_file(dropbox):
    dropbox.put_bytes("landing/orders/2024-01-05/a.csv", b"a")
    dropbox.put_bytes("landing/orders/2024-01-05/b.csv", b"b")
    dropbox.put_bytes("landing/orders/2024-01-09/c.csv", b"c")
    result = tick(dropbox)
    assert [(r.partition_key, r.tags["ingest/landing_file"]) for r in result.run_requests] == [
        ("2024-01-05", "landing/orders/2024-01-05/a.csv"),
        ("2024-01-05", "landing/orders/2024-01-05/b.csv"),
        ("2024-01-09", "landing/orders/2024-01-09/c.csv"),
    ]
    first = result.run_requests[0]
    config = first.run_config["ops"]["orders_and_payments"]["config"]
    assert config["landing_file"] == "landing/orders/2024-01-05/a.csv" and config["landing_etag"]
    assert {k.to_user_string() for k in first.asset_selection} == {"raw/landing", "raw/orders", "raw/payments"}
    # The next tick, with the cursor, finds nothing new and leaves the cursor alone.
    again = tick(dropbox, result.cursor)
    assert again.run_requests == [] and again.cursor is None


def test_a_new_file_and_a_changed_file_are_the_only_requests(dropbox):
    dropbox.put_bytes("landing/orders/2024-01-05/a.csv", b"first")
    dropbox.put_bytes("landing/orders/2024-01-05/b.csv", b"b")
    first = tick(dropbox)
    dropbox.put_bytes("landing/orders/2024-01-05/a.csv", b"second, corrected")
    dropbox.put_bytes("landing/orders/2024-01-06/new.csv", b"new")
    second = tick(dropbox, first.cursor)
    assert sorted(r.tags["ingest/landing_file"] for r in second.run_requests) == [
        "landing/orders/2024-01-05/a.csv", "landing/orders/2024-01-06/new.csv"]
    changed = next(r for r in second.run_requests if r.tags["ingest/landing_file"].endswith("a.csv"))
    assert changed.run_key != first.run_requests[0].run_key


def obj(key: str, seconds: float, etag: str = "e") -> ObjectInfo:
    return ObjectInfo(key, 1, etag, datetime(2024, 2, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds))


def test_a_file_stamped_before_the_newest_seen_but_listed_later_still_runs():
    """S3 stamps an object when its upload starts: a slow upload appears after a newer one."""
    today = date(2024, 3, 1)
    first = evaluate([obj("landing/orders/2024-01-05/fast.csv", 100)], Cursor(), today)
    late = obj("landing/orders/2024-01-05/slow.csv", 100 - GRACE.total_seconds() / 2)
    second = evaluate([obj("landing/orders/2024-01-05/fast.csv", 100), late], first.cursor, today)
    assert [r.tags["ingest/landing_file"] for r in second.requests] == [late.key]
    assert evaluate([obj("landing/orders/2024-01-05/fast.csv", 100), late], second.cursor, today).requests == []


def test_files_of_a_day_that_has_not_ended_wait_for_it():
    files = [obj("landing/orders/2024-03-01/early.csv", 0)]
    waiting = evaluate(files, Cursor(), today=date(2024, 3, 1))
    assert waiting.requests == [] and waiting.cursor.waiting == {"landing/orders/2024-03-01/early.csv": "e"}
    # Much later, with nothing new: the day has ended, the file runs once.
    later = evaluate(files + [obj("landing/orders/2024-01-05/x.csv", 86_400)], waiting.cursor, date(2024, 3, 2))
    assert sorted(r.partition_key for r in later.requests) == ["2024-01-05", "2024-03-01"]
    assert later.cursor.waiting == {}
    assert evaluate(files, later.cursor, date(2024, 3, 3)).requests == []


def test_files_outside_the_layout_are_ignored_once(dropbox):
    for key in ("landing/orders/not-a-day/a.csv", "landing/orders/2023-12-31/a.csv",
                "landing/orders/2024-01-05/notes.txt"):
        dropbox.put_bytes(key, b"x")
    tick_ = evaluate(dropbox.list("landing/"), Cursor(), date(2024, 3, 1))
    assert tick_.requests == [] and len(tick_.ignored) == 3
    assert evaluate(dropbox.list("landing/"), tick_.cursor, date(2024, 3, 1)).ignored == []


def test_an_unknown_cursor_starts_over():
    assert Cursor.parse('{"v": 0}') == Cursor()
    cursor = Cursor(datetime(2024, 1, 1, tzinfo=timezone.utc), {"ab"}, {"k": "e"})
    assert Cursor.parse(cursor.dump()) == cursor


def test_daily_schedule_requests_the_day_that_ended():
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2024, 3, 2, 1, 0, tzinfo=timezone.utc))
    [request] = ingest_daily_schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2024-03-01"


def test_the_benchmarks_sensor_measurement_runs(dropbox):
    from ingest.measure import sensor_ticks

    figures = sensor_ticks(dropbox, n_files=30)
    assert (figures["files"], figures["first_tick_requests"], figures["idle_tick_requests"]) == (30, 30, 0)


def test_the_benchmarks_own_file_measurement_reads_one_file_of_many(dropbox):
    from ingest.measure import own_file_run

    figures = own_file_run(dropbox, n_files=30)
    assert figures["files"] == 30 and figures["file"] == "landing/orders/2024-01-01/bench-000000.csv"
    assert (figures["landing_objects_read"], figures["other_files_read"], figures["landing_listings"]) == (1, 0, 0)
