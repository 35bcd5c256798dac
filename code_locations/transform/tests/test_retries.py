"""Which transform failures are retried: a lost connection, yes; a failed dbt test or bad SQL, no.

The general rules (psycopg2, SQLAlchemy, the object store) are the same as the reports
location's, tested there; here what is transform's own: the dbt build's failures."""

import socket
from pathlib import Path

import dagster as dg
import pytest
from dagster_dbt import DbtCliResource

from transform.definitions import defs
from transform.defs.assets import dbt_models, permanent, run_results
from transform.defs.cohorts import customer_cohorts
from transform.defs.dbt_failures import connection_lost, dbt_failure_is_transient
from platform_common.retries import RETRY_POLICY
from transform.project import dbt_project


def dbt_error(message: str = "dbt failed") -> dg.Failure:
    """What dagster-dbt raises when `dbt build` exits non-zero (a Failure, retried by default)."""
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    return DagsterDbtCliRuntimeError(description=message)


def result(status: str, message: str | None = None, node: str = "model.transform.stg_orders") -> dict:
    return {"status": status, "message": message, "unique_id": node}


# Messages as dbt-postgres 1.11 writes them (seen on Postgres 15 with its backends killed mid-build).
LOST_MID_BUILD = ("Database Error in test not_null_stg_orders_order_id (models/staging/_staging.yml)\n"
                  "  server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n"
                  "\tbefore or while processing the request.")
KILLED = "Database Error in model customers (models/marts/customers.sql)\n  terminating connection due to administrator command"
NO_SERVER = ('Encountered an error:\nDatabase Error\n  connection to server at "postgres" (172.18.0.3), port 5432 failed: '
             "Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?")
NO_HOST = 'Database Error\n  could not translate host name "postgres" to address: Name or service not known'
BAD_SQL = 'Database Error in model orders (models/marts/orders.sql)\n  column "amount" does not exist'
DENIED = "Database Error in model stg_orders (models/staging/stg_orders.sql)\n  permission denied for schema raw"
BAD_LOGIN = ('Database Error\n  connection to server at "postgres" (172.18.0.3), port 5432 failed: FATAL:  '
             'password authentication failed for user "transform"')


@pytest.mark.parametrize(("results", "message", "transient"), [
    ([result("error", LOST_MID_BUILD), result("skipped")], "dbt failed", True),
    ([result("success"), result("error", KILLED, "model.transform.customers")], "dbt failed", True),
    ([], NO_SERVER, True),  # dbt stopped before it ran any node: no run_results
    ([], NO_HOST, True),
    ([result("fail", "Got 1 result, configured to fail if != 0", "test.transform.unique_stg_orders_order_id")],
     "dbt failed", False),
    ([result("error", LOST_MID_BUILD), result("fail", "Got 1 result, configured to fail if != 0")], "dbt failed", False),
    ([result("error", BAD_SQL)], "dbt failed", False),
    ([result("error", DENIED)], "dbt failed", False),
    ([result("error", LOST_MID_BUILD), result("error", BAD_SQL)], "dbt failed", False),
    ([], BAD_LOGIN, False),
    ([], "Compilation Error in model orders", False),
], ids=["lost mid-build", "killed", "no server", "no host", "test failed", "lost and a test failed", "bad sql",
        "permission denied", "lost and bad sql", "wrong password", "compilation error"])
def test_a_failed_dbt_build_is_retried_only_when_every_failure_is_a_lost_connection(results, message, transient):
    assert dbt_failure_is_transient(dbt_error(message), results) is transient


def test_errors_raised_around_dbt_follow_the_general_rules():
    assert dbt_failure_is_transient(ConnectionResetError(104, "reset"), [])
    assert not dbt_failure_is_transient(KeyError("orders"), [])


def test_connection_lost_reads_dbt_messages():
    assert connection_lost(LOST_MID_BUILD) and connection_lost(NO_SERVER) and not connection_lost(BAD_LOGIN)


def test_a_permanent_dbt_failure_keeps_its_description_and_is_not_retried():
    failure = permanent(dbt_error("The dbt CLI process failed with exit code `1`."))
    assert failure.allow_retries is False and failure.description == "The dbt CLI process failed with exit code `1`."
    assert permanent(KeyError("x")).description == "KeyError: 'x'"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_dbt_build_against_a_warehouse_that_is_down_is_transient(tmp_path, monkeypatch):
    """dbt itself, on the images' Postgres target, with nothing listening where the warehouse should be."""
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(closed_port()))
    dbt = DbtCliResource(project_dir=dbt_project, target="postgres")
    invocation = dbt.cli(["build"], manifest=dbt_project.manifest_path, target_path=tmp_path, raise_on_error=True)
    with pytest.raises(dg.Failure) as failure:
        invocation.wait()
    assert dbt_failure_is_transient(failure.value, run_results(Path(tmp_path)))


def test_every_step_that_talks_to_the_warehouse_retries():
    assert dbt_models.op.retry_policy == RETRY_POLICY
    assert customer_cohorts.op.retry_policy == RETRY_POLICY
    # The job's policy covers the steps without one of their own: payments_reconcile.
    assert defs().resolve_job_def("transform_job").op_retry_policy == RETRY_POLICY


def test_a_bad_build_config_fails_the_dbt_step_at_once():
    """Dagster builds the step's config inside the step, where its RetryPolicy applies."""
    job = defs().resolve_job_def("transform_job")
    result = job.execute_in_process(run_config={"ops": {"transform_dbt": {"config": {"threads": 0}}}},
                                    raise_on_error=False)
    assert not result.success
    kinds = [e.event_type_value for e in result.all_events if e.step_key == "transform_dbt"]
    assert kinds.count("STEP_START") == 1 and "STEP_UP_FOR_RETRY" not in kinds and "STEP_FAILURE" in kinds
    [failure] = result.get_step_failure_events()
    assert "validation error for DbtBuildConfig\nthreads\n" in failure.step_failure_data.error.message
