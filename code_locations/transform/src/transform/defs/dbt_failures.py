"""Whether a failed `dbt build` is worth another attempt: dbt reports its failures
as messages, with no SQLSTATE and no exception of the driver's to look at."""

import dagster as dg

from platform_common.retries import is_transient

# How a lost or refused connection reads in dbt's messages.
CONNECTION_LOST = (
    "connection refused",
    "could not connect to server",
    "could not translate host name",
    "connection to server on socket",
    "server closed the connection unexpectedly",
    "terminating connection due to administrator command",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "ssl connection has been closed unexpectedly",
    "connection already closed",
    "connection timed out",
    "timeout expired",
    "too many clients already",
    "remaining connection slots are reserved",
)
# A login the server refused reads much the same ("connection to server ... failed: FATAL:
# password authentication failed"), and waiting does not cure it.
LOGIN_REFUSED = ("password authentication failed", "no pg_hba.conf entry", "does not exist")


def connection_lost(message: str) -> bool:
    text = message.lower()
    return any(m in text for m in CONNECTION_LOST) and not any(m in text for m in LOGIN_REFUSED)


def dbt_failure_is_transient(exc: BaseException, results: list[dict]) -> bool:
    """A failed `dbt build` is worth another attempt only if every node that failed
    lost its connection (dbt's run_results), or dbt could not connect at all. A test
    that found bad rows (status `fail`) or an error in a model's SQL fails at once."""
    if not isinstance(exc, dg.Failure):  # raised in this process, e.g. reading row counts
        return is_transient(exc)
    failed = [r for r in results if r.get("status") in ("error", "fail", "runtime error")]
    if any(r["status"] == "fail" for r in failed):
        return False
    messages = [r.get("message") or "" for r in failed] or [str(exc)]
    return all(connection_lost(m) for m in messages)
