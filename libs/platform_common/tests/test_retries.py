import botocore.exceptions
import dagster as dg
import psycopg2
import pytest
import sqlalchemy as sa

from platform_common import Warehouse, is_transient, permanent_unless_transient


def postgres_error(code: str | None) -> psycopg2.Error:
    error = psycopg2.OperationalError("server closed the connection unexpectedly")
    if code:
        error = type("E", (psycopg2.Error,), {"pgcode": code})("x")
    return error


@pytest.mark.parametrize(("exc", "transient"), [
    (ConnectionRefusedError(), True),
    (TimeoutError(), True),
    (botocore.exceptions.EndpointConnectionError(endpoint_url="http://s3:8333"), True),
    (botocore.exceptions.ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
                                     "PutObject"), True),
    (botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}},
                                     "PutObject"), False),
    (sa.exc.OperationalError("SELECT 1", {}, postgres_error(None)), True),
    (sa.exc.ProgrammingError("SELECT 1", {}, postgres_error("42501")), False),  # permission denied
    (sa.exc.OperationalError("SELECT 1", {}, postgres_error("57P01")), True),  # admin shutdown
    (ValueError("bad data"), False),
    (dg.Failure("bad file"), False),
])
def test_transient_or_permanent(exc, transient):
    assert is_transient(exc) is transient


def test_permanent_errors_become_failures_that_are_not_retried():
    with pytest.raises(dg.Failure) as info, permanent_unless_transient("raw/orders"):
        raise PermissionError("permission denied for schema raw")
    assert info.value.allow_retries is False
    assert "raw/orders: PermissionError: permission denied for schema raw" in info.value.description
    with pytest.raises(ConnectionResetError), permanent_unless_transient("raw/orders"):
        raise ConnectionResetError()


def test_a_database_that_is_down_is_a_transient_error():
    warehouse = Warehouse(backend="postgres", host="127.0.0.1", port=1, user="u", password="p", database="d")
    with pytest.raises(sa.exc.OperationalError) as info:
        warehouse.read_sql("SELECT 1")
    assert is_transient(info.value)
