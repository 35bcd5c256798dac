"""The data platform in the running stack: landing sensor -> ingest -> transform
(automatically) -> reports (run-status sensor), schedules, backfills, dedupe."""

import time
import uuid
from datetime import date, timedelta

from tests.e2e.platform import (
    gql,
    inspect,
    poll,
    psql,
    put_landing,
    runs,
    wait_for_run,
    wait_for_status,
)

HEADER = "order_id,customer_id,order_date,status,payment_id,payment_method,amount_cents"


def fresh_id() -> int:
    """Ids no other test or earlier run has used (landing ids must be unique per day)."""
    return 1_000_000 + uuid.uuid4().int % 8_000_000 * 2


def fresh_day() -> str:
    """A past day no earlier run used: a day whose landing files failed stays failed."""
    return (date(2024, 4, 1) + timedelta(days=uuid.uuid4().int % 600)).isoformat()


def landing_file(day: str, order_id: int) -> bytes:
    return (f"{HEADER}\n{order_id},3,{day},completed,{order_id},credit_card,4200\n"
            f"{order_id},3,{day},completed,{order_id + 1},coupon,58\n").encode()


ASSET_METADATA = """
query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { __typename
  ... on Asset { assetMaterializations(limit: 1) { runId timestamp
    metadataEntries { label __typename ... on MarkdownMetadataEntry { mdStr } ... on IntMetadataEntry { intValue }
      ... on TableSchemaMetadataEntry { schema { columns { name } } } } } } } }"""


def test_landing_file_flows_through_transform_to_reports():
    start = time.time()
    day, order_id = fresh_day(), fresh_id()
    key = f"landing/orders/{day}/e2e-{uuid.uuid4().hex[:6]}.csv"
    put_landing(key, landing_file(day, order_id))

    ingest = wait_for_run("ingest_job", created_after=start, tags={"ingest/landing_file": key})
    assert ingest["tags"]["dagster/partition"] == day
    transform = wait_for_run("transform_job", created_after=ingest["endTime"] - 1)
    reports = wait_for_run("reports_job", created_after=transform["endTime"] - 1)
    assert ingest["endTime"] <= transform["startTime"] and transform["endTime"] <= reports["startTime"]

    [[amount, status]] = psql(f"SELECT amount_cents, status FROM marts.orders WHERE order_id = {order_id}")
    assert (int(amount), status) == (4258, "completed")

    # Read through dbt-core's adapter in the dbt step's own process: the run worker
    # that orchestrates the run loads transform without dbt-core (transform.STEP_ONLY_PACKAGES).
    [orders] = gql(ASSET_METADATA, key={"path": ["marts", "orders"]})["assetOrError"]["assetMaterializations"]
    assert orders["runId"] == transform["runId"]
    entries = {e["label"]: e for e in orders["metadataEntries"]}
    [[count]] = psql("SELECT count(*) FROM marts.orders")
    assert entries["dagster/row_count"]["intValue"] == int(count)
    columns = [c["name"] for c in entries["dagster/column_schema"]["schema"]["columns"]]
    assert columns[0] == "order_id" and "amount_cents" in columns

    [chart] = gql(ASSET_METADATA, key={"path": ["reports", "revenue_chart"]})["assetOrError"]["assetMaterializations"]
    assert chart["runId"] == reports["runId"]
    images = [e["mdStr"] for e in chart["metadataEntries"] if e["__typename"] == "MarkdownMetadataEntry"]
    assert any("data:image/png;base64," in md for md in images)


SENSOR_TICKS = """
query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) { __typename
  ... on Sensor { sensorState { status ticks(limit: 20) { status timestamp runIds } } } } }"""


def test_same_landing_file_dropped_twice_runs_once():
    start = time.time()
    day = fresh_day()
    key = f"landing/orders/{day}/twice-{uuid.uuid4().hex[:6]}.csv"
    content = landing_file(day, fresh_id())
    put_landing(key, content)
    first = wait_for_run("ingest_job", created_after=start, tags={"ingest/landing_file": key})

    second_drop = time.time()
    put_landing(key, content)
    selector = {"repositoryLocationName": "ingest", "repositoryName": "__repository__", "sensorName": "landing_sensor"}

    def finished_ticks_after_second_drop():
        state = gql(SENSOR_TICKS, selector=selector)["sensorOrError"]["sensorState"]
        done = [t for t in state["ticks"] if t["timestamp"] > second_drop and t["status"] in ("SUCCESS", "SKIPPED")]
        return len(done) >= 2 and done

    poll(finished_ticks_after_second_drop, timeout=120, what="two landing-sensor ticks after the second drop")
    assert [r["runId"] for r in runs("ingest_job", {"ingest/landing_file": key})] == [first["runId"]]


SCHEDULE = """
query($selector: ScheduleSelector!) { scheduleOrError(scheduleSelector: $selector) { __typename
  ... on Schedule { scheduleState { id status ticks(limit: 5) { status timestamp runIds } } } } }"""
START_SCHEDULE = """
mutation($selector: ScheduleSelector!) { startSchedule(scheduleSelector: $selector) { __typename
  ... on ScheduleStateResult { scheduleState { id status } } ... on PythonError { message } } }"""
STOP_SCHEDULE = """
mutation($id: String!) { stopRunningSchedule(id: $id) { __typename
  ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }"""


def test_schedule_started_through_the_api_ticks_and_runs():
    selector = {"repositoryLocationName": "housekeeping", "repositoryName": "__repository__",
                "scheduleName": "heartbeat_schedule"}
    started = gql(START_SCHEDULE, selector=selector)["startSchedule"]
    assert started["__typename"] == "ScheduleStateResult", started
    state_id = started["scheduleState"]["id"]
    try:
        def tick_with_run():
            ticks = gql(SCHEDULE, selector=selector)["scheduleOrError"]["scheduleState"]["ticks"]
            return next((t for t in ticks if t["status"] == "SUCCESS" and t["runIds"]), None)

        tick = poll(tick_with_run, timeout=150, interval=2, what="a heartbeat_schedule tick that launched a run")
        run = wait_for_status(tick["runIds"][0], {"SUCCESS"})
        assert run["jobName"] == "heartbeat_job"
        assert run["tags"]["dagster/schedule_name"] == "heartbeat_schedule"
    finally:
        stopped = gql(STOP_SCHEDULE, id=state_id)["stopRunningSchedule"]
    assert stopped["scheduleState"]["status"] == "STOPPED"


BACKFILL = """
mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) { __typename
  ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""


def test_backfill_of_three_days_from_the_jobs_partitions_runs_once_with_each_days_data():
    """ingest's partitioned assets take a single-run backfill policy: the job's
    backfill (the UI's partitions page) runs the three days in one container."""
    days = ["2024-03-01", "2024-03-02", "2024-03-03"]
    params = {
        "selector": {
            "partitionSetName": "ingest_job_partition_set",
            "repositorySelector": {"repositoryLocationName": "ingest", "repositoryName": "__repository__"},
        },
        "partitionNames": days,
    }
    result = gql(BACKFILL, params=params)["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    tags = {"dagster/backfill": result["backfillId"]}

    [run] = poll(lambda: runs("ingest_job", tags), timeout=120, what="the backfill's run")
    finished = wait_for_status(run["runId"], {"SUCCESS"}, timeout=300)
    assert (finished["tags"]["dagster/asset_partition_range_start"],
            finished["tags"]["dagster/asset_partition_range_end"]) == (days[0], days[-1])
    assert "/dagster-platform/ingest:" in inspect(finished["tags"]["docker/container_id"])["Config"]["Image"]
    assert len(runs("ingest_job", tags)) == 1
    counts = dict(psql("SELECT CAST(order_date AS DATE), count(*) FROM raw.orders "
                       "WHERE order_date >= '2024-03-01' AND order_date < '2024-03-04' "
                       "AND source_file IS NULL GROUP BY 1 ORDER BY 1"))
    assert counts == {day: "40" for day in days}  # the generator's default orders per day
