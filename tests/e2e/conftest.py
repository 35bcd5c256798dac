import pytest
import requests

from tests.e2e.platform import WEBSERVER, ServerError, gql, poll


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def stack():
    """The stack is started once by `make e2e` (make up); every e2e test shares it."""
    try:
        requests.get(f"{WEBSERVER}/server_info", timeout=10).raise_for_status()
    except requests.RequestException as exc:
        pytest.fail(f"the compose stack is not running at {WEBSERVER} (run `make e2e`): {exc}")


IN_FLIGHT = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]


@pytest.fixture(autouse=True)
def settled():
    """Each test starts and ends with no run in flight, so sensor-triggered runs
    of one test never overlap the next."""
    yield
    poll(lambda: not runs_in_flight(), timeout=600, interval=2, what="the run queue to drain",
         transient=(ServerError, requests.ConnectionError))


def runs_in_flight():
    query = "query($f: RunsFilter) { runsOrError(filter: $f) { ... on Runs { results { runId } } } }"
    return gql(query, f={"statuses": IN_FLIGHT})["runsOrError"]["results"]
