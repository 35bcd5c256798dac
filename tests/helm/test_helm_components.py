"""One test class per component of the two charts."""

from __future__ import annotations

import json

import pytest
from helm_harness import (
    LOCATION_CHART,
    LOCATIONS,
    all_rendered_sets,
    config_map_file,
    find,
    find_all,
    location_values,
    pod_labels,
    pod_spec,
    render_chart,
    render_location,
)


def container(objects, kind, name):
    return pod_spec(find(objects, kind, name))["containers"][0]


class TestWebserver:
    def test_command_and_service(self) -> None:
        objects = render_chart(show_only=["templates/webserver.yaml"])
        c = container(objects, "Deployment", "dagster-platform-webserver")
        assert c["command"] == [
            "python",
            "-m",
            "platform_services.webserver",
            "-h",
            "0.0.0.0",
            "-p",
            "3000",
            "-w",
            "/opt/dagster/dagster_home/workspace.yaml",
        ]
        svc = find(objects, "Service", "dagster-platform-webserver")
        assert svc["spec"]["ports"][0]["targetPort"] == "http"
        assert not any(o["metadata"]["name"].endswith("read-only") for o in objects)

    def test_read_only_webserver(self) -> None:
        objects = render_chart(
            {"webserver": {"readOnly": {"enabled": True}}},
            show_only=["templates/webserver.yaml"],
        )
        c = container(objects, "Deployment", "dagster-platform-webserver-read-only")
        assert c["command"][-1] == "--read-only"
        assert (
            "--read-only"
            not in container(objects, "Deployment", "dagster-platform-webserver")[
                "command"
            ]
        )
        assert find(objects, "Service", "dagster-platform-webserver-read-only")
        assert find(
            objects, "PodDisruptionBudget", "dagster-platform-webserver-read-only"
        )

    def test_config_change_rolls_pods(self) -> None:
        def checksum(values):
            d = find(render_chart(values), "Deployment", "dagster-platform-webserver")
            return d["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

        base = checksum({})
        assert checksum({}) == base
        assert checksum({"runCoordinator": {"maxConcurrentRuns": 3}}) != base
        assert (
            checksum(
                {
                    "codeLocations": [
                        {"name": "ingest", "host": "dagster-code-ingest", "port": 4000}
                    ]
                }
            )
            != base
        )
        assert checksum({"s3": {"region": "eu-west-1"}}) != base

    def test_credentials_are_the_platform_principals_own_secret(self) -> None:
        """Not the superuser's (s3.existingSecret is init's admin key): envFrom of its own Secret."""
        objects = render_chart({"s3": {"existingSecret": "s3-creds"}})
        c = container(objects, "Deployment", "dagster-platform-webserver")
        assert c["envFrom"] == [
            {"configMapRef": {"name": "dagster-platform-env"}},
            {"secretRef": {"name": "dagster-platform-platform-credentials"}},
        ]
        assert "env" not in c


class TestDaemon:
    def test_single_replica_recreate(self) -> None:
        d = find(
            render_chart(show_only=["templates/daemon.yaml"]),
            "Deployment",
            "dagster-platform-daemon",
        )
        assert d["spec"]["replicas"] == 1
        assert d["spec"]["strategy"] == {"type": "Recreate"}
        c = pod_spec(d)["containers"][0]
        assert c["command"] == [
            "python",
            "-m",
            "platform_services.daemon",
            "run",
            "-w",
            "/opt/dagster/dagster_home/workspace.yaml",
        ]
        assert c["livenessProbe"]["exec"]["command"] == [
            "dagster-daemon",
            "liveness-check",
        ]

    def test_run_retention_settings_reach_the_daemon(self) -> None:
        def retention_env(values):
            c = container(
                render_chart(values, show_only=["templates/daemon.yaml"]),
                "Deployment",
                "dagster-platform-daemon",
            )
            return {
                e["name"]: e["value"]
                for e in c["env"]
                if e["name"].startswith("DAGSTER_RUN_RETENTION_")
            }

        assert retention_env({}) == {
            "DAGSTER_RUN_RETENTION_DAYS": "90",
            "DAGSTER_RUN_RETENTION_INTERVAL_SECONDS": "3600",
        }
        assert retention_env(
            {"runRetention": {"days": 0, "intervalSeconds": 600}}
        ) == {
            "DAGSTER_RUN_RETENTION_DAYS": "0",
            "DAGSTER_RUN_RETENTION_INTERVAL_SECONDS": "600",
        }

    def test_rendered_retention_settings_pass_the_daemons_own_check(self) -> None:
        from platform_services.retention import RetentionSettings, settings_from_env

        c = container(render_chart(), "Deployment", "dagster-platform-daemon")
        env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
        assert settings_from_env(env) == RetentionSettings(
            days=90, interval_seconds=3600
        )

    def test_the_sensor_loop_setting_reaches_the_daemon_and_passes_its_check(self) -> None:
        from platform_services.daemon import sensor_loop_seconds

        for values, expected in (({}, 1.0), ({"daemon": {"sensorLoopSeconds": 2.5}}, 2.5)):
            c = container(render_chart(values), "Deployment", "dagster-platform-daemon")
            env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
            assert sensor_loop_seconds(env) == expected

    def test_only_the_daemon_gets_the_retention_settings(self) -> None:
        objects = render_chart()
        shared = find(objects, "ConfigMap", "dagster-platform-env")["data"]
        assert not any(k.startswith("DAGSTER_RUN_RETENTION_") for k in shared)
        web = container(objects, "Deployment", "dagster-platform-webserver")
        assert not any(
            e["name"].startswith("DAGSTER_RUN_RETENTION_") for e in web.get("env", [])
        )

    def test_uses_run_launcher_service_account(self) -> None:
        objects = render_chart()
        sa = pod_spec(find(objects, "Deployment", "dagster-platform-daemon"))[
            "serviceAccountName"
        ]
        binding = find(objects, "RoleBinding")
        assert binding["subjects"][0]["name"] == sa


class TestRunLauncherRbac:
    def test_role_covers_jobs_pods_logs_events(self) -> None:
        role = find(render_chart(show_only=["templates/rbac.yaml"]), "Role")
        granted = {
            (g, r, v)
            for rule in role["rules"]
            for g in rule["apiGroups"]
            for r in rule["resources"]
            for v in rule["verbs"]
        }
        for verb in ("create", "get", "list", "watch", "delete"):
            assert ("batch", "jobs", verb) in granted
        for resource in ("pods", "pods/log", "events"):
            assert ("", resource, "get") in granted
        assert not any(v == "*" for _, _, v in granted)

    def test_run_pods_use_a_service_account_without_token(self) -> None:
        objects = render_chart()
        instance = config_map_file(objects, "dagster-platform-instance", "dagster.yaml")
        run_sa = instance["run_launcher"]["config"]["service_account_name"]
        assert (
            find(objects, "ServiceAccount", run_sa)["automountServiceAccountToken"]
            is False
        )


class TestPostgres:
    def test_bundled_statefulset_and_generated_secret(self) -> None:
        objects = render_chart(show_only=["templates/postgres.yaml"])
        sts = find(objects, "StatefulSet", "dagster-platform-postgres")
        assert sts["spec"]["replicas"] == 1
        secret = find(objects, "Secret", "dagster-platform-postgres")
        assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert set(secret["data"]) == {"username", "password"}

    def test_existing_secret_replaces_generated_one(self) -> None:
        objects = render_chart(
            {"postgres": {"existingSecret": "pg"}},
            show_only=["templates/postgres.yaml"],
        )
        assert not find_all(objects, "Secret")
        env = {
            e["name"]: e
            for e in container(objects, "StatefulSet", "dagster-platform-postgres")[
                "env"
            ]
        }
        assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "pg"

    def test_external_postgres(self) -> None:
        objects = render_chart(
            {
                "postgres": {
                    "bundled": {"enabled": False},
                    "host": "pg.internal",
                    "existingSecret": "pg",
                    "secretKeys": {"password": "pw"},
                }
            }
        )
        assert not find_all(objects, "StatefulSet")
        assert (
            find(objects, "ConfigMap", "dagster-platform-env")["data"][
                "DAGSTER_PG_HOST"
            ]
            == "pg.internal"
        )
        # The superuser's Secret reaches the init Job only.
        env = {
            e["name"]: e
            for e in container(objects, "Job", "dagster-platform-init")["env"]
        }
        assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "pg",
            "key": "pw",
        }
        daemon = container(objects, "Deployment", "dagster-platform-daemon")
        assert "DAGSTER_PG_PASSWORD" not in {e["name"] for e in daemon["env"]}
        instance = config_map_file(objects, "dagster-platform-instance", "dagster.yaml")
        assert "env" not in instance["run_launcher"]["config"]["run_k8s_config"]["container_config"]


EXTERNAL = {"postgres": {"bundled": {"enabled": False}, "host": "pg", "existingSecret": "pg"}}


def hook_of(objects: list[dict], kind: str) -> str | None:
    return (find(objects, kind, "dagster-platform-init")["metadata"].get("annotations") or {}).get("helm.sh/hook")


class TestInit:
    @pytest.mark.parametrize(("values", "upgrade"), [(EXTERNAL, False), (EXTERNAL, True), ({}, True)],
                             ids=["external-install", "external-upgrade", "bundled-upgrade"])
    def test_hook_before_rollout(self, values, upgrade) -> None:
        objects = render_chart(values, show_only=["templates/init-job.yaml"], upgrade=upgrade)
        job, cm = find(objects, "Job"), find(objects, "ConfigMap")
        assert hook_of(objects, "Job") == hook_of(objects, "ConfigMap") == "pre-install,pre-upgrade"
        assert int(cm["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
            job["metadata"]["annotations"]["helm.sh/hook-weight"]
        )
        assert pod_spec(job)["containers"][0]["command"] == ["python", "-m", "platformctl.init"]
        # The hook's own dagster.yaml is the instance's.
        instance = find(render_chart(values, upgrade=upgrade), "ConfigMap", "dagster-platform-instance")
        assert cm["data"]["dagster.yaml"] == instance["data"]["dagster.yaml"]

    def test_the_credentials_it_reads_are_created_by_an_earlier_hook(self) -> None:
        """Hooks run before ordinary objects: a Secret init reads must exist before it, on install and upgrade."""
        for upgrade in (False, True):
            objects = render_chart(EXTERNAL, upgrade=upgrade)
            init_weight = int(find(objects, "ConfigMap", "dagster-platform-init")["metadata"]["annotations"][
                "helm.sh/hook-weight"])
            read = {e["valueFrom"]["secretKeyRef"]["name"] for e in container(objects, "Job", "dagster-platform-init")[
                "env"] if "valueFrom" in e} - {"pg"}
            for name in read:
                annotations = find(objects, "Secret", name)["metadata"]["annotations"]
                assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade", name
                assert int(annotations["helm.sh/hook-weight"]) < init_weight, name

    def test_with_bundled_postgres_the_first_install_creates_it_with_the_release(self) -> None:
        """A pre-install hook would run before the bundled Postgres exists."""
        install = render_chart(show_only=["templates/init-job.yaml"])
        assert hook_of(install, "Job") is None and hook_of(install, "ConfigMap") is None
        upgrade = render_chart(show_only=["templates/init-job.yaml"], upgrade=True)
        assert pod_spec(find(install, "Job")) == pod_spec(find(upgrade, "Job"))

    def test_inline_env_matches_env_configmap(self) -> None:
        objects = render_chart()
        job_env = {
            e["name"]: e.get("value")
            for e in pod_spec(find(objects, "Job"))["containers"][0]["env"]
        }
        shared = find(objects, "ConfigMap", "dagster-platform-env")["data"]
        assert {k: job_env[k] for k in shared} == shared

    def test_can_be_disabled(self) -> None:
        objects = render_chart({"init": {"enabled": False}})
        assert not find_all(objects, "Job")
        assert not [o for o in objects if o["metadata"]["name"] == "dagster-platform-init"]


class TestIngress:
    def test_disabled_by_default(self) -> None:
        assert not find_all(render_chart(), "Ingress")

    def test_hosts_and_tls(self) -> None:
        objects = render_chart(
            {
                "ingress": {
                    "enabled": True,
                    "host": "d.example",
                    "tlsSecretName": "tls",
                    "readOnly": {"host": "ro.example"},
                },
                "webserver": {"readOnly": {"enabled": True}},
            }
        )
        ing = find(objects, "Ingress")["spec"]
        backends = {
            r["host"]: r["http"]["paths"][0]["backend"]["service"]["name"]
            for r in ing["rules"]
        }
        assert backends == {
            "d.example": "dagster-platform-webserver",
            "ro.example": "dagster-platform-webserver-read-only",
        }
        assert ing["tls"] == [{"hosts": ["d.example"], "secretName": "tls"}]


class TestCodeLocation:
    def test_code_server_command(self) -> None:
        for location in LOCATIONS:
            c = container(
                render_location(location), "Deployment", f"dagster-code-{location}"
            )
            assert c["command"][:7] == [
                "dagster",
                "api",
                "grpc",
                "-h",
                "0.0.0.0",
                "-p",
                "4000",
            ]
            assert c["command"][7:9] == ["-m", f"{location}.definitions"]
            # One process, and a load error is served to the UI instead of crashing the pod.
            assert c["command"][9:] == ["--location-name", location, "--lazy-load-user-code"]
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert c[probe]["exec"]["command"] == ["python", "-m", "platform_services.health", "4000"]

    def test_env_from_configmaps_and_secrets(self) -> None:
        objects = render_location(
            "reports", envFrom={"configMaps": ["r-cfg"], "secrets": ["r-sec"]}
        )
        c = container(objects, "Deployment", "dagster-code-reports")
        assert c["envFrom"] == [
            {"configMapRef": {"name": "dagster-platform-env"}},
            {"secretRef": {"name": "dagster-code-reports-credentials"}},
            {"configMapRef": {"name": "r-cfg"}},
            {"secretRef": {"name": "r-sec"}},
        ]
        ctx = json.loads(
            {e["name"]: e.get("value") for e in c["env"]}["DAGSTER_CONTAINER_CONTEXT"]
        )
        assert ctx["k8s"]["env_config_maps"] == ["r-cfg"]
        assert ctx["k8s"]["env_secrets"] == ["dagster-code-reports-credentials", "r-sec"]

    def test_image_upgrade_touches_only_that_release(self) -> None:
        before = {loc: render_location(loc) for loc in LOCATIONS}
        values = location_values("ingest")
        values["image"]["tag"] = "0.2.0"
        after = render_chart(values, chart=LOCATION_CHART, name="ingest")
        assert after != before["ingest"]
        # The platform release does not name location images at all.
        assert "dagster-platform/ingest:" not in json.dumps(render_chart())

    def test_credentials_and_bucket_are_the_locations_own(self) -> None:
        def of(**overrides):
            c = container(render_location("transform", **overrides), "Deployment", "dagster-code-transform")
            env = {e["name"]: e.get("value") for e in c["env"]}
            context = json.loads(env["DAGSTER_CONTAINER_CONTEXT"])["k8s"]
            secrets = [e["secretRef"]["name"] for e in c["envFrom"] if "secretRef" in e]
            return secrets, env["DATA_BUCKET"], context["env_secrets"], context["env_vars"]

        assert of() == (["dagster-code-transform-credentials"], "dagster-data-transform",
                        ["dagster-code-transform-credentials"], ["DATA_BUCKET=dagster-data-transform"])
        assert of(credentials={"existingSecret": "transform-vault"}, dataBucket="acme-transform") == (
            ["transform-vault"], "acme-transform", ["transform-vault"], ["DATA_BUCKET=acme-transform"])

    def test_a_location_name_with_underscores_maps_to_its_secret_and_bucket(self) -> None:
        values = {**location_values("ingest"), "location": {"name": "my_loc", "module": "my_loc.definitions"}}
        c = container(render_chart(values, chart=LOCATION_CHART, name="my-loc"), "Deployment", "dagster-code-my-loc")
        assert {"secretRef": {"name": "dagster-code-my-loc-credentials"}} in c["envFrom"]
        assert {"name": "DATA_BUCKET", "value": "dagster-data-my-loc"} in c["env"]
        platform = render_chart({"codeLocations": [{"name": "my_loc", "host": "dagster-code-my-loc", "port": 4000}]})
        secret = find(platform, "Secret", "dagster-code-my-loc-credentials")
        assert secret["metadata"]["labels"]["dagster-platform/principal"] == "my_loc"


# ------------------------------------------------------ across every workload

@pytest.mark.parametrize(("name", "objects"), all_rendered_sets(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_disruption_budget_selects_exactly_one_workloads_pods(name, objects) -> None:
    workloads = [o for o in objects if o["kind"] in {"Deployment", "StatefulSet"}]
    budgets = find_all(objects, "PodDisruptionBudget")
    assert budgets, name
    covered = []
    for pdb in budgets:
        selector = pdb["spec"]["selector"]["matchLabels"]
        selected = [w["metadata"]["name"] for w in workloads if selector.items() <= pod_labels(w).items()]
        assert len(selected) == 1, (name, pdb["metadata"]["name"], selected)
        covered += selected
    assert len(covered) == len(set(covered)), covered


@pytest.mark.parametrize(("chart", "kind", "workload", "change"), [
    ("platform", "Deployment", "dagster-platform-daemon", {"runCoordinator": {"maxConcurrentRuns": 3}}),
    ("platform", "Deployment", "dagster-platform-webserver", {"postgres": {"pool": {
        "size": 3, "maxOverflow": 8, "recycleSeconds": 3600}}}),
    ("location", "Deployment", "dagster-code-ingest", {"env": {"EXTRA": "1"}}),
])
def test_a_config_change_rolls_the_workloads_pods(chart, kind, workload, change) -> None:
    def checksum(values):
        objects = render_chart(values) if chart == "platform" else render_location("ingest", **values)
        return find(objects, kind, workload)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum({}) == checksum({})
    assert checksum(change) != checksum({})
