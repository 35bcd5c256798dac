"""NetworkPolicy selectors match the pods they are meant for, across both charts.

Labels come from the rendered objects (and, for run pods, from the Job that
dagster_k8s builds), never from copies of the label strings.
"""

from __future__ import annotations

import pytest
from helm_harness import (
    LOCATIONS,
    WORKLOAD_KINDS,
    build_run_job,
    find,
    find_all,
    pod_labels,
    render_chart,
    render_location,
)


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels + matchExpressions)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


@pytest.fixture(scope="module")
def pods(tmp_path_factory) -> dict[str, dict[str, str]]:
    """Pod labels by role, for a platform with a read-only webserver and our three locations."""
    platform = render_chart({"webserver": {"readOnly": {"enabled": True}}})
    by_component: dict[str, dict[str, str]] = {}
    for workload in platform:
        if workload["kind"] in WORKLOAD_KINDS:
            by_component[
                workload["metadata"]["labels"]["app.kubernetes.io/component"]
            ] = pod_labels(workload)
    for location in LOCATIONS:
        by_component[f"code:{location}"] = pod_labels(
            find(render_location(location), "Deployment")
        )
        job = build_run_job(location, tmp_path_factory.mktemp(location))
        by_component[f"run:{location}"] = job["spec"]["template"]["metadata"]["labels"]
    by_component["foreign-code"] = pod_labels(
        find(
            render_location("ingest", platform={"releaseName": "other-platform"}),
            "Deployment",
        )
    )
    return by_component


@pytest.fixture(scope="module")
def policies() -> dict[str, dict]:
    objects = render_chart({"webserver": {"readOnly": {"enabled": True}}})
    return {
        p["metadata"]["name"]: p["spec"] for p in find_all(objects, "NetworkPolicy")
    }


def allowed_sources(policy: dict, pods: dict[str, dict[str, str]]) -> set[str]:
    sources = set()
    for rule in policy.get("ingress", []):
        peers = rule.get("from")
        for role, labels in pods.items():
            if peers is None or any(
                selects(p["podSelector"], labels) for p in peers if "podSelector" in p
            ):
                sources.add(role)
    return sources


def targets(policy: dict, pods: dict[str, dict[str, str]]) -> set[str]:
    return {
        role for role, labels in pods.items() if selects(policy["podSelector"], labels)
    }


def test_every_platform_workload_was_found(pods) -> None:
    assert {"webserver", "webserver-read-only", "daemon", "postgres", "init"} <= set(
        pods
    )


def test_code_location_policy_targets_our_code_servers_only(policies, pods) -> None:
    policy = policies["dagster-platform-code-locations"]
    assert targets(policy, pods) == {f"code:{loc}" for loc in LOCATIONS}


def test_only_webservers_and_daemon_reach_code_servers(policies, pods) -> None:
    policy = policies["dagster-platform-code-locations"]
    assert allowed_sources(policy, pods) == {
        "webserver",
        "webserver-read-only",
        "daemon",
    }
    assert [p["port"] for p in policy["ingress"][0]["ports"]] == [4000]


def test_postgres_policy_targets_postgres(policies, pods) -> None:
    assert targets(policies["dagster-platform-postgres"], pods) == {"postgres"}


def test_platform_runs_and_code_servers_reach_postgres(policies, pods) -> None:
    sources = allowed_sources(policies["dagster-platform-postgres"], pods)
    assert sources == (
        {"webserver", "webserver-read-only", "daemon", "init"}
        | {f"run:{loc}" for loc in LOCATIONS}
        | {f"code:{loc}" for loc in LOCATIONS}
    )


def test_code_servers_can_be_kept_off_postgres(pods) -> None:
    objects = render_chart({"networkPolicy": {"allowCodeServersToPostgres": False}})
    policy = find(objects, "NetworkPolicy", "dagster-platform-postgres")["spec"]
    assert not any(role.startswith("code:") for role in allowed_sources(policy, pods))


def test_daemon_accepts_no_ingress(policies, pods) -> None:
    policy = policies["dagster-platform-daemon"]
    assert targets(policy, pods) == {"daemon"}
    assert policy["policyTypes"] == ["Ingress"] and not policy.get("ingress")


def test_webserver_policy_targets_both_webservers(policies, pods) -> None:
    assert targets(policies["dagster-platform-webserver"], pods) == {
        "webserver",
        "webserver-read-only",
    }


def test_services_select_their_pods(pods) -> None:
    objects = render_chart({"webserver": {"readOnly": {"enabled": True}}})
    for svc in find_all(objects, "Service"):
        matched = {
            role
            for role, labels in pods.items()
            if selects({"matchLabels": svc["spec"]["selector"]}, labels)
        }
        assert len(matched) == 1, (svc["metadata"]["name"], matched)
    for location in LOCATIONS:
        svc = find(render_location(location), "Service")
        ours = {r: labels for r, labels in pods.items() if r != "foreign-code"}
        matched = {
            r
            for r, labels in ours.items()
            if selects({"matchLabels": svc["spec"]["selector"]}, labels)
        }
        assert matched == {f"code:{location}"}


def test_workspace_hosts_are_the_location_services() -> None:
    import yaml

    workspace = yaml.safe_load(
        find(render_chart(), "ConfigMap", "dagster-platform-workspace")["data"][
            "workspace.yaml"
        ]
    )
    hosts = {
        e["grpc_server"]["location_name"]: e["grpc_server"]["host"]
        for e in workspace["load_from"]
    }
    for location in LOCATIONS:
        service = find(render_location(location), "Service")
        assert hosts[location] == service["metadata"]["name"]
