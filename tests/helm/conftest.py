"""Fixtures for the Helm chart tests; the harness itself is helm_harness.py."""

from __future__ import annotations

from typing import Any

import pytest
from helm_harness import LOCATIONS, PLATFORM_VALUE_SETS, render_chart, render_location


@pytest.fixture(scope="module", params=sorted(PLATFORM_VALUE_SETS))
def platform_objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render_chart(PLATFORM_VALUE_SETS[request.param])


@pytest.fixture(scope="module", params=LOCATIONS)
def location_objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render_location(request.param)
