from datetime import date, datetime, timedelta, timezone

import dagster as dg

from ingest.defs.schedules import ingest_daily_schedule
from ingest.defs.sensors import landing_sensor


def evaluate(store):
    with dg.build_sensor_context(resources={"object_store": store}) as context:
        return list(landing_sensor(context))


def test_one_run_request_per_landing_file(store):
    store.put_bytes("landing/orders/2024-01-05/a.csv", b"a")
    store.put_bytes("landing/orders/2024-01-05/b.csv", b"b")
    store.put_bytes("landing/orders/2024-01-09/c.csv", b"c")
    requests = evaluate(store)
    assert [(r.partition_key, r.tags["ingest/landing_file"]) for r in requests] == [
        ("2024-01-05", "landing/orders/2024-01-05/a.csv"),
        ("2024-01-05", "landing/orders/2024-01-05/b.csv"),
        ("2024-01-09", "landing/orders/2024-01-09/c.csv"),
    ]
    # Same files, same run keys: the daemon launches nothing new for them.
    assert [r.run_key for r in evaluate(store)] == [r.run_key for r in requests]


def test_changed_content_is_a_new_run_key(store):
    store.put_bytes("landing/orders/2024-01-05/a.csv", b"first")
    [first] = evaluate(store)
    store.put_bytes("landing/orders/2024-01-05/a.csv", b"second, corrected")
    [second] = evaluate(store)
    assert first.run_key != second.run_key


def test_files_outside_the_layout_or_range_are_ignored(store):
    today = date.today()
    for key in ("landing/orders/not-a-day/a.csv", "landing/orders/2023-12-31/a.csv",
                f"landing/orders/{today + timedelta(days=3)}/a.csv", "landing/orders/2024-01-05/notes.txt",
                f"landing/orders/{today}/early.csv"):
        store.put_bytes(key, b"x")
    assert evaluate(store) == []


def test_daily_schedule_requests_the_day_that_ended():
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2024, 3, 2, 1, 0, tzinfo=timezone.utc))
    [request] = ingest_daily_schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2024-03-01"
