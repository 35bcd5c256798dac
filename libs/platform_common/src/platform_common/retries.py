"""Which failures a step retries: a lost connection, yes; bad data or a refused query, no.

Steps that talk to the warehouse or the object store carry `RETRY_POLICY`,
Dagster's own RetryPolicy, and run their body inside `permanent_unless_transient`
(a context manager, or a decorator). After a transient error the step runs again,
Dagster waiting (2^n - 1) x 2 s before attempt n + 1 (2, 6, 14, 30, 62, 126 s,
each with jitter), so a store or database outage shorter than a minute ends in
SUCCESS. Any other error (bad data, permission denied, a refused login, a bug)
becomes `dg.Failure(allow_retries=False)`, which Dagster does not retry. Run
config that fails validation fails at once too (`FailsAtOnceConfig`).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
from pydantic import ValidationError, model_validator

RETRY_POLICY = dg.RetryPolicy(max_retries=6, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

# Postgres SQLSTATEs a later attempt can get past (Appendix A of its manual):
# connection exceptions (class 08), too many connections and other resource
# shortages (53), the server shutting down or starting (57P01-57P03), and a
# transaction that lost a race (40001 serialization failure, 40P01 deadlock).
TRANSIENT_SQLSTATE_CLASSES = ("08", "53")
TRANSIENT_SQLSTATES = {"57P01", "57P02", "57P03", "40001", "40P01"}
# Object-store answers worth another attempt: the server's own errors and throttling.
TRANSIENT_S3_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling",
                      "500", "502", "503", "504"}
# The client could not reach or hear from the store.
TRANSIENT_S3_CLIENT_ERRORS = {"EndpointConnectionError", "ConnectionClosedError", "ConnectTimeoutError",
                              "ReadTimeoutError", "ConnectionError", "ProtocolError", "ResponseStreamingError",
                              "IncompleteReadError"}
# libpq reports a failed login without a SQLSTATE: these are refusals, not outages.
REFUSED_LOGIN = ("password authentication failed", "no pg_hba.conf entry", "does not exist",
                 "not permitted to log in")


def is_transient(exc: BaseException) -> bool:
    """True for errors that say "not now" rather than "never", anywhere in the chain
    of causes (a driver's error wrapped by SQLAlchemy, or by our own code)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if _transient_one(exc):
            return True
        if isinstance(exc, dg.Failure):
            return False
        exc = exc.__cause__ or exc.__context__
    return False


def _transient_one(exc: BaseException) -> bool:
    if isinstance(exc, (dg.Failure, PermissionError)):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)):
        return True
    module = type(exc).__module__ or ""
    if module.startswith("sqlalchemy"):
        return _transient_sql(exc)
    if module.startswith(("botocore", "boto3", "urllib3")):
        return _transient_s3(exc)
    if module.startswith("duckdb"):  # `make dev`: another process holds the warehouse file for a moment
        return type(exc).__name__ == "IOException" and "lock" in str(exc).lower()
    return _transient_psycopg2(exc)


def _transient_sql(exc: BaseException) -> bool:
    import sqlalchemy as sa

    if isinstance(exc, sa.exc.TimeoutError):  # no pooled connection came free in time
        return True
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    return _transient_one(exc.orig) if exc.orig is not None else False


def _transient_psycopg2(exc: BaseException) -> bool:
    try:
        import psycopg2
    except ImportError:
        return False
    if not isinstance(exc, psycopg2.Error):
        return False
    code = exc.pgcode
    if code is None:
        # No answer from a server (refused, unreachable, cut off mid-query), or a refused login.
        refused = any(text in str(exc) for text in REFUSED_LOGIN)
        return isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)) and not refused
    return code[:2] in TRANSIENT_SQLSTATE_CLASSES or code in TRANSIENT_SQLSTATES


def _transient_s3(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return int(status) >= 500 or error.get("Code") in TRANSIENT_S3_CODES
    return type(exc).__name__ in TRANSIENT_S3_CLIENT_ERRORS


@contextmanager
def permanent_unless_transient(what: str) -> Iterator[None]:
    """Let transient errors through to the step's RetryPolicy; fail on anything else
    without a retry, naming `what` the step was doing."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        raise dg.Failure(
            description=f"{what}: {type(exc).__name__}: {exc}".strip(),
            metadata={"retried": False, "error": type(exc).__name__},
            allow_retries=False,
        ) from exc


class FailsAtOnceConfig(dg.Config):
    """Run config whose bad values fail the step at once.

    Dagster builds a step's Config inside the step, where its RetryPolicy would
    retry pydantic's ValidationError like any other error; this turns it into a
    Failure that is not retried, with pydantic's own message.
    """

    @model_validator(mode="wrap")
    @classmethod
    def _fail_at_once(cls, data: Any, handler: Any) -> Any:
        try:
            return handler(data)
        except ValidationError as exc:
            errors = exc.errors()
            lines = [f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} for {cls.__name__}"]
            lines += [f"{'.'.join(map(str, e['loc']))}\n  {e['msg']}" for e in errors]
            raise dg.Failure(description="\n".join(lines), allow_retries=False) from exc
