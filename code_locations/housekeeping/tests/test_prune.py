import os
import time

import dagster as dg
import pandas as pd
import pytest
from platform_common import ObjectStore
from platform_common.landing_archive import SOURCE_ETAG_KEY, archive_key
from platform_common.parquet import to_parquet_bytes
from pydantic import ValidationError

from housekeeping.definitions import defs
from housekeeping.defs.prune import PruneLandingConfig, day_of, prune_landing_job

DAY = 24 * 3600
OLD_ARCHIVED = ["landing/orders/2024-01-01/a.csv", "landing/orders/2024-01-01/b.csv"]
OLD_NOT_ARCHIVED = ["landing/orders/2024-01-02/a.csv"]
RECENT_ARCHIVED = ["landing/orders/2024-01-03/a.csv"]
UNRECOGNISED = ["landing/README.txt"]


@pytest.fixture
def landing(landing_store, ingest_archive, tmp_path):
    now = time.time()
    ages = {
        **dict.fromkeys(OLD_ARCHIVED + OLD_NOT_ARCHIVED + UNRECOGNISED, 10 * DAY),
        **dict.fromkeys(RECENT_ARCHIVED, 1 * DAY),
    }
    for key, age in ages.items():
        landing_store.put_bytes(key, b"order_id,amount\n1,100\n")
        path = tmp_path / "objects" / "landing" / key
        os.utime(path, (now - age, now - age))
    # What ingest writes, in its own bucket, once it has loaded a landing file: its
    # archive, naming the version.
    for obj in landing_store.list("landing/"):
        if obj.key in OLD_ARCHIVED + RECENT_ARCHIVED:
            rows = to_parquet_bytes(pd.DataFrame({"order_id": [1]}), metadata={SOURCE_ETAG_KEY: obj.etag})
            ingest_archive.put_bytes(archive_key(obj.key), rows)
    return landing_store


def remaining(store) -> set[str]:
    return {o.key for o in store.list("")}


def archive_beside(landing_store: ObjectStore) -> ObjectStore:
    """Ingest's bucket, read-only, in the same local folder as the landing bucket."""
    return ObjectStore(backend="local", bucket="dagster-data", local_dir=landing_store.local_dir, read_only=True)


def prune(store, raise_on_error=True, **config) -> dg.ExecuteInProcessResult:
    return prune_landing_job.execute_in_process(
        run_config={"ops": {"find_prune_candidates": {"config": config}}},
        resources={"landing_store": store, "ingest_archive": archive_beside(store),
                   "mem_io_manager": dg.mem_io_manager},
        raise_on_error=raise_on_error,
    )


def test_deletes_exactly_the_old_archived_files(landing):
    before = remaining(landing)
    result = prune(landing, older_than_days=7, dry_run=False)
    assert result.success
    assert remaining(landing) == before - set(OLD_ARCHIVED)
    summary = result.output_for_node("log_prune_summary")
    assert summary == {
        "dry_run": False,
        "scanned": 5,
        "candidates": 2,
        "deleted": 2,
        "bytes_freed": 2 * len(b"order_id,amount\n1,100\n"),
        "kept_recent": 1,
        "kept_not_archived": 1,
        "kept_unrecognised": 1,
    }
    [output] = [e for e in result.all_node_events if e.is_successful_output and e.node_name == "log_prune_summary"]
    assert output.event_specific_data.metadata["deleted"].value == 2


def test_a_larger_age_keeps_everything(landing):
    before = remaining(landing)
    assert prune(landing, older_than_days=11, dry_run=False).output_for_node("log_prune_summary")["deleted"] == 0
    assert remaining(landing) == before


def test_dry_run_deletes_nothing_and_is_the_default(landing):
    before = remaining(landing)
    result = prune(landing, older_than_days=7)
    summary = result.output_for_node("log_prune_summary")
    assert summary["dry_run"] is True
    assert (summary["candidates"], summary["deleted"]) == (2, 0)
    assert remaining(landing) == before


def test_prefix_narrows_the_scan(landing):
    result = prune(landing, older_than_days=7, dry_run=False, prefix="landing/orders/2024-01-02/")
    assert result.output_for_node("log_prune_summary")["scanned"] == 1
    assert set(OLD_ARCHIVED) <= remaining(landing)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"older_than_days": 0}, "older_than_days"),
        ({"older_than_days": -3}, "older_than_days"),
        ({"prefix": "landing"}, "prefix"),
        ({"prefix": "archive/"}, "prefix"),
    ],
)
def test_bad_config_names_the_field(landing, config, field):
    before = remaining(landing)
    result = prune(landing, raise_on_error=False, **{"dry_run": False, **config})
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert failure.step_key == "find_prune_candidates"
    assert f"validation error for PruneLandingConfig\n{field}\n" in failure.step_failure_data.error.to_string()
    with pytest.raises(dg.Failure, match=field) as raised:
        PruneLandingConfig(**config)
    assert raised.value.allow_retries is False  # the job's RetryPolicy leaves a bad config alone
    assert isinstance(raised.value.__cause__, ValidationError)
    assert [e.event_type_value for e in result.all_events if e.step_key == "find_prune_candidates"].count(
        "STEP_UP_FOR_RETRY") == 0
    assert remaining(landing) == before


def test_a_wrongly_typed_value_is_rejected_before_the_run(landing):
    with pytest.raises(dg.DagsterInvalidConfigError, match="older_than_days"):
        prune(landing, older_than_days="a week")


def test_the_job_runs_from_the_definitions_with_the_local_object_store(landing):
    job = defs().resolve_job_def("prune_landing_job")
    result = job.execute_in_process(
        run_config={"ops": {"find_prune_candidates": {"config": {"older_than_days": 7, "dry_run": False}}}}
    )
    assert result.success
    assert not set(OLD_ARCHIVED) & remaining(landing)


@pytest.mark.parametrize(
    ("key", "day"),
    [
        ("landing/orders/2024-01-05/batch-1.csv", "2024-01-05"),
        ("landing/orders/2024-13-05/batch-1.csv", None),
        ("landing/orders/batch-1.csv", None),
        ("landing/orders/2024-01-05.csv", None),
    ],
)
def test_day_of(key, day):
    assert day_of(key) == day


def test_a_store_outage_is_retried_and_a_refusal_is_not(landing, monkeypatch):
    from botocore import exceptions as bce
    from platform_common.retries import RETRY_POLICY

    assert prune_landing_job.op_retry_policy == RETRY_POLICY
    real, calls = ObjectStore.list, []

    def flaky(self, prefix=""):
        calls.append(prefix)
        if len(calls) == 1:
            raise bce.EndpointConnectionError(endpoint_url="http://s3:8333")
        return real(self, prefix)

    def denied(self, prefix=""):
        raise bce.ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                              "ListObjectsV2")

    monkeypatch.setattr(ObjectStore, "list", flaky)
    result = prune(landing, raise_on_error=False, older_than_days=7)
    assert result.success and len(calls) == 2
    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert [e.step_key for e in retried] == ["find_prune_candidates"]

    monkeypatch.setattr(ObjectStore, "list", denied)
    result = prune(landing, raise_on_error=False, older_than_days=7)
    assert not result.success
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    [failure] = result.get_step_failure_events()
    assert "prune_landing_job: listing landing files: ClientError" in failure.step_failure_data.error.message
