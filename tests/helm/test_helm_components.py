"""One test class per component of the two charts."""

from __future__ import annotations

import json

import pytest
from helm_harness import (
    LOCATION_CHART,
    build_run_job,
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
            "dagster-webserver",
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
        # Dagster's own daemon, with nothing of ours around it (docs/adr/0005).
        assert c["command"] == ["dagster-daemon", "run", "-w", "/opt/dagster/dagster_home/workspace.yaml"]
        assert c["livenessProbe"]["exec"]["command"] == [
            "dagster-daemon",
            "liveness-check",
        ]
        # Run-history retention is the housekeeping location's schedule; the sensor loop is Dagster's.
        assert "env" not in c

    def test_retention_and_sensor_loop_values_are_gone(self) -> None:
        """Chart 0.4 removed them: the schema refuses them rather than ignoring them."""
        import helm_python

        for values in ({"runRetention": {"days": 30, "intervalSeconds": 3600}}, {"daemon": {"sensorLoopSeconds": 1}}):
            with pytest.raises(helm_python.HelmValuesError, match="additional properties '(runRetention|sensorLoopSeconds)'"):
                render_chart(values)

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
        # Dagster's processes go through PgBouncer, which points at the external server.
        assert find(objects, "ConfigMap", "dagster-platform-env")["data"]["DAGSTER_PG_HOST"] == "dagster-platform-pgbouncer"
        ini = find(objects, "ConfigMap", "dagster-platform-pgbouncer")["data"]["pgbouncer.ini"]
        assert "* = host=pg.internal port=5432\n" in ini
        # The superuser's Secret reaches the init Job only, which goes to Postgres directly.
        env = {
            e["name"]: e
            for e in container(objects, "Job", "dagster-platform-init")["env"]
        }
        assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "pg",
            "key": "pw",
        }
        assert env["DAGSTER_PG_HOST"]["value"] == "pg.internal"
        daemon = container(objects, "Deployment", "dagster-platform-daemon")
        assert "DAGSTER_PG_PASSWORD" not in {e["name"] for e in daemon.get("env", [])}
        instance = config_map_file(objects, "dagster-platform-instance", "dagster.yaml")
        assert "env" not in instance["run_launcher"]["config"]["run_k8s_config"]["container_config"]


PGBOUNCER = "dagster-platform-pgbouncer"
NO_PGBOUNCER = {"pgbouncer": {"enabled": False}}


def init_env(objects: list[dict]) -> dict[str, dict]:
    return {e["name"]: e for e in container(objects, "Job", "dagster-platform-init")["env"]}


class TestPgBouncer:
    def test_every_dagster_process_goes_through_it_and_init_goes_direct(self) -> None:
        objects = render_chart()
        env = find(objects, "ConfigMap", "dagster-platform-env")["data"]
        assert (env["DAGSTER_PG_HOST"], env["DAGSTER_PG_PORT"]) == (PGBOUNCER, "6432")
        service = find(objects, "Service", PGBOUNCER)["spec"]
        assert service["ports"] == [{"name": "pgbouncer", "port": 6432, "targetPort": "pgbouncer", "protocol": "TCP"}]
        init = init_env(objects)
        assert (init["DAGSTER_PG_HOST"]["value"], init["DAGSTER_PG_PORT"]["value"]) == ("dagster-platform-postgres", "5432")
        # init gives the lookup login its password (and creates its function) only when it gets one.
        assert init["PGBOUNCER_AUTH_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": PGBOUNCER, "key": "password"}

    def test_disabled_every_pod_goes_to_postgres_and_init_creates_no_lookup_login(self) -> None:
        objects = render_chart(NO_PGBOUNCER)
        assert not [o for o in objects if o["metadata"]["name"] == PGBOUNCER]
        env = find(objects, "ConfigMap", "dagster-platform-env")["data"]
        assert (env["DAGSTER_PG_HOST"], env["DAGSTER_PG_PORT"]) == ("dagster-platform-postgres", "5432")
        assert "PGBOUNCER_AUTH_PASSWORD" not in init_env(objects)
        external = render_chart({**NO_PGBOUNCER, "postgres": {"bundled": {"enabled": False}, "host": "pg.internal",
                                                              "port": 6543, "existingSecret": "pg"}})
        env = find(external, "ConfigMap", "dagster-platform-env")["data"]
        assert (env["DAGSTER_PG_HOST"], env["DAGSTER_PG_PORT"]) == ("pg.internal", "6543")

    def test_pod_runs_the_pinned_image_as_its_own_user(self) -> None:
        deployment = find(render_chart(), "Deployment", PGBOUNCER)
        spec = pod_spec(deployment)
        c = spec["containers"][0]
        assert c["image"] == "docker.io/edoburu/pgbouncer:v1.25.2-p0"
        assert c["command"] == ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]
        assert spec["securityContext"]["runAsUser"] == 70 and spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert c[probe]["tcpSocket"] == {"port": "pgbouncer"}
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert mounts["/etc/pgbouncer"] == "config" and mounts["/run/secrets/platform"] == "userlist"
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["config"]["configMap"]["name"] == PGBOUNCER
        # The password is written to memory, never to the node's disk.
        assert volumes["userlist"]["emptyDir"]["medium"] == "Memory"
        digest = "sha256:" + "b" * 64
        pinned = find(render_chart({"pgbouncer": {"image": {"registry": "r.example", "repository": "pgbouncer",
                                                             "tag": "1", "digest": digest}}}), "Deployment", PGBOUNCER)
        assert pod_spec(pinned)["containers"][0]["image"] == f"r.example/pgbouncer@{digest}"

    @pytest.mark.parametrize("password", ["s3cr3tPassw0rd", 'with "quotes" and spaces\n'])
    def test_the_userlist_it_writes_holds_the_lookup_login_and_its_password(self, tmp_path, password) -> None:
        """The init container's own command, run here with its mounts in a temporary folder."""
        import subprocess

        spec = pod_spec(find(render_chart(), "Deployment", PGBOUNCER))
        [init] = spec["initContainers"]
        secret, userlist = tmp_path / "secret", tmp_path / "userlist"
        secret.mkdir()
        userlist.mkdir()
        (secret / "password").write_text(password)
        mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
        script = init["command"][2].replace(mounts["secret"], str(secret)).replace(mounts["userlist"], str(userlist))
        subprocess.run([*init["command"][:2], script], check=True, timeout=30)
        # PgBouncer's auth_file format: "user" "password", a '"' in either doubled.
        expected = password.rstrip("\n").replace('"', '""')
        assert (userlist / "userlist.txt").read_text() == f'"dagster_pgbouncer" "{expected}"\n'
        assert (userlist / "userlist.txt").stat().st_mode & 0o077 == 0
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["secret"]["secret"] == {"secretName": PGBOUNCER, "items": [{"key": "password", "path": "password"}]}

    def test_generated_secret_is_kept_and_made_before_init(self) -> None:
        objects = render_chart()
        secret = find(objects, "Secret", PGBOUNCER)
        assert set(secret["data"]) == {"password"}
        annotations = secret["metadata"]["annotations"]
        assert annotations["helm.sh/resource-policy"] == "keep"
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"

    def test_an_existing_secret_replaces_the_generated_one(self) -> None:
        objects = render_chart({"pgbouncer": {"existingSecret": "pgb-vault", "secretKeys": {"password": "pw"}}})
        assert not [s for s in find_all(objects, "Secret") if s["metadata"]["name"] == PGBOUNCER]
        volumes = {v["name"]: v for v in pod_spec(find(objects, "Deployment", PGBOUNCER))["volumes"]}
        assert volumes["secret"]["secret"] == {"secretName": "pgb-vault", "items": [{"key": "pw", "path": "password"}]}
        assert init_env(objects)["PGBOUNCER_AUTH_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "pgb-vault", "key": "pw"}

    def test_pool_sizes_follow_values(self) -> None:
        ini = find(render_chart({"pgbouncer": {"maxClientConn": 500, "defaultPoolSize": 5, "maxDbConnections": 90}}),
                   "ConfigMap", PGBOUNCER)["data"]["pgbouncer.ini"]
        assert {"max_client_conn = 500", "default_pool_size = 5", "max_db_connections = 90"} <= set(ini.splitlines())

    def test_budget_can_be_turned_off(self) -> None:
        objects = render_chart({"pgbouncer": {"pdb": {"enabled": False, "maxUnavailable": 1}}})
        assert not [p for p in find_all(objects, "PodDisruptionBudget") if p["metadata"]["name"] == PGBOUNCER]
        assert find(render_chart(), "PodDisruptionBudget", PGBOUNCER)["spec"]["maxUnavailable"] == 1


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

    @pytest.mark.parametrize("values", [{}, NO_PGBOUNCER], ids=["pgbouncer", "no-pgbouncer"])
    def test_inline_env_matches_env_configmap_but_goes_to_postgres_directly(self, values) -> None:
        objects = render_chart(values)
        job_env = {
            e["name"]: e.get("value")
            for e in pod_spec(find(objects, "Job"))["containers"][0]["env"]
        }
        shared = find(objects, "ConfigMap", "dagster-platform-env")["data"]
        direct = {"DAGSTER_PG_HOST": "dagster-platform-postgres", "DAGSTER_PG_PORT": "5432"}
        assert {k: job_env[k] for k in shared} == {**shared, **direct}

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

    def test_other_locations_buckets_it_declares_reach_its_code_server_and_runs(self, tmp_path) -> None:
        """housekeeping reads ingest's archive: INGEST_BUCKET, from objectStore, never typed into env."""
        env = {e["name"]: e.get("value") for e in container(render_location("housekeeping"), "Deployment",
                                                             "dagster-code-housekeeping")["env"]}
        assert env["INGEST_BUCKET"] == "dagster-data-ingest"
        assert "LANDING_BUCKET" not in env  # the platform's env ConfigMap holds it
        context = json.loads(env["DAGSTER_CONTAINER_CONTEXT"])["k8s"]
        assert context["env_vars"][:2] == ["DATA_BUCKET=dagster-data-housekeeping", "INGEST_BUCKET=dagster-data-ingest"]
        job = build_run_job("housekeeping", tmp_path)
        run_env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert run_env["INGEST_BUCKET"] == "dagster-data-ingest"
        assert run_env["DAGSTER_RUN_RETENTION_DAYS"] == "90"

    def test_a_renamed_bucket_of_another_location_follows_bucket_names(self) -> None:
        store = {"reads": ["ingest", "my_loc"], "writes": ["landing"], "bucketNames": {"ingest": "acme-ingest"}}
        env = {e["name"]: e.get("value") for e in container(render_location("housekeeping", objectStore=store),
                                                             "Deployment", "dagster-code-housekeeping")["env"]}
        assert (env["INGEST_BUCKET"], env["MY_LOC_BUCKET"]) == ("acme-ingest", "dagster-data-my-loc")

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
    ("platform", "Deployment", "dagster-platform-webserver", {"runMonitoring": {"maxRuntimeSeconds": 3600}}),
    ("platform", "Deployment", "dagster-platform-pgbouncer", {"pgbouncer": {"defaultPoolSize": 20}}),
    ("location", "Deployment", "dagster-code-ingest", {"env": {"EXTRA": "1"}}),
])
def test_a_config_change_rolls_the_workloads_pods(chart, kind, workload, change) -> None:
    def checksum(values):
        objects = render_chart(values) if chart == "platform" else render_location("ingest", **values)
        return find(objects, kind, workload)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum({}) == checksum({})
    assert checksum(change) != checksum({})
