"""`make prune` keeps, per target, what runs, what a rollback needs and what this
checkout builds (docker/scripts/deploy.py). The deletion itself runs against a
real engine in tests/e2e/test_prune.py."""

import json

import deploy


def test_needed_tags_are_current_previous_and_this_checkouts_build(tmp_path, monkeypatch):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({
        "platform": {"current": "p-now", "previous": None},
        "ingest": {"current": "i-now", "previous": "i-before"},
    }))
    monkeypatch.setattr(deploy, "STATE", state)

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
