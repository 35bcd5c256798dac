"""The charts name dg.toml's locations: the platform chart's default codeLocations (generated in
place by platformctl.generate) and one helm/values/<name>.yaml each (written when missing, then
the operators'). The rest of the list's consistency is tests/test_consistency.py; the instance
configuration against dagster.yaml is tests/test_instance_config.py.
"""

from __future__ import annotations

import yaml
from helm_harness import (
    LOCATION_VALUES_DIR,
    LOCATIONS,
    PLATFORM_CHART,
    location_values,
)


def helm_values_locations() -> list[str]:
    return sorted(location_values(p.stem)["location"]["name"] for p in LOCATION_VALUES_DIR.glob("*.yaml"))


def platform_default_locations() -> list[dict]:
    return yaml.safe_load((PLATFORM_CHART / "values.yaml").read_text())["codeLocations"]


def test_the_platform_chart_lists_every_location_by_name_host_and_port() -> None:
    assert [(e["name"], e["host"], e["port"]) for e in platform_default_locations()] == [
        (name, f"dagster-code-{name.replace('_', '-')}", 4000) for name in LOCATIONS]


def test_each_location_has_one_values_file() -> None:
    assert helm_values_locations() == sorted(LOCATIONS)


def test_values_files_are_named_after_their_location() -> None:
    for path in LOCATION_VALUES_DIR.glob("*.yaml"):
        values = location_values(path.stem)
        assert values["location"]["name"] == path.stem
        assert values["location"]["module"] == f"{path.stem}.definitions"
        assert values["image"]["repository"] == f"dagster-platform/{path.stem}"
