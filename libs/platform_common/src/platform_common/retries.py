"""Transient or permanent: which failures a step should retry.

A step that talks to the warehouse or the object store takes `RETRY_POLICY`
and runs its body inside `permanent_unless_transient()`. A lost connection, a
refused connection, a timeout or a store answering 5xx propagates, and
Dagster retries the step with backoff (about two minutes in all, so an outage
shorter than a minute ends in SUCCESS). Anything else (bad data, a permission
denied, a bug) becomes `dg.Failure(allow_retries=False)` and fails at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

# 2 + 4 + 8 + 16 + 32 + 64 s (±50 % jitter) between the seven attempts.
RETRY_POLICY = dg.RetryPolicy(
    max_retries=6, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

# Postgres SQLSTATE classes that mean "the server or the connection", not the request:
# 08 connection exception, 53 insufficient resources, 57P01-57P03 shutdown / cannot connect now.
_TRANSIENT_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03", "40001", "40P01")
_TRANSIENT_S3_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "503", "500", "502", "504"}


def is_transient(exc: BaseException) -> bool:
    """True for failures that waiting can cure: connections, timeouts, a server restarting."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if _transient_one(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _transient_one(exc: BaseException) -> bool:
    if isinstance(exc, dg.Failure):
        return False
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    module = type(exc).__module__ or ""
    name = type(exc).__name__
    if module.startswith("sqlalchemy"):
        if getattr(exc, "connection_invalidated", False):
            return True
        orig = getattr(exc, "orig", None)
        return orig is not None and _transient_one(orig)
    if _is_psycopg2_error(exc):
        code = getattr(exc, "pgcode", None)
        if code:
            return code.startswith(_TRANSIENT_SQLSTATES)
        # No SQLSTATE: the client lost or could not open its connection.
        return name in ("OperationalError", "InterfaceError")
    if module.startswith(("botocore", "urllib3")):
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            error = response.get("Error", {})
            status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            return error.get("Code") in _TRANSIENT_S3_CODES or status.startswith("5")
        return name in (
            "EndpointConnectionError", "ConnectionClosedError", "ConnectTimeoutError", "ReadTimeoutError",
            "ConnectionError", "ProtocolError", "ResponseStreamingError", "IncompleteReadError",
        )
    if module.startswith("duckdb"):
        return name == "IOException" and "lock" in str(exc).lower()  # another process holds the file
    return False


def _is_psycopg2_error(exc: BaseException) -> bool:
    try:
        import psycopg2
    except ImportError:
        return False
    return isinstance(exc, psycopg2.Error)


@contextmanager
def permanent_unless_transient(what: str) -> Iterator[None]:
    """Let transient errors through (the step's RetryPolicy retries them); turn any
    other error into a Failure that is not retried, saying `what` failed and why."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        raise dg.Failure(
            description=f"{what}: {type(exc).__name__}: {exc}".strip(), allow_retries=False
        ) from exc
