import pytest
import requests

from tests.e2e.platform import WEBSERVER


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
