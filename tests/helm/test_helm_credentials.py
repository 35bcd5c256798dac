"""Who holds which credential in Kubernetes (issue 20): each principal's pods read its own Secret only.

- the Postgres superuser's Secret (and the object store's admin key): the bundled
  Postgres and the init Job, nothing else;
- the platform principal's Secret: the webserver and the daemon;
- each location's Secret: its code server and its run pods, as dagster_k8s builds
  them from the instance config and the location's container context;
- the instance config (every run pod's base) names no Secret at all.

Also the Secrets the platform chart generates, and the init Job that turns
them into Postgres logins (python -m platformctl.init).
"""

from __future__ import annotations

import base64
import json
import re
import shutil

import helm_python
import pytest
import yaml
from helm_harness import (
    LOCATIONS,
    PLATFORM_CHART,
    PLATFORM_VALUE_SETS,
    WORKLOAD_KINDS,
    build_run_job,
    code_server_env,
    config_map_file,
    find,
    find_all,
    pod_spec,
    render_chart,
    render_location,
)

SUPERUSER = "dagster-platform-postgres"
PLATFORM = "dagster-platform-platform-credentials"
PGBOUNCER = "dagster-platform-pgbouncer"


def own_secret(location: str) -> str:
    return f"dagster-code-{location}-credentials"


def secret_refs(workload: dict) -> set[str]:
    """Secrets a workload's containers read: env secretKeyRef, envFrom secretRef,
    secret and projected volumes (image pull secrets are the kubelet's, not the pod's)."""
    spec = pod_spec(workload)
    names = set()
    for c in spec["containers"] + spec.get("initContainers", []):
        for e in c.get("env", []):
            if ref := (e.get("valueFrom") or {}).get("secretKeyRef"):
                names.add(ref["name"])
        names |= {e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e}
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
        for source in (volume.get("projected") or {}).get("sources", []):
            if "secret" in source:
                names.add(source["secret"]["name"])
    return names


def readers(objects: list[dict]) -> dict[str, set[str]]:
    """Secret name -> the workloads (kind/name) that read it."""
    out: dict[str, set[str]] = {}
    for obj in objects:
        if obj["kind"] in WORKLOAD_KINDS:
            for name in secret_refs(obj):
                out.setdefault(name, set()).add(f"{obj['kind']}/{obj['metadata']['name']}")
    return out


def container_env(workload: dict) -> dict[str, dict]:
    return {e["name"]: e for e in pod_spec(workload)["containers"][0].get("env", [])}


RENDERS = [(f"{name}:{'upgrade' if upgrade else 'install'}", values, upgrade)
           for name, values in sorted(PLATFORM_VALUE_SETS.items()) for upgrade in (False, True)]


# ------------------------------------------------------------ the platform release


@pytest.mark.parametrize(("values", "upgrade"), [(v, u) for _, v, u in RENDERS], ids=[i for i, _, _ in RENDERS])
def test_the_superusers_secret_and_the_admin_key_reach_postgres_and_init_only(values, upgrade) -> None:
    objects = render_chart(values, upgrade=upgrade)
    by_secret = readers(objects)
    postgres = values.get("postgres", {})
    superuser = postgres.get("existingSecret") or SUPERUSER
    bundled = postgres.get("bundled", {}).get("enabled", True)
    expected = {"Job/dagster-platform-init"} | ({"StatefulSet/dagster-platform-postgres"} if bundled else set())
    assert by_secret[superuser] == expected
    if admin := values.get("s3", {}).get("existingSecret"):
        assert by_secret[admin] == {"Job/dagster-platform-init"}
    # The init Job reads the superuser's, PgBouncer's and every principal's Secret, nothing else.
    init = find(objects, "Job", "dagster-platform-init")
    assert secret_refs(init) == {superuser, PLATFORM, *map(own_secret, LOCATIONS)} | (
        {admin} if admin else set()) | ({pgbouncer_secret(values)} if pgbouncer_secret(values) else set())


def pgbouncer_secret(values: dict) -> str | None:
    pgbouncer = values.get("pgbouncer", {})
    return pgbouncer.get("existingSecret") or PGBOUNCER if pgbouncer.get("enabled", True) else None


@pytest.mark.parametrize(("values", "upgrade"), [(v, u) for _, v, u in RENDERS], ids=[i for i, _, _ in RENDERS])
def test_pgbouncers_secret_reaches_pgbouncer_and_init_only(values, upgrade) -> None:
    objects = render_chart(values, upgrade=upgrade)
    secret = pgbouncer_secret(values)
    if secret is None:
        assert not [d for d in find_all(objects, "Deployment") if d["metadata"]["name"] == PGBOUNCER]
        return
    assert readers(objects)[secret] == {"Deployment/dagster-platform-pgbouncer", "Job/dagster-platform-init"}
    # PgBouncer's pods hold no other credential.
    assert secret_refs(find(objects, "Deployment", PGBOUNCER)) == {secret}


def test_without_pgbouncer_nobody_gets_its_secret() -> None:
    objects = render_chart({"pgbouncer": {"enabled": False}})
    assert PGBOUNCER not in readers(objects)
    assert not [s for s in find_all(objects, "Secret") if s["metadata"]["name"] == PGBOUNCER]


@pytest.mark.parametrize(("values", "upgrade"), [(v, u) for _, v, u in RENDERS], ids=[i for i, _, _ in RENDERS])
def test_webserver_and_daemon_read_the_platform_principals_secret_only(values, upgrade) -> None:
    objects = render_chart(values, upgrade=upgrade)
    dagster = [d for d in find_all(objects, "Deployment") if d["metadata"]["name"] != PGBOUNCER]
    for deployment in dagster:
        component = "daemon" if deployment["metadata"]["name"].endswith("daemon") else "webserver"
        extras = set(values.get(component, {}).get("envFrom", {}).get("secrets", []))  # the user's own, by name
        assert secret_refs(deployment) == {PLATFORM} | extras, deployment["metadata"]["name"]
    assert set(readers(objects)[PLATFORM]) == {
        f"Deployment/{d['metadata']['name']}" for d in dagster} | {"Job/dagster-platform-init"}


@pytest.mark.parametrize("name", sorted(PLATFORM_VALUE_SETS))
def test_the_instance_config_names_no_secret(name) -> None:
    """Every run pod starts from the run launcher's config: a credential there would reach every location."""
    values = PLATFORM_VALUE_SETS[name]
    config = config_map_file(render_chart(values), "dagster-platform-instance", "dagster.yaml")["run_launcher"]["config"]
    assert "env" not in config["run_k8s_config"]["container_config"]
    assert config.get("env_secrets", []) == values.get("runLauncher", {}).get("envFrom", {}).get("secrets", [])
    assert "env_vars" not in config
    without_pull_secrets = {k: v for k, v in config.items() if k != "image_pull_secrets"}
    assert "secret_key_ref" not in json.dumps(without_pull_secrets)


# ------------------------------------------------------------ each location and its runs


@pytest.mark.parametrize("location", LOCATIONS)
def test_a_code_server_reads_its_own_secret_only(location) -> None:
    deployment = find(render_location(location), "Deployment")
    assert secret_refs(deployment) == {own_secret(location)}
    context = json.loads(code_server_env(location)["DAGSTER_CONTAINER_CONTEXT"])["k8s"]
    assert context["env_secrets"] == [own_secret(location)]
    assert f"DATA_BUCKET=dagster-data-{location}" in context["env_vars"]


@pytest.mark.parametrize("platform", ["default", "external-postgres-full"])
@pytest.mark.parametrize("location", LOCATIONS)
def test_a_locations_run_pods_read_its_own_secret_only(location, platform, tmp_path) -> None:
    """The Job dagster_k8s builds from the chart's dagster.yaml and the location's container context."""
    job = build_run_job(location, tmp_path, platform_values=PLATFORM_VALUE_SETS[platform])
    assert secret_refs(job) == {own_secret(location)}
    env = container_env(job)
    assert env["DATA_BUCKET"]["value"] == f"dagster-data-{location}"
    assert not {"DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "AWS_SECRET_ACCESS_KEY"} & set(env)


def test_a_locations_own_secret_and_bucket_reach_its_run_pods(tmp_path) -> None:
    job = build_run_job("transform", tmp_path, location_overrides={
        "credentials": {"existingSecret": "transform-vault"}, "dataBucket": "acme-transform",
        "envFrom": {"configMaps": [], "secrets": ["transform-api"]}})
    assert secret_refs(job) == {"transform-vault", "transform-api"}
    assert container_env(job)["DATA_BUCKET"]["value"] == "acme-transform"


# ------------------------------------------------------------ generated Secrets


def generated(objects: list[dict]) -> dict[str, dict[str, str]]:
    return {s["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in s["data"].items()}
            for s in find_all(objects, "Secret") if s["metadata"]["labels"].get("dagster-platform/principal")}


def test_each_principal_gets_a_generated_secret_on_slot_a() -> None:
    objects = render_chart(show_only=["templates/credentials.yaml"])
    assert {s["metadata"]["name"] for s in find_all(objects, "Secret")} == {PGBOUNCER, PLATFORM, *map(own_secret, LOCATIONS)}
    secrets = generated(objects)
    assert set(secrets) == {PLATFORM, *map(own_secret, LOCATIONS)}
    for name, data in secrets.items():
        principal = "platform" if name == PLATFORM else name.removeprefix("dagster-code-").removesuffix("-credentials")
        assert set(data) == {"DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD"}
        assert data["DAGSTER_PG_USER"] == f"dagster_{principal}_a"
        assert re.fullmatch(r"[A-Za-z0-9]{32}", data["DAGSTER_PG_PASSWORD"])
    assert len({d["DAGSTER_PG_PASSWORD"] for d in secrets.values()}) == len(secrets)
    for secret in find_all(objects, "Secret"):
        annotations = secret["metadata"]["annotations"]
        # The roles in Postgres outlive the release: so must their passwords.
        assert annotations["helm.sh/resource-policy"] == "keep"
        # New, so created by a hook before init reads it; adopted by the release at the next upgrade.
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert annotations["meta.helm.sh/release-name"] == "dagster-platform"
        assert annotations["meta.helm.sh/release-namespace"] == "dagster"


def test_a_brought_secret_is_used_and_none_is_generated() -> None:
    values = {"platformCredentials": {"existingSecret": "platform-vault"},
              "codeLocations": [{"name": "ingest", "host": "dagster-code-ingest", "port": 4000,
                                 "credentialsSecret": "ingest-vault", "warehouse": {"writes": ["raw"]}}]}
    objects = render_chart(values)
    assert generated(objects) == {}
    assert secret_refs(find(objects, "Deployment", "dagster-platform-daemon")) == {"platform-vault"}
    env = container_env(find(objects, "Job", "dagster-platform-init"))
    assert env["PLATFORM_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "platform-vault"
    assert env["INGEST_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "ingest-vault"


KEPT_SECRET_LOOKUP = 'lookup "v1" "Secret" .ctx.Release.Namespace .name'


def test_generated_secrets_read_back_what_the_cluster_holds() -> None:
    """Offline, `lookup` finds nothing; the template reads back a Secret of the same name."""
    text = (PLATFORM_CHART / "templates/_helpers.tpl").read_text()
    assert f"$existing := {KEPT_SECRET_LOOKUP}" in text
    assert "  name: {{ .name }}\n" in text


def test_an_upgrade_keeps_the_password_and_whatever_an_operator_added(tmp_path) -> None:
    """The chart with `lookup` answered as the cluster would after a rotation of ingest to slot b."""
    chart = tmp_path / "dagster-platform"
    shutil.copytree(PLATFORM_CHART, chart)
    template = chart / "templates/_helpers.tpl"
    held = {"DAGSTER_PG_USER": "dagster_ingest_b", "DAGSTER_PG_PASSWORD": "<new>",
            "DAGSTER_PG_PASSWORD_PREVIOUS": "<old>", "AWS_ACCESS_KEY_ID": "<key id>"}
    pgbouncer = {"password": "<pgbouncer's>"}

    def answer(data: dict[str, str]) -> str:
        return "(dict \"data\" (dict " + " ".join(f'"{k}" ("{v}" | b64enc)' for k, v in data.items()) + "))"

    template.write_text(template.read_text().replace(KEPT_SECRET_LOOKUP, (
        f'ternary {answer(held)} (ternary {answer(pgbouncer)} dict (eq .name "{PGBOUNCER}")) '
        f'(eq .name "{own_secret("ingest")}")')))
    rendered = helm_python.Chart.load(chart).render({}, name="dagster-platform", namespace="dagster", is_upgrade=True)
    objects = [o for o in yaml.safe_load_all(rendered["dagster-platform/templates/credentials.yaml"]) if o]
    secrets = generated(objects)
    assert secrets[own_secret("ingest")] == held
    assert secrets[own_secret("transform")]["DAGSTER_PG_USER"] == "dagster_transform_a"
    # The Secret that exists is an ordinary object of the release; the new one is made by a hook.
    assert find(objects, "Secret", own_secret("ingest"))["metadata"]["annotations"] == {
        "helm.sh/resource-policy": "keep"}
    assert "helm.sh/hook" in find(objects, "Secret", own_secret("transform"))["metadata"]["annotations"]
    # PgBouncer's login keeps its password too.
    kept = find(objects, "Secret", PGBOUNCER)
    assert {k: base64.b64decode(v).decode() for k, v in kept["data"].items()} == pgbouncer
    assert kept["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


# ------------------------------------------------------------ the init Job


def grants_of(values: dict) -> dict:
    """grants.json as the values declare it (platformctl.init's input)."""
    locations = values["codeLocations"]
    return {
        "principals": ["platform", *(loc["name"] for loc in locations)],
        "locations": [{"name": loc["name"],
                       "warehouse_writes": loc.get("warehouse", {}).get("writes", []),
                       "warehouse_reads": loc.get("warehouse", {}).get("reads", [])} for loc in locations],
        "buckets": [values["s3"]["logsBucket"], values["s3"]["landingBucket"],
                    *(loc.get("dataBucket") or f"dagster-data-{loc['name'].replace('_', '-')}" for loc in locations)],
    }


DEFAULTS = yaml.safe_load((PLATFORM_CHART / "values.yaml").read_text())
CUSTOM = {
    "s3": {"logsBucket": "acme-logs", "landingBucket": "acme-landing", "region": "eu-west-1"},
    "codeLocations": [
        {"name": "ingest", "host": "dagster-code-ingest", "port": 4000, "dataBucket": "acme-ingest",
         "warehouse": {"writes": ["raw", "raw_archive"]}, "objectStore": {"reads": ["landing"]}},
        {"name": "my_loc", "host": "dagster-code-my-loc", "port": 4000,
         "warehouse": {"writes": ["mine"], "reads": ["raw"]}, "objectStore": {"reads": ["ingest"]}},
    ],
}


@pytest.mark.parametrize(("values", "expected"), [
    ({}, DEFAULTS),
    (CUSTOM, {**DEFAULTS, **CUSTOM}),
], ids=["defaults", "custom"])
def test_init_runs_platformctl_with_the_values_grants(values, expected) -> None:
    objects = render_chart(values)
    job = find(objects, "Job", "dagster-platform-init")
    container = pod_spec(job)["containers"][0]
    assert container["command"] == ["python", "-m", "platformctl.init"]
    grants = json.loads(find(objects, "ConfigMap", "dagster-platform-init")["data"]["grants.json"])
    assert grants == grants_of(expected)
    # Mounted where platformctl.init reads it, with dagster.yaml for `dagster instance migrate`.
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/run/secrets/platform/grants.json"]["subPath"] == "grants.json"
    assert mounts["/opt/dagster/dagster_home/dagster.yaml"]["subPath"] == "dagster.yaml"


def test_init_gets_the_superuser_and_every_principals_login() -> None:
    objects = render_chart({**CUSTOM, "s3": {**CUSTOM["s3"], "existingSecret": "s3-admin"}})
    env = container_env(find(objects, "Job", "dagster-platform-init"))

    def ref(name: str) -> dict:
        return env[name]["valueFrom"]["secretKeyRef"]

    assert ref("DAGSTER_PG_USER") == {"name": SUPERUSER, "key": "username"}
    assert ref("DAGSTER_PG_PASSWORD") == {"name": SUPERUSER, "key": "password"}
    assert ref("AWS_ACCESS_KEY_ID") == {"name": "s3-admin", "key": "AWS_ACCESS_KEY_ID"}
    assert ref("AWS_SECRET_ACCESS_KEY") == {"name": "s3-admin", "key": "AWS_SECRET_ACCESS_KEY"}
    for principal, secret in (("PLATFORM", PLATFORM), ("INGEST", own_secret("ingest")),
                              ("MY_LOC", "dagster-code-my-loc-credentials")):
        assert ref(f"{principal}_PG_USER") == {"name": secret, "key": "DAGSTER_PG_USER"}
        assert ref(f"{principal}_PG_PASSWORD") == {"name": secret, "key": "DAGSTER_PG_PASSWORD"}
        # Present only while a rotation keeps the other slot (docs/helm-upgrade.md).
        assert ref(f"{principal}_PG_PASSWORD_PREVIOUS") == {
            "name": secret, "key": "DAGSTER_PG_PASSWORD_PREVIOUS", "optional": True}
    principals = {n.removesuffix("_PG_PASSWORD") for n in env if n.endswith("_PG_PASSWORD") and n != "DAGSTER_PG_PASSWORD"}
    assert principals == {"PLATFORM", "INGEST", "MY_LOC"}
    assert "DATA_BUCKET" not in env and "LEGACY_DATA_BUCKET" not in env


def test_init_gets_no_admin_key_unless_one_is_named() -> None:
    env = container_env(find(render_chart(), "Job", "dagster-platform-init"))
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env


def test_init_copies_the_old_shared_bucket_when_asked() -> None:
    env = container_env(find(render_chart({"s3": {"legacyDataBucket": "dagster-data"}}), "Job", "dagster-platform-init"))
    assert env["LEGACY_DATA_BUCKET"] == {"name": "LEGACY_DATA_BUCKET", "value": "dagster-data"}


def test_notes_say_who_holds_which_credential_and_which_buckets_each_needs() -> None:
    notes = helm_python.Chart.load(PLATFORM_CHART).render(CUSTOM, name="dagster-platform", namespace="dagster")[
        "dagster-platform/templates/NOTES.txt"]
    assert "Postgres superuser (Secret dagster-platform-postgres): the bundled Postgres and the init Job only" in notes
    assert "platform (Secret dagster-platform-platform-credentials): webserver and daemon" in notes
    assert "my_loc (Secret dagster-code-my-loc-credentials): its code server and its run pods" in notes
    assert "  - platform: read acme-logs\n" in notes
    assert "  - ingest: read and write acme-ingest, write acme-logs, read acme-landing\n" in notes
    assert "  - my_loc: read and write dagster-data-my-loc, write acme-logs, read acme-ingest\n" in notes
    assert "PgBouncer's lookup login (Secret dagster-platform-pgbouncer): PgBouncer and the init Job only" in notes
    # A location that deletes landing files (housekeeping) needs to write there.
    default = helm_python.Chart.load(PLATFORM_CHART).render({}, name="dagster-platform", namespace="dagster")[
        "dagster-platform/templates/NOTES.txt"]
    assert ("  - housekeeping: read and write dagster-data-housekeeping, write dagster-logs, "
            "read dagster-data-ingest, read and write dagster-landing\n") in default


def test_a_locations_notes_name_its_secret_and_the_entry_the_platform_needs() -> None:
    from helm_harness import LOCATION_CHART, location_values

    values = {**location_values("ingest"), "credentials": {"existingSecret": "ingest-vault"}}
    notes = helm_python.Chart.load(LOCATION_CHART).render(values, name="ingest", namespace="dagster")[
        "dagster-code-location/templates/NOTES.txt"]
    assert "get their credentials from the Secret\ningest-vault only, and their bucket is\ndagster-data-ingest." in notes
    assert "    credentialsSecret: ingest-vault\n" in notes
