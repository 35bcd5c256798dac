"""The extension points a platform team expects from Dagster's chart, each landing where it should.

Pod extras (labels, annotations, envFrom, volumes, init and sidecar containers,
scheduling) on webserver, daemon and code servers; run pod settings, platform-wide
and per location (runK8sConfig), checked on the Job dagster_k8s builds;
ServiceAccounts; extraManifests.
"""

from __future__ import annotations

import json

import pytest
from helm_harness import (
    LOCATION_EXTENSIONS,
    PLATFORM_VALUE_SETS,
    RUN_SCHEDULING,
    SCHEDULING,
    SMALL,
    build_run_job,
    code_server_env,
    find,
    find_all,
    pod_labels,
    pod_spec,
    render_chart,
    render_location,
)

EXTENSIONS = PLATFORM_VALUE_SETS["extensions"]
SCHEDULING_KEYS = ("nodeSelector", "affinity", "tolerations", "topologySpreadConstraints", "priorityClassName")


def scheduling(spec: dict) -> dict:
    return {k: spec[k] for k in SCHEDULING_KEYS if k in spec}


@pytest.fixture(scope="module")
def platform() -> list[dict]:
    return render_chart(EXTENSIONS)


@pytest.fixture(scope="module")
def location() -> list[dict]:
    return render_location("ingest", **LOCATION_EXTENSIONS)


# ------------------------------------------------------------ webserver and daemon


@pytest.mark.parametrize("name", ["dagster-platform-webserver", "dagster-platform-webserver-read-only",
                                  "dagster-platform-daemon"])
def test_pod_extras_land_in_the_pod(platform, name) -> None:
    component = "daemon" if name.endswith("daemon") else "webserver"
    values = EXTENSIONS[component]
    deployment = find(platform, "Deployment", name)
    spec = pod_spec(deployment)
    assert pod_labels(deployment)["team"] == "data-platform"
    assert deployment["spec"]["template"]["metadata"]["annotations"]["example.com/owner"] == component
    main = spec["containers"][0]
    assert main["name"] == component
    # The platform's shared env and credentials first, then the component's own, in order.
    assert main["envFrom"] == [
        {"configMapRef": {"name": "dagster-platform-env"}},
        {"secretRef": {"name": "dagster-platform-platform-credentials"}},
        {"configMapRef": {"name": f"{component}-settings"}},
        {"secretRef": {"name": f"{component}-secrets"}},
    ]
    assert main["volumeMounts"][-1] == {"name": "ca-bundle", "mountPath": "/etc/ssl/custom", "readOnly": True}
    assert spec["volumes"][-1] == {"name": "ca-bundle", "configMap": {"name": "ca-bundle"}}
    assert [c["name"] for c in spec["initContainers"]] == ["wait"]
    assert [c["name"] for c in spec["containers"]] == [component, "proxy"]
    # The chart's container security context, filled into the user's containers.
    for extra in (spec["initContainers"][0], spec["containers"][1]):
        assert extra["securityContext"] == main["securityContext"]
        assert extra["resources"] == SMALL


def test_a_sidecars_own_security_settings_are_kept_and_the_rest_filled_in() -> None:
    sidecar = {"name": "writer", "image": "x:1", "resources": SMALL,
               "securityContext": {"readOnlyRootFilesystem": False, "runAsUser": 20000}}
    spec = pod_spec(find(render_chart({"daemon": {"sidecarContainers": [sidecar]}}), "Deployment",
                         "dagster-platform-daemon"))
    context = spec["containers"][1]["securityContext"]
    assert context["readOnlyRootFilesystem"] is False and context["runAsUser"] == 20000
    assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
    assert context["runAsNonRoot"] is True and context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_scheduling_defaults_reach_every_pod_and_a_components_own_setting_replaces_them(platform) -> None:
    pods = {o["metadata"]["name"]: pod_spec(o) for o in platform if o["kind"] in ("Deployment", "StatefulSet", "Job", "Pod")}
    assert set(pods) == {"dagster-platform-webserver", "dagster-platform-webserver-read-only",
                         "dagster-platform-daemon", "dagster-platform-postgres", "dagster-platform-pgbouncer",
                         "dagster-platform-init", "dagster-platform-test"}
    for name, spec in pods.items():
        expected = dict(SCHEDULING)
        if name == "dagster-platform-daemon":
            expected["priorityClassName"] = "dagster-critical"
        assert scheduling(spec) == expected, name


def test_no_scheduling_is_rendered_by_default() -> None:
    for obj in render_chart():
        if obj["kind"] in ("Deployment", "StatefulSet", "Job", "Pod"):
            assert scheduling(pod_spec(obj)) == {}, obj["metadata"]["name"]


def test_nothing_extra_is_rendered_by_default() -> None:
    spec = pod_spec(find(render_chart(), "Deployment", "dagster-platform-webserver"))
    assert "initContainers" not in spec and len(spec["containers"]) == 1
    assert [v["name"] for v in spec["volumes"]] == ["dagster-home", "tmp", "instance", "workspace"]
    assert spec["containers"][0]["envFrom"] == [{"configMapRef": {"name": "dagster-platform-env"}},
                                                {"secretRef": {"name": "dagster-platform-platform-credentials"}}]


# ------------------------------------------------------------ run pods


def run_pod(job: dict) -> tuple[dict, dict, dict]:
    """(pod spec, pod metadata, run container) of a run Job."""
    template = job["spec"]["template"]
    return template["spec"], template["metadata"], template["spec"]["containers"][0]


def test_platform_run_settings_reach_every_run_pod(tmp_path) -> None:
    job = build_run_job("reports", tmp_path, platform_values=EXTENSIONS)
    spec, metadata, container = run_pod(job)
    assert spec["nodeSelector"] == RUN_SCHEDULING["nodeSelector"]
    assert spec["tolerations"] == RUN_SCHEDULING["tolerations"]
    assert spec["priorityClassName"] == "dagster-runs"
    assert metadata["labels"]["team"] == "data-platform"
    assert job["metadata"]["labels"]["team"] == "data-platform"
    assert metadata["annotations"]["example.com/cost"] == "runs"
    assert {"configMapRef": {"name": "run-settings"}} in container["envFrom"]
    assert {"secretRef": {"name": "run-secrets"}} in container["envFrom"]
    assert {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}} in spec["volumes"]
    assert {"name": "scratch", "mountPath": "/scratch"} in container["volumeMounts"]
    # The platform's own run settings are still there.
    assert metadata["labels"]["dagster-platform/release"] == "dagster-platform"
    assert metadata["labels"]["app.kubernetes.io/component"] == "run_worker"
    assert {"configMapRef": {"name": "dagster-platform-env"}} in container["envFrom"]


def test_a_locations_run_k8s_config_reaches_its_run_pods_over_the_platforms(tmp_path) -> None:
    """Maps merge key by key, lists are appended, scalars replaced (dagster_k8s' deep merge)."""
    job = build_run_job("ingest", tmp_path, platform_values=EXTENSIONS, location_overrides=LOCATION_EXTENSIONS)
    spec, metadata, container = run_pod(job)
    assert spec["nodeSelector"] == {"example.com/pool": "runs"}
    assert spec["tolerations"] == RUN_SCHEDULING["tolerations"]  # the same toleration, not twice
    assert spec["priorityClassName"] == "dagster-runs"
    assert metadata["annotations"] == {"example.com/cost": "ingest"}  # the location's value wins
    assert job["metadata"]["labels"]["team"] == "ingest"
    assert job["spec"]["activeDeadlineSeconds"] == 7200
    assert job["spec"]["ttlSecondsAfterFinished"] == 86400  # the platform's, kept
    assert container["workingDir"] == "/tmp"
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                      "limits": {"cpu": "2", "memory": "2Gi"}}  # ingest's runResources
    # The location's volumes reach its runs (not its sidecars or init containers).
    assert {"name": "ca-bundle", "configMap": {"name": "ca-bundle"}} in spec["volumes"]
    assert {"name": "ca-bundle", "mountPath": "/etc/ssl/custom", "readOnly": True} in container["volumeMounts"]
    assert {"name": "scratch", "mountPath": "/scratch"} in container["volumeMounts"]
    assert [c["name"] for c in spec["containers"]] == ["dagster"] and not spec.get("init_containers")
    assert not spec.get("initContainers")


def test_run_k8s_config_tolerations_add_to_the_platforms(tmp_path) -> None:
    extra = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
    job = build_run_job("transform", tmp_path, platform_values=EXTENSIONS,
                        location_overrides={"runK8sConfig": {"podSpecConfig": {"tolerations": [extra]}}})
    assert run_pod(job)[0]["tolerations"] == [*RUN_SCHEDULING["tolerations"], extra]


def test_run_k8s_config_is_in_the_container_context_in_dagster_k8s_keys() -> None:
    env = code_server_env("ingest", **LOCATION_EXTENSIONS)
    run = json.loads(env["DAGSTER_CONTAINER_CONTEXT"])["k8s"]["run_k8s_config"]
    assert run == {
        "container_config": {"workingDir": "/tmp", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"},
                                                                "limits": {"cpu": "2", "memory": "2Gi"}}},
        "pod_spec_config": RUN_SCHEDULING,
        "pod_template_spec_metadata": {"annotations": {"example.com/cost": "ingest"}},
        "job_spec_config": {"activeDeadlineSeconds": 7200},
        "job_metadata": {"labels": {"team": "ingest"}},
    }


def test_without_run_settings_the_container_context_is_unchanged() -> None:
    context = json.loads(code_server_env("reports")["DAGSTER_CONTAINER_CONTEXT"])["k8s"]
    assert set(context) == {"labels", "env_secrets", "env_vars", "run_k8s_config"}
    assert context["env_secrets"] == ["dagster-code-reports-credentials"]
    assert context["env_vars"] == ["DATA_BUCKET=dagster-data-reports"]
    assert context["run_k8s_config"] == {"container_config": {"resources": {
        "requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}}


# ------------------------------------------------------------ code servers


def test_code_server_extras(location) -> None:
    deployment = find(location, "Deployment", "dagster-code-ingest")
    spec = pod_spec(deployment)
    assert pod_labels(deployment)["team"] == "data-platform"
    assert scheduling(spec) == SCHEDULING
    assert [c["name"] for c in spec["initContainers"]] == ["wait"]
    assert [c["name"] for c in spec["containers"]] == ["code-server", "proxy"]
    main = spec["containers"][0]
    assert main["envFrom"] == [
        {"configMapRef": {"name": "dagster-platform-env"}},
        {"secretRef": {"name": "dagster-code-ingest-credentials"}},
        {"configMapRef": {"name": "ingest-settings"}},
        {"secretRef": {"name": "ingest-secrets"}},
    ]
    assert main["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"},
                                    {"name": "ca-bundle", "mountPath": "/etc/ssl/custom", "readOnly": True}]


def test_code_server_service_account(location) -> None:
    sa = find(location, "ServiceAccount", "dagster-code-ingest")
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/ingest"}
    assert sa["automountServiceAccountToken"] is False
    spec = pod_spec(find(location, "Deployment"))
    assert spec["serviceAccountName"] == "dagster-code-ingest"
    assert spec["automountServiceAccountToken"] is False


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"serviceAccount": {"create": False, "name": "ingest-identity"}}, "ingest-identity"),
    ({"global": {"serviceAccountName": "dagster-shared"}}, "dagster-shared"),
], ids=["existing", "global"])
def test_code_server_can_use_an_existing_service_account(overrides, expected) -> None:
    objects = render_location("ingest", **overrides)
    assert not find_all(objects, "ServiceAccount")
    assert pod_spec(find(objects, "Deployment"))["serviceAccountName"] == expected


# ------------------------------------------------------------ platform ServiceAccounts


def test_platform_service_accounts_by_default() -> None:
    objects = render_chart()
    assert {o["metadata"]["name"] for o in find_all(objects, "ServiceAccount")} == {
        "dagster-platform", "dagster-platform-run"}


@pytest.mark.parametrize(("values", "web", "run", "created"), [
    ({"serviceAccount": {"create": False, "name": "dagster-ops", "run": {"create": True}}},
     "dagster-ops", "dagster-platform-run", {"dagster-platform-run"}),
    ({"global": {"serviceAccountName": "dagster-shared"}},
     "dagster-shared", "dagster-platform-run", {"dagster-platform-run"}),
    ({"serviceAccount": {"create": True, "run": {"create": False, "name": "dagster-runs"}}},
     "dagster-platform", "dagster-runs", {"dagster-platform"}),
    ({"serviceAccount": {"create": True, "name": "dagster-ui", "run": {"create": True, "name": "dagster-jobs"}}},
     "dagster-ui", "dagster-jobs", {"dagster-ui", "dagster-jobs"}),
], ids=["existing", "global", "existing-run", "named"])
def test_platform_service_accounts_can_be_named_or_brought(values, web, run, created, tmp_path) -> None:
    objects = render_chart(values)
    assert {o["metadata"]["name"] for o in find_all(objects, "ServiceAccount")} == created
    for name in ("dagster-platform-webserver", "dagster-platform-daemon"):
        assert pod_spec(find(objects, "Deployment", name))["serviceAccountName"] == web
    assert find(objects, "RoleBinding")["subjects"][0]["name"] == web
    job = build_run_job("ingest", tmp_path, platform_values=values)
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == run


def test_service_account_annotations(platform) -> None:
    accounts = {o["metadata"]["name"]: o for o in find_all(platform, "ServiceAccount")}
    assert accounts["dagster-platform"]["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/dagster"}
    assert accounts["dagster-platform-run"]["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/runs"}


# ------------------------------------------------------------ extraManifests


def test_extra_manifests_render_objects_and_strings_through_tpl(platform, location) -> None:
    config_map = find(platform, "ConfigMap", "dagster-platform-extra")
    assert config_map["data"] == {"release": "dagster-platform"}
    assert find(platform, "Secret", "dagster-platform-extra")["stringData"] == {"token": "placeholder"}
    assert find(location, "ConfigMap", "ingest-extra")["data"] == {"a": "b"}


def test_no_extra_manifests_by_default() -> None:
    assert render_chart(show_only=["templates/extra-manifests.yaml"]) == []
    assert {o["metadata"]["name"] for o in render_location("ingest")} == {"dagster-code-ingest"}
