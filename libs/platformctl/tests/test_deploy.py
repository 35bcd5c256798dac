"""`make prune` keeps, per target, what runs, what a rollback needs and what this checkout builds
(platformctl.deploy); content tags follow each image's inputs. The deletion itself runs against a
real engine in tests/e2e/test_prune.py."""

import json

import pytest
from conftest import REPO

from platformctl import deploy


@pytest.fixture(autouse=True)
def at_the_repository(monkeypatch):
    monkeypatch.setenv("PLATFORM_ROOT", str(REPO))


def test_needed_tags_are_current_previous_and_this_checkouts_build(tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({
        "platform": {"current": "p-now", "previous": None},
        "ingest": {"current": "i-now", "previous": "i-before"},
    }))
    monkeypatch.setattr(deploy, "STATE", state)  # absolute: the repository root is not prepended

    needed = deploy.needed_tags(["platform", "ingest", "reports"])

    assert needed["platform"] == {"p-now", deploy.content_tag("platform")}
    assert needed["ingest"] == {"i-now", "i-before", deploy.content_tag("ingest")}
    # No deploy recorded yet: only what this checkout builds.
    assert needed["reports"] == {deploy.content_tag("reports")}


def test_a_fresh_checkout_keeps_only_what_it_builds(tmp_path, monkeypatch):
    monkeypatch.setattr(deploy, "STATE", tmp_path / "absent.json")
    needed = deploy.needed_tags(["platform", "transform"])
    assert {t: len(tags) for t, tags in needed.items()} == {"platform": 1, "transform": 1}
    assert all(len(tag) == 12 for tags in needed.values() for tag in tags)


def test_a_location_image_is_built_from_its_folder_and_the_libraries_it_installs():
    assert deploy.inputs("reports") == [*deploy.COMMON_INPUTS, "libs/platform_common", "libs/platform_services",
                                        "code_locations/reports"]
    assert "libs/platformctl" in deploy.inputs("platform")  # init runs from the platform image
    assert "libs/platformctl" not in deploy.inputs("ingest")  # tooling changes rebuild no location
    dockerfile = (REPO / "docker/Dockerfile").read_text()
    for lib in deploy.LOCATION_LIBS:
        assert f"COPY {lib} /src/{lib}" in dockerfile
