"""One instance configuration: dagster.yaml. The benchmark's reference profile
(bench/profiles/reference.yaml) and the Helm chart's dagster.yaml (its
`instanceYaml` template, rendered) are checked against it key by key: each may
differ only under the keys listed below, each with its reason; everything else
must be equal. An allowance under which nothing differs any more fails too, so
the lists stay true.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.helm_harness import config_map_file, render_chart

ROOT = Path(__file__).resolve().parents[1]
OURS = yaml.safe_load((ROOT / "dagster.yaml").read_text())
REFERENCE = yaml.safe_load((ROOT / "bench/profiles/reference.yaml").read_text())

# Where the reference may differ: it is Dagster's defaults as deploy_docker configures them
# (bench/profiles/reference.yaml's header), so what ours adds is exactly what the benchmark measures.
REFERENCE_DIFFERS = {
    "storage.postgres.should_autocreate_tables": "deploy_docker lets every process create Dagster's tables; "
                                                 "ours leaves that to init, the one login allowed to",
    "scheduler": "deploy_docker names Dagster's default scheduler; ours leaves the same default implicit",
    "run_coordinator": "the QueuedRunCoordinator with its defaults (deploy_docker's module path); ours adds "
                       "per-location limits and a 0.5 s dequeue (docs/adr/0008)",
    "sensors": "ours ticks sensors in a thread pool; Dagster's default runs them one after another",
    "schedules": "the same for schedules",
    "run_launcher.module": "Dagster's DockerRunLauncher; ours extends it (docs/adr/0002)",
    "run_launcher.class": "the same",
    "run_launcher.config.remove_finished_after_seconds": "ours keeps an ended run's container 5 minutes (its "
                                                        "last log lines for a failure), then removes it",
    "run_launcher.config.container_kwargs.auto_remove": "deploy_docker removes a run's container when it exits",
    "run_launcher.config.env_vars": "MALLOC_ARENA_MAX: the reference runs glibc's default malloc arenas; "
                                    "DAGSTER_EVENT_BATCH_SIZE: and writes every event on its own",
    "compute_logs": "deploy_docker keeps compute logs on the run container's disk (Dagster's default)",
    "run_monitoring": "Dagster's default: off",
    "run_retries": "Dagster's default: off",
    "retention": "Dagster's default: tick history kept forever",
}

# Where the Helm chart's instance may differ: what Kubernetes itself changes. Values are
# rendered with an S3 endpoint, as the compose stack has one (SeaweedFS).
HELM_VALUES = {"s3": {"endpointUrl": "http://s3:8333"}}
HELM_DIFFERS = {
    "run_launcher": "Kubernetes runs each run as a Job (dagster_k8s.K8sRunLauncher: namespace, service "
                    "account, pod and container settings); compose as a container on the platform network",
    "compute_logs.config.local_dir": "pods write only their emptyDir volumes; /tmp is one",
    "run_monitoring.start_timeout_seconds": "a run's pod may wait for a node and pull its image from a registry "
                                            "(values runMonitoring.startTimeoutSeconds); compose starts local images",
}


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """{dotted.key: leaf value}; lists are leaves."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def differences(ours: dict, other: dict) -> dict[str, tuple[Any, Any]]:
    a, b = flat(ours), flat(other)
    missing = "<missing>"
    return {key: (a.get(key, missing), b.get(key, missing)) for key in sorted(set(a) | set(b))
            if a.get(key, missing) != b.get(key, missing)}


def under(key: str, prefixes: dict[str, str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def check(other: dict, allowed: dict[str, str]) -> tuple[dict, list[str]]:
    """(differences outside `allowed`, allowances under which nothing differs)."""
    diff = differences(OURS, other)
    unexplained = {key: values for key, values in diff.items() if not under(key, allowed)}
    unused = [prefix for prefix in allowed if not any(under(key, {prefix: ""}) for key in diff)]
    return unexplained, unused


def helm_instance() -> dict:
    return config_map_file(render_chart(HELM_VALUES), "dagster-platform-instance", "dagster.yaml")


def test_the_reference_profile_differs_from_dagster_yaml_only_where_the_benchmark_means_it():
    unexplained, unused = check(REFERENCE, REFERENCE_DIFFERS)
    assert unexplained == {}, "bench/profiles/reference.yaml drifted from dagster.yaml"
    assert unused == []
    ours = set(OURS["run_launcher"]["config"]["env_vars"])
    assert ours - set(REFERENCE["run_launcher"]["config"]["env_vars"]) == {"MALLOC_ARENA_MAX", "DAGSTER_EVENT_BATCH_SIZE"}


def test_the_helm_instance_differs_from_dagster_yaml_only_where_kubernetes_does():
    unexplained, unused = check(helm_instance(), HELM_DIFFERS)
    assert unexplained == {}, "the Helm chart's instanceYaml drifted from dagster.yaml"
    assert unused == []


@pytest.mark.parametrize(("edit", "key"), [
    (lambda d: d["storage"]["postgres"]["postgres_db"].update(port={"env": "PGPORT"}),
     "storage.postgres.postgres_db.port.env"),
    (lambda d: d["telemetry"].update(enabled=True), "telemetry.enabled"),
    (lambda d: d["run_launcher"]["config"].update(network="elsewhere"), "run_launcher.config.network"),
])
def test_a_drift_outside_the_allowances_is_named(edit, key):
    drifted = yaml.safe_load((ROOT / "bench/profiles/reference.yaml").read_text())
    edit(drifted)
    unexplained, _ = check(drifted, REFERENCE_DIFFERS)
    assert list(unexplained) == [key]


def test_only_init_creates_dagsters_tables(tmp_path):
    """Every process runs dagster.yaml (and the chart's copy) with autocreate off;
    init migrates with the same configuration and autocreate on, nothing else changed."""
    from platformctl.init import Fatal, migrate_home

    assert OURS["storage"]["postgres"]["should_autocreate_tables"] is False
    assert helm_instance()["storage"]["postgres"]["should_autocreate_tables"] is False
    scratch = tmp_path / "migrate"
    scratch.mkdir()
    home = migrate_home(ROOT, scratch)
    migrated = yaml.safe_load((home / "dagster.yaml").read_text())
    assert differences(OURS, migrated) == {"storage.postgres.should_autocreate_tables": (False, True)}

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "dagster.yaml").write_text("run_coordinator: {}\n")
    with pytest.raises(Fatal, match=r"broken/dagster.yaml: storage.postgres is missing"):
        migrate_home(broken, scratch)
