import pytest

from tests.e2e.conftest import settled, stack  # noqa: F401 - the same running stack and queue discipline


def pytest_collection_modifyitems(items):
    for item in items:
        if "/bench/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
