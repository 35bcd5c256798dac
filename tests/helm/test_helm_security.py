"""Security baseline on every pod and container of every rendered workload (and of run pods)."""

from __future__ import annotations

import pytest
from helm_harness import (
    KUBE_VERSIONS,
    LOCATIONS,
    WORKLOAD_KINDS,
    all_rendered_sets,
    build_run_job,
    k8s_validate,
    pod_spec,
)

WORKLOADS = [
    (f"{label}:{o['kind']}/{o['metadata']['name']}", o)
    for label, objects in all_rendered_sets()
    for o in objects
    if o["kind"] in WORKLOAD_KINDS
]


def assert_pod_is_hardened(spec: dict, *, require_read_only_root: bool = True) -> None:
    pod_ctx = spec.get("securityContext", {})
    assert pod_ctx.get("runAsNonRoot") is True
    assert pod_ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    containers = spec["containers"] + spec.get("initContainers", [])
    for c in containers:
        ctx = c.get("securityContext", {})
        assert ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True, c["name"]
        assert ctx.get("allowPrivilegeEscalation") is False, c["name"]
        assert ctx.get("capabilities", {}).get("drop") == ["ALL"], c["name"]
        assert not ctx.get("capabilities", {}).get("add"), c["name"]
        assert not ctx.get("privileged"), c["name"]
        if require_read_only_root:
            assert ctx.get("readOnlyRootFilesystem") is True, c["name"]
        resources = c.get("resources", {})
        assert resources.get("requests", {}).get("cpu"), c["name"]
        assert resources.get("requests", {}).get("memory"), c["name"]
        assert resources.get("limits", {}).get("memory"), c["name"]


def test_there_are_workloads_to_check() -> None:
    kinds = {o["kind"] for _, o in WORKLOADS}
    assert {"Deployment", "StatefulSet", "Job"} <= kinds


@pytest.mark.parametrize(
    ("label", "workload"), WORKLOADS, ids=[label for label, _ in WORKLOADS]
)
def test_workload_is_hardened(label: str, workload: dict) -> None:
    spec = pod_spec(workload)
    assert_pod_is_hardened(spec)
    # A read-only root needs a writable /tmp.
    for c in spec["containers"]:
        mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
        assert "/tmp" in mounts, c["name"]
    # Only the platform's webserver/daemon talk to the Kubernetes API.
    if spec.get("serviceAccountName", "default") in ("default",):
        assert spec.get("automountServiceAccountToken") is False


@pytest.mark.parametrize(
    ("label", "workload"), WORKLOADS, ids=[label for label, _ in WORKLOADS]
)
def test_long_running_workloads_have_probes(label: str, workload: dict) -> None:
    if workload["kind"] in ("Job", "Pod"):  # run to completion
        return
    # The chart's own container comes first; sidecars are the user's.
    c = pod_spec(workload)["containers"][0]
    assert "startupProbe" in c and "livenessProbe" in c, c["name"]
    if workload["metadata"]["labels"]["app.kubernetes.io/component"] != "daemon":
        assert "readinessProbe" in c, c["name"]


@pytest.mark.parametrize("location", LOCATIONS)
def test_run_pods_are_hardened_and_valid(location: str, tmp_path) -> None:
    """Run pods are built by dagster_k8s at run time from dagster.yaml + container context."""
    job = build_run_job(location, tmp_path)
    for version in KUBE_VERSIONS:
        k8s_validate(job, version)
    spec = job["spec"]["template"]["spec"]
    # Runs may write anywhere in their image (user code); the root stays writable.
    assert_pod_is_hardened(spec, require_read_only_root=False)
    assert spec["automountServiceAccountToken"] is False
