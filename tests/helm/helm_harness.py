"""Harness for the Helm chart tests (Airflow-style `render_chart`).

Charts are rendered offline by Helm v4's own engine (helm-python-sdk); no
cluster and no helm binary are involved. Each (chart, values, release) is
rendered once per test session and cached.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate.utils as kv
import yaml

from tests.e2e.platform import LOCATIONS  # noqa: F401 - the Makefile's list, re-exported

REPO_ROOT = Path(__file__).resolve().parents[2]
HELM_DIR = REPO_ROOT / "helm"
PLATFORM_CHART = HELM_DIR / "dagster-platform"
LOCATION_CHART = HELM_DIR / "dagster-code-location"
LOCATION_VALUES_DIR = HELM_DIR / "values"

NAMESPACE = "dagster"
PLATFORM_RELEASE = "dagster-platform"

# Two ends of the supported range (Chart.yaml kubeVersion >=1.30) and the newest
# schema kubernetes-validate ships.
KUBE_VERSIONS = ("1.30.0", "1.37.0")

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob", "Pod"}


def location_values(location: str) -> dict[str, Any]:
    return yaml.safe_load((LOCATION_VALUES_DIR / f"{location}.yaml").read_text())


def values_files() -> list[Path]:
    """Every file in helm/values/: each must lint, render and validate."""
    return sorted(LOCATION_VALUES_DIR.glob("*.yaml"))


@functools.cache
def _chart(path: str) -> helm_python.Chart:
    return helm_python.Chart.load(path)


@functools.cache
def _render_cached(
    chart: str, values_json: str, name: str, upgrade: bool
) -> tuple[tuple[str, str], ...]:
    rendered = _chart(chart).render(
        json.loads(values_json), name=name, namespace=NAMESPACE,
        is_install=not upgrade, is_upgrade=upgrade,
    )
    return tuple(sorted(rendered.items()))


def render_chart(
    values: dict[str, Any] | None = None,
    *,
    chart: Path = PLATFORM_CHART,
    name: str = PLATFORM_RELEASE,
    show_only: list[str] | None = None,
    upgrade: bool = False,
) -> list[dict[str, Any]]:
    """Render `chart` and return its objects (deep copies; safe to mutate).

    `show_only` keeps only objects from those template paths, relative to the
    chart (e.g. ["templates/daemon.yaml"]), like Airflow's helper. `upgrade`
    renders as `helm upgrade` does (.Release.IsUpgrade), else as a first install.
    Offline, `lookup` finds nothing: every generated Secret is new.
    """
    rendered = _render_cached(
        str(chart), json.dumps(values or {}, sort_keys=True), name, upgrade
    )
    objects = []
    for path, text in rendered:
        rel = path.split("/", 1)[1]
        if show_only is not None and rel not in show_only:
            continue
        if not rel.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                objects.append(doc)
    return copy.deepcopy(objects)


def render_location(location: str, **overrides: Any) -> list[dict[str, Any]]:
    values = location_values(location)
    for key, value in overrides.items():
        values[key] = value
    return render_chart(values, chart=LOCATION_CHART, name=location)


SMALL = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}}
TMP = {"name": "tmp", "mountPath": "/tmp"}
PROBE = {"tcpSocket": {"port": 15000}, "periodSeconds": 10}


def extras(name: str) -> dict[str, Any]:
    """Every pod extension point of a component, each set (for the generic render tests)."""
    return {
        "podLabels": {"team": "data-platform"},
        "podAnnotations": {"example.com/owner": name},
        "envFrom": {"configMaps": [f"{name}-settings"], "secrets": [f"{name}-secrets"]},
        "volumes": [{"name": "ca-bundle", "configMap": {"name": "ca-bundle"}}],
        "volumeMounts": [{"name": "ca-bundle", "mountPath": "/etc/ssl/custom", "readOnly": True}],
        "initContainers": [{"name": "wait", "image": "registry.example.com/tools:1.0",
                            "command": ["true"], "resources": SMALL}],
        "sidecarContainers": [{"name": "proxy", "image": "registry.example.com/proxy:2.1", "resources": SMALL,
                               "volumeMounts": [TMP], "livenessProbe": PROBE, "readinessProbe": PROBE}],
    }


SCHEDULING = {
    "nodeSelector": {"example.com/pool": "dagster"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "dagster", "effect": "NoSchedule"}],
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                   "whenUnsatisfiable": "ScheduleAnyway"}],
    "priorityClassName": "dagster-high",
}
RUN_SCHEDULING = {
    "nodeSelector": {"example.com/pool": "runs"},
    "tolerations": [{"key": "runs", "operator": "Exists", "effect": "NoSchedule"}],
    "priorityClassName": "dagster-runs",
}


def find(
    objects: list[dict[str, Any]], kind: str, name: str | None = None
) -> dict[str, Any]:
    matches = [
        o
        for o in objects
        if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def find_all(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    if workload["kind"] == "Pod":
        return workload["spec"]
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    if workload["kind"] == "Pod":
        return workload["metadata"].get("labels", {})
    return workload["spec"]["template"]["metadata"].get("labels", {})


def config_map_file(
    objects: list[dict[str, Any]], name: str, key: str
) -> dict[str, Any]:
    return yaml.safe_load(find(objects, "ConfigMap", name)["data"][key])


# Named value sets of the platform chart, rendered and checked by the generic tests.
PLATFORM_VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "external-postgres-full": {
        "postgres": {
            "bundled": {"enabled": False},
            "host": "pg.example.internal",
            "existingSecret": "dagster-pg",
        },
        "s3": {
            "endpointUrl": "https://s3.example.internal",
            "existingSecret": "dagster-s3",
        },
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "host": "dagster.example.com",
            "tlsSecretName": "dagster-tls",
            "readOnly": {
                "host": "dagster-ro.example.com",
                "tlsSecretName": "dagster-ro-tls",
            },
        },
        "webserver": {"replicas": 2, "readOnly": {"enabled": True}},
        "imagePullSecrets": [{"name": "registry-credentials"}],
        "runCoordinator": {
            "tagConcurrencyLimits": [{"key": "dagster/backfill", "limit": 3}]
        },
        "extraEnv": {"EXTRA_FLAG": "1"},
        "pgbouncer": {"existingSecret": "dagster-pgbouncer", "replicas": 2, "maxDbConnections": 20},
    },
    # Every pod straight to Postgres, as before chart 0.4.
    "no-pgbouncer": {"pgbouncer": {"enabled": False}},
    # Every extension point at once, with the chart-wide scheduling defaults.
    "extensions": {
        **SCHEDULING,
        "webserver": {**extras("webserver"), "readOnly": {"enabled": True},
                      "extraArgs": ["--path-prefix", "/dagster"]},
        "daemon": {**extras("daemon"), "priorityClassName": "dagster-critical"},
        "runLauncher": {"podLabels": {"team": "data-platform"}, "podAnnotations": {"example.com/cost": "runs"},
                        "envFrom": {"configMaps": ["run-settings"], "secrets": ["run-secrets"]},
                        "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}],
                        "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}], **RUN_SCHEDULING},
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/dagster"},
                           "run": {"create": True, "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/runs"}}},
        "networkPolicy": {"webserverIngressFrom": [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "ingress-nginx"}}}]},
        "extraManifests": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "{{ .Release.Name }}-extra"},
             "data": {"release": "{{ .Release.Name }}"}},
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-extra\n"
            "stringData:\n  token: placeholder\n",
        ],
    },
}

LOCATION_EXTENSIONS: dict[str, Any] = {
    **extras("ingest"),
    **{k: v for k, v in SCHEDULING.items()},
    "serviceAccount": {"create": True, "annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/ingest"}},
    "runK8sConfig": {
        "containerConfig": {"workingDir": "/tmp"},
        "podSpecConfig": RUN_SCHEDULING,
        "podTemplateSpecMetadata": {"annotations": {"example.com/cost": "ingest"}},
        "jobSpecConfig": {"activeDeadlineSeconds": 7200},
        "jobMetadata": {"labels": {"team": "ingest"}},
    },
    "extraManifests": [{"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "{{ .Values.location.name }}-extra"}, "data": {"a": "b"}}],
}


def all_rendered_sets() -> list[tuple[str, list[dict[str, Any]]]]:
    sets = [
        (f"platform:{k}", render_chart(v))
        for k, v in sorted(PLATFORM_VALUE_SETS.items())
    ]
    sets += [(f"location:{loc}", render_location(loc)) for loc in LOCATIONS]
    sets += [("location:extensions", render_location("ingest", **LOCATION_EXTENSIONS))]
    return sets


# --- Kubernetes JSON schema (kubernetes-validate's offline, strict schemas) ---
# kubernetes_validate.validate() re-reads the large _definitions.json on every
# call; the same files are loaded once here and validators cached per kind.


@functools.cache
def _k8s_validator(version: str, kind: str, api_version: str) -> jsonschema.Validator:
    import re

    from referencing import Registry, Resource

    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema_dir = f"kubernetes-json-schema/v{version}-local-strict"
    schema = kv.schema_contents(f"{schema_dir}/{kind.lower()}-{group}.json", version)
    definitions = kv.schema_contents(f"{schema_dir}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (
        Resource.from_contents(schema) @ Registry()
    )
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def k8s_validate(obj: dict, version: str) -> None:
    """Raise jsonschema.ValidationError if `obj` is invalid for Kubernetes `version`."""
    _k8s_validator(version, obj["kind"], obj["apiVersion"]).validate(obj)


# --- Code servers and the run pods dagster_k8s builds from our config ---


def code_server_env(location: str, **overrides: Any) -> dict[str, str]:
    objects = render_location(location, **overrides)
    container = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def build_run_job(location: str, tmp_path, platform_values: dict | None = None,
                  location_overrides: dict | None = None) -> dict:
    """The Job dagster_k8s builds for a run of `location`, on this chart's dagster.yaml.

    `location_overrides` replace top-level keys of the location's values file.

    Mirrors K8sRunLauncher._launch_k8s_job_with_args (dagster-k8s 0.29): the
    launcher's config merged with the location's container context.
    """
    from dagster._config import process_config, resolve_to_config_type
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import construct_dagster_k8s_job
    from kubernetes.client import ApiClient

    instance = config_map_file(
        render_chart(platform_values), "dagster-platform-instance", "dagster.yaml"
    )
    config = process_config(
        resolve_to_config_type(K8sRunLauncher.config_type()),
        instance["run_launcher"]["config"],
    ).value
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    config.update(load_incluster_config=False, kubeconfig_file=str(kubeconfig))
    launcher = K8sRunLauncher(**config)

    env = code_server_env(location, **(location_overrides or {}))
    origin = SimpleNamespace(
        container_context=json.loads(env["DAGSTER_CONTAINER_CONTEXT"])
    )
    run = SimpleNamespace(
        job_code_origin=SimpleNamespace(repository_origin=origin), tags={}
    )
    context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=False)
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(
            job_image=env["DAGSTER_CURRENT_IMAGE"], run_launcher=launcher
        ),
        args=["dagster", "api", "execute_run", "{}"],
        job_name="dagster-run-0123456789abcdef",
        pod_name="dagster-run-0123456789abcdef",
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={
            "dagster/job": "a_job",
            "dagster/run-id": "0123",
            "dagster/code-location": location,
        },
        env_vars=[{"name": "DAGSTER_RUN_JOB_NAME", "value": "a_job"}],
    )
    return ApiClient().sanitize_for_serialization(job)
