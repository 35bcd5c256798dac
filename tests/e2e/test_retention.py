"""Run-history retention on the running stack.

housekeeping's run_retention_job, launched like any job (its schedule runs it
every hour), deletes a run that ended long ago together with its events, and
keeps the equally old run that holds an asset's latest materialization. Both
runs are moved 4000 days into the past and the job keeps 3650 days, so no other
run on the stack is old enough to go.
"""

import uuid

from tests.e2e.platform import gql, instance_sql, launch, run_events, run_info, wait_for_status

BACK_DAYS = 4000
KEEP_DAYS = 3650

LATEST_MATERIALIZATION = """
query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { __typename
  ... on Asset { assetMaterializations(limit: 1) { runId } } } }"""
RUN_TYPE = "query($id: ID!) { runOrError(runId: $id) { __typename } }"


def shift_runs(run_ids: list[str], days: int) -> None:
    """Move the runs' timestamps by `days` (negative: into the past)."""
    ids = ", ".join(f"'{r}'" for r in run_ids)
    rows = instance_sql(
        f"UPDATE runs SET create_timestamp = create_timestamp + interval '{days} days', "
        f"update_timestamp = update_timestamp + interval '{days} days', "
        f"start_time = start_time + {days * 86400}, end_time = end_time + {days * 86400} "
        f"WHERE run_id IN ({ids}) RETURNING run_id"
    )
    assert sorted(r[0] for r in rows if r[0] in run_ids) == sorted(run_ids)


def event_count(run_id: str) -> int:
    [[count]] = instance_sql(f"SELECT count(*) FROM event_logs WHERE run_id = '{run_id}'")
    return int(count)


def latest_customers_run() -> str:
    [mat] = gql(LATEST_MATERIALIZATION, key={"path": ["raw", "customers"]})["assetOrError"]["assetMaterializations"]
    return mat["runId"]


def retention_job(dry_run: bool = False) -> str:
    """Run housekeeping's retention job; return what it logged."""
    config = {"ops": {"prune_run_history": {"config": {"days": KEEP_DAYS, "dry_run": dry_run}}}}
    run = wait_for_status(launch("housekeeping", "run_retention_job", config), {"SUCCESS"})
    return "\n".join(e.get("message", "") for e in run_events(run["runId"]))


def test_the_job_deletes_an_old_run_with_its_events_and_keeps_the_latest_materialization():
    tags = {"e2e/retention": uuid.uuid4().hex[:8]}
    ingest = wait_for_status(launch("ingest", "ingest_job", tags={"dagster/partition": "2024-01-02", **tags}),
                             {"SUCCESS"})["runId"]
    assert latest_customers_run() == ingest
    old = wait_for_status(launch("housekeeping", "heartbeat_job", {"ops": {"heartbeat": {"config": {"seconds": 0}}}},
                                 tags), {"SUCCESS"})["runId"]
    assert event_count(old) > 0

    shift_runs([ingest, old], -BACK_DAYS)
    try:
        planned = retention_job(dry_run=True)
        assert f"run retention ({KEEP_DAYS} days): would delete 1 runs" in planned
        assert "kept 1 older runs that hold the latest event" in planned
        assert run_info(old)["status"] == "SUCCESS" and event_count(old) > 0

        done = retention_job()
        assert f"run retention ({KEEP_DAYS} days): deleted 1 runs" in done
        assert gql(RUN_TYPE, id=old)["runOrError"]["__typename"] == "RunNotFoundError"
        assert event_count(old) == 0

        # The asset still shows the same latest materialization, from a run that still exists.
        assert run_info(ingest)["status"] == "SUCCESS"
        assert latest_customers_run() == ingest
        assert event_count(ingest) > 0

        again = retention_job()
        assert f"run retention ({KEEP_DAYS} days): deleted 0 runs" in again
    finally:
        shift_runs([ingest], BACK_DAYS)
