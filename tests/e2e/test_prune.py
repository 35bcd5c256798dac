"""`make prune` deletes the images of ours that nothing needs, and only those.

Every build makes a new content-tagged image per target, so without pruning a
machine that builds often fills its disk (CI did: "no space left on device")."""

from tests.e2e.platform import (
    ROOT,
    docker,
    launch,
    make,
    service_container,
    wait_for_status,
)

REGISTRY = "localhost/dagster-platform"


def image_of(service: str) -> str:
    return docker("inspect", "--format", "{{.Config.Image}}", service_container(service))


def tags() -> set[str]:
    return set(docker("images", "--format", "{{.Repository}}:{{.Tag}}").split())


def test_prune_deletes_stale_tags_and_keeps_running_and_base_images():
    running = {s: image_of(s) for s in ("webserver", "ingest", "transform", "reports")}
    stale = f"{REGISTRY}/ingest:stale0e2e000"
    foreign = f"{REGISTRY}/unlabelled-e2e:1"
    docker("tag", running["ingest"], stale)
    # An image docker/Dockerfile did not build (no label), like the base and stand-in images.
    docker("tag", image_of("postgres"), foreign)
    try:
        result = make(ROOT, "prune")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "pruned" in result.stdout

        after = tags()
        assert stale not in after
        assert set(running.values()) <= after
        assert foreign in after
    finally:
        docker("rmi", stale, check=False)
        docker("rmi", foreign, check=False)

    # The platform still launches runs from the images it kept.
    run_id = launch("housekeeping", "heartbeat_job", {"ops": {"heartbeat": {"config": {"seconds": 1}}}})
    assert wait_for_status(run_id, {"SUCCESS"})["status"] == "SUCCESS"
