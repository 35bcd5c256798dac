import os
import time

import pytest

# PLATFORM_TEST_DEADLINE: a Unix time after which no further test starts. CI sets
# it from its own time limit, so a slow run still ends with pytest's summary of
# what failed instead of being killed mid-test with nothing printed.
DEADLINE = float(os.environ.get("PLATFORM_TEST_DEADLINE") or "inf")


def pytest_runtest_setup(item):
    if time.time() > DEADLINE:
        pytest.exit(f"PLATFORM_TEST_DEADLINE passed before {item.nodeid}; the tests from there on did not run",
                    returncode=1)
