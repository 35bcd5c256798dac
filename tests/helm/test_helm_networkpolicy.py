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


READ_ONLY = {"webserver": {"readOnly": {"enabled": True}}}
NO_PGBOUNCER = {**READ_ONLY, "pgbouncer": {"enabled": False}}


@pytest.fixture(scope="module")
def pods(tmp_path_factory) -> dict[str, dict[str, str]]:
    """Pod labels by role, for a platform with a read-only webserver, PgBouncer and our locations."""
    platform = render_chart(READ_ONLY)
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


def policies_of(values: dict) -> dict[str, dict]:
    return {p["metadata"]["name"]: p["spec"] for p in find_all(render_chart(values), "NetworkPolicy")}


@pytest.fixture(scope="module")
def policies() -> dict[str, dict]:
    return policies_of(READ_ONLY)


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
    assert {"webserver", "webserver-read-only", "daemon", "postgres", "pgbouncer", "init"} <= set(
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


DATABASE_CLIENTS = (
    {"webserver", "webserver-read-only", "daemon"}
    | {f"run:{loc}" for loc in LOCATIONS}
    | {f"code:{loc}" for loc in LOCATIONS}
)


def test_policies_target_postgres_and_pgbouncer(policies, pods) -> None:
    assert targets(policies["dagster-platform-postgres"], pods) == {"postgres"}
    assert targets(policies["dagster-platform-pgbouncer"], pods) == {"pgbouncer"}


def test_with_pgbouncer_only_it_and_init_reach_postgres(policies, pods) -> None:
    assert allowed_sources(policies["dagster-platform-postgres"], pods) == {"pgbouncer", "init"}
    assert [p["port"] for p in policies["dagster-platform-postgres"]["ingress"][0]["ports"]] == [5432]


def test_platform_runs_and_code_servers_reach_pgbouncer(policies, pods) -> None:
    policy = policies["dagster-platform-pgbouncer"]
    assert allowed_sources(policy, pods) == DATABASE_CLIENTS
    assert [p["port"] for p in policy["ingress"][0]["ports"]] == [6432]


def test_without_pgbouncer_platform_runs_and_code_servers_reach_postgres(pods) -> None:
    policies = policies_of(NO_PGBOUNCER)
    assert "dagster-platform-pgbouncer" not in policies
    assert allowed_sources(policies["dagster-platform-postgres"], pods) == DATABASE_CLIENTS | {"init"}


@pytest.mark.parametrize(("values", "policy"), [
    ({}, "dagster-platform-pgbouncer"),
    ({"pgbouncer": {"enabled": False}}, "dagster-platform-postgres"),
], ids=["pgbouncer", "no-pgbouncer"])
def test_code_servers_can_be_kept_off_the_database(pods, values, policy) -> None:
    objects = render_chart({**values, "networkPolicy": {"allowCodeServersToPostgres": False}})
    sources = allowed_sources(find(objects, "NetworkPolicy", policy)["spec"], pods)
    assert not any(role.startswith("code:") for role in sources)
    assert {"daemon", "run:ingest"} <= sources


def test_external_postgres_gets_no_policy_but_pgbouncer_does(pods) -> None:
    policies = policies_of({"postgres": {"bundled": {"enabled": False}, "host": "pg", "existingSecret": "pg"}})
    assert "dagster-platform-postgres" not in policies
    assert allowed_sources(policies["dagster-platform-pgbouncer"], pods) == DATABASE_CLIENTS


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
    objects = render_chart(READ_ONLY)
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
