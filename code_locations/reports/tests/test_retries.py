"""Transient errors are retried by the step's RetryPolicy; anything else fails at once."""

import socket

import dagster as dg
import psycopg2
import psycopg2.errors
import pytest
import sqlalchemy as sa
from botocore import exceptions as bce
from conftest import MARTS_ORDERS, seed
from test_tables import build

from reports.definitions import defs
from reports.defs import warehouse_sql
from reports.defs.assets import daily_revenue, tables
from reports.defs.charts import charts
from platform_common.retries import RETRY_POLICY, is_transient, permanent_unless_transient


def pg_error(code: str | None, message: str = "boom") -> psycopg2.Error:
    """A psycopg2 error as the server raises it: the class of its SQLSTATE, with pgcode set."""
    base = psycopg2.errors.lookup(code) if code else psycopg2.OperationalError
    return type(base.__name__, (base,), {"pgcode": code, "__module__": "psycopg2.errors"})(message)


def wrapped(orig: Exception) -> sa.exc.DBAPIError:
    """What SQLAlchemy raises for a driver error."""
    return sa.exc.DBAPIError.instance("SELECT 1", {}, orig, psycopg2.Error)


def client_error(code: str, status: int) -> bce.ClientError:
    return bce.ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


TRANSIENT = {
    "connection refused": wrapped(pg_error(None, 'connection to server at "postgres", port 5432 failed: Connection refused')),
    "server gone mid-query": wrapped(pg_error(None, "server closed the connection unexpectedly")),
    "admin shutdown": wrapped(pg_error("57P01", "terminating connection due to administrator command")),
    "starting up": wrapped(pg_error("57P03", "the database system is starting up")),
    "too many connections": wrapped(pg_error("53300", "sorry, too many clients already")),
    "deadlock": wrapped(pg_error("40P01", "deadlock detected")),
    "pool timeout": sa.exc.TimeoutError("QueuePool limit reached"),
    "duckdb file locked": sa.exc.OperationalError(
        "SELECT 1", {}, type("IOException", (Exception,), {"__module__": "duckdb"})('Could not set lock on file "w.duckdb"')),
    "dns": socket.gaierror(-2, "Name or service not known"),
    "socket": ConnectionResetError(104, "Connection reset by peer"),
    "store unreachable": bce.EndpointConnectionError(endpoint_url="http://s3:8333"),
    "store read timeout": bce.ReadTimeoutError(endpoint_url="http://s3:8333"),
    "store 503": client_error("SlowDown", 503),
    "store 500": client_error("InternalError", 500),
}
PERMANENT = {
    "permission denied": wrapped(pg_error("42501", "permission denied for table orders")),
    "missing table": wrapped(pg_error("42P01", 'relation "marts.orders" does not exist')),
    "bad value": wrapped(pg_error("22P02", 'invalid input syntax for type bigint: "abc"')),
    "duplicate key": wrapped(pg_error("23505", "duplicate key value violates unique constraint")),
    "wrong password": wrapped(pg_error(None, 'FATAL:  password authentication failed for user "reports"')),
    "no database": wrapped(pg_error(None, 'FATAL:  database "warehouse" does not exist')),
    "duckdb binder": sa.exc.ProgrammingError(
        "SELECT 1", {}, type("BinderException", (Exception,), {"__module__": "duckdb"})("No function matches sum(VARCHAR)")),
    "store access denied": client_error("AccessDenied", 403),
    "no such bucket": client_error("NoSuchBucket", 404),
    "no such file": FileNotFoundError("charts/x.png"),
    "a bug": KeyError("revenue_cents"),
}


@pytest.mark.parametrize("exc", TRANSIENT.values(), ids=list(TRANSIENT))
def test_transient_errors_reach_the_retry_policy_unchanged(exc):
    assert is_transient(exc)
    with pytest.raises(type(exc)), permanent_unless_transient("reports.x"):
        raise exc


@pytest.mark.parametrize("exc", PERMANENT.values(), ids=list(PERMANENT))
def test_permanent_errors_become_a_failure_that_is_not_retried(exc):
    assert not is_transient(exc)
    with pytest.raises(dg.Failure) as failure, permanent_unless_transient("reports.x"):
        raise exc
    assert failure.value.allow_retries is False
    assert failure.value.description.startswith(f"reports.x: {type(exc).__name__}")
    assert failure.value.__cause__ is exc


def test_our_own_failures_pass_through_as_raised():
    with pytest.raises(dg.Failure) as failure, permanent_unless_transient("reports.x"):
        raise warehouse_sql.no_rows("marts.orders")
    assert failure.value.allow_retries is False and "has no rows" in failure.value.description


def test_the_policy_waits_out_a_minute_long_outage():
    waits = [RETRY_POLICY.calculate_delay(n) for n in range(1, RETRY_POLICY.max_retries + 1)]
    # Jitter moves each wait by up to ±delay: the last retry comes at least this long after the first failure.
    least = sum(w - RETRY_POLICY.delay for w in waits)
    assert RETRY_POLICY.backoff is dg.Backoff.EXPONENTIAL and RETRY_POLICY.jitter is dg.Jitter.PLUS_MINUS
    assert least > 60, waits


def test_every_step_that_talks_to_the_warehouse_or_the_store_retries():
    loaded = defs()
    for asset in [*tables, *charts]:
        assert asset.op.retry_policy == RETRY_POLICY, asset.key
    # The job's policy covers the steps without one of their own: the asset check.
    assert loaded.resolve_job_def("reports_job").op_retry_policy == RETRY_POLICY


def attempts(result: dg.ExecuteInProcessResult, step: str) -> dict[str, int]:
    kinds = [e.event_type_value for e in result.all_events if e.step_key == step]
    return {k: kinds.count(k) for k in ("STEP_START", "STEP_RESTARTED", "STEP_UP_FOR_RETRY", "STEP_FAILURE")}


def test_a_dropped_connection_is_retried_and_the_run_succeeds(warehouse, monkeypatch):
    real, calls = warehouse_sql.require_rows, []

    def drops_once(*args, **kwargs):
        calls.append(args[1:3])
        if len(calls) == 1:
            raise TRANSIENT["server gone mid-query"]
        return real(*args, **kwargs)

    monkeypatch.setattr(warehouse_sql, "require_rows", drops_once)
    result = build(warehouse, dg.AssetSelection.assets(daily_revenue).without_checks())
    assert result.success
    assert attempts(result, "reports__daily_revenue") == {
        "STEP_START": 1, "STEP_RESTARTED": 1, "STEP_UP_FOR_RETRY": 1, "STEP_FAILURE": 0}
    assert warehouse.read_sql("SELECT sum(orders) AS n FROM reports.daily_revenue")["n"][0] == 7


def test_a_refused_query_fails_at_once_and_keeps_the_previous_table(warehouse, monkeypatch):
    assert build(warehouse, [daily_revenue]).success
    before = warehouse.read_sql("SELECT * FROM reports.daily_revenue ORDER BY order_date")

    def refused(*args, **kwargs):
        raise PERMANENT["permission denied"]

    monkeypatch.setattr(warehouse_sql, "require_rows", refused)
    result = build(warehouse, [daily_revenue], raise_on_error=False)
    assert not result.success
    assert attempts(result, "reports__daily_revenue") == {
        "STEP_START": 1, "STEP_RESTARTED": 0, "STEP_UP_FOR_RETRY": 0, "STEP_FAILURE": 1}
    [failure] = result.get_step_failure_events()
    assert "reports.daily_revenue: ProgrammingError" in failure.step_failure_data.error.message
    assert warehouse.read_sql("SELECT * FROM reports.daily_revenue ORDER BY order_date").equals(before)


def test_sql_that_fails_midway_rolls_back_and_is_not_retried(warehouse):
    """amount_cents as text: the warehouse refuses to add it up, after the guards passed."""
    assert build(warehouse, [daily_revenue]).success
    before = warehouse.read_sql("SELECT * FROM reports.daily_revenue ORDER BY order_date")
    seed(warehouse, "marts", "orders", MARTS_ORDERS.assign(amount_cents=MARTS_ORDERS["amount_cents"].astype(str) + "c"))

    result = build(warehouse, [daily_revenue], raise_on_error=False)
    assert not result.success
    assert attempts(result, "reports__daily_revenue")["STEP_UP_FOR_RETRY"] == 0
    assert warehouse.read_sql("SELECT * FROM reports.daily_revenue ORDER BY order_date").equals(before)
    tables_left = warehouse.read_sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'reports'")
    assert tables_left["table_name"].tolist() == ["daily_revenue"]  # no half-built table left behind
