import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# docker/scripts holds the operator tools the tests exercise (make check, ...).
sys.path.insert(0, str(ROOT / "docker" / "scripts"))
# The platform team's package (libs/platformctl): standard library only.
sys.path.insert(0, str(ROOT / "libs" / "platformctl" / "src"))

# PLATFORM_TEST_DEADLINE: a Unix time after which no further test starts. CI sets
# it from its own time limit, so a slow run still ends with pytest's summary of
# what failed instead of being killed mid-test with nothing printed.
DEADLINE = float(os.environ.get("PLATFORM_TEST_DEADLINE") or "inf")


def pytest_runtest_setup(item):
    if time.time() > DEADLINE:
        pytest.exit(f"PLATFORM_TEST_DEADLINE passed before {item.nodeid}; the tests from there on did not run",
                    returncode=1)
