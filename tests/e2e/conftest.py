import shutil

import pytest
import requests

from tests.e2e.platform import WEBSERVER, ServerError, launch, poll, runs_in_flight, wait_for_status


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def disk_free_gib() -> float:
    return shutil.disk_usage("/").free / 2**30


@pytest.fixture(scope="session", autouse=True)
def stack():
    """The stack is started once by `make e2e` (make up); every e2e test shares it.
    One run must succeed before any test starts: when runs cannot run at all,
    every test would wait out its own deadline, so stop at once and say why."""
    try:
        requests.get(f"{WEBSERVER}/server_info", timeout=10).raise_for_status()
    except requests.RequestException as exc:
        pytest.exit(f"the compose stack is not running at {WEBSERVER} (run `make e2e`): {exc}", returncode=1)
    try:
        wait_for_status(launch("housekeeping", "probe_job"), {"SUCCESS"}, timeout=300)
    except Exception as exc:  # noqa: BLE001 - whatever stops one run stops them all
        pytest.exit(f"the stack cannot run a job, so no e2e test can pass "
                    f"(free disk on /: {disk_free_gib():.1f} GiB):\n{exc}", returncode=1)


@pytest.fixture(autouse=True)
def settled():
    """Each test starts and ends with no run in flight, so sensor-triggered runs
    of one test never overlap the next."""
    yield
    poll(lambda: not runs_in_flight(), timeout=600, interval=2, what="the run queue to drain",
         transient=(ServerError, requests.ConnectionError))
