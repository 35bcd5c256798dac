"""The charts name dg.toml's locations: the platform chart's default codeLocations (generated in
place by platformctl.generate) and one helm/values/<name>.yaml each (written when missing, then
the operators'). The rest of the list's consistency is tests/test_consistency.py; the instance
configuration against dagster.yaml is tests/test_instance_config.py.
"""

from __future__ import annotations

import yaml
from helm_harness import (
    LOCATION_VALUES_DIR,
    LOCATIONS,
    PLATFORM_CHART,
    REPO_ROOT,
    location_values,
)


def helm_values_locations() -> list[str]:
    return sorted(location_values(p.stem)["location"]["name"] for p in LOCATION_VALUES_DIR.glob("*.yaml"))


def platform_default_locations() -> list[dict]:
    return yaml.safe_load((PLATFORM_CHART / "values.yaml").read_text())["codeLocations"]


def test_the_platform_chart_lists_every_location_by_name_host_and_port() -> None:
    assert [(e["name"], e["host"], e["port"]) for e in platform_default_locations()] == [
        (name, f"dagster-code-{name.replace('_', '-')}", 4000) for name in LOCATIONS]


def test_each_location_has_one_values_file() -> None:
    assert helm_values_locations() == sorted(LOCATIONS)


def test_values_files_are_named_after_their_location() -> None:
    for path in LOCATION_VALUES_DIR.glob("*.yaml"):
        values = location_values(path.stem)
        assert values["location"]["name"] == path.stem
        assert values["location"]["module"] == f"{path.stem}.definitions"
        assert values["image"]["repository"] == f"dagster-platform/{path.stem}"


def test_pgbouncer_ini_is_composes_but_for_the_postgres_it_points_at() -> None:
    """The chart's pgbouncer.ini (default values) and platformctl.credentials.pgbouncer_ini(),
    compared setting by setting; only [databases] names another host."""
    import configparser

    from helm_harness import find, render_chart
    from platformctl import principals as pr
    from platformctl.credentials import PGBOUNCER_USERS_FILE, SECRETS_MOUNT, pgbouncer_ini

    def parse(text: str) -> dict[str, dict[str, str]]:
        parser = configparser.ConfigParser(interpolation=None, comment_prefixes=(";",))
        parser.optionxform = str  # keys as written
        parser.read_string(text)
        return {section: dict(parser[section]) for section in parser.sections()}

    helm = parse(find(render_chart(), "ConfigMap", "dagster-platform-pgbouncer")["data"]["pgbouncer.ini"])
    compose = parse(pgbouncer_ini())
    assert helm["pgbouncer"] == compose["pgbouncer"]
    assert compose["pgbouncer"]["auth_user"] == pr.PGBOUNCER_USER
    assert compose["pgbouncer"]["auth_file"] == f"{SECRETS_MOUNT}/{PGBOUNCER_USERS_FILE}"
    assert compose["databases"] == {"*": "host=postgres port=5432"}
    assert helm["databases"] == {"*": "host=dagster-platform-postgres port=5432"}


# --- Grants and credentials: the Helm values agree with the locations' declarations
#     (platformctl.locations) and with what compose's init gets (platformctl.credentials).


def declared_grants(root=None) -> dict[str, dict]:
    from platformctl.locations import discover

    return {loc.name: {"warehouse": {"writes": list(loc.warehouse_writes), "reads": list(loc.warehouse_reads)},
                       "objectStore": {"reads": list(loc.bucket_reads), "writes": list(loc.bucket_writes)}}
            for loc in discover(root or REPO_ROOT)}


def grant_mismatches(entries: list[dict], declared: dict[str, dict]) -> list[str]:
    """Each codeLocations entry whose grants differ from its pyproject.toml, named by location and key."""
    problems = []
    for entry in entries:
        name = entry["name"]
        if name not in declared:
            problems.append(f"codeLocations[{name}]: no code_locations/{name}/pyproject.toml declares its grants")
            continue
        for table, keys in (("warehouse", ("writes", "reads")), ("objectStore", ("reads", "writes"))):
            for key in keys:
                values = (entry.get(table) or {}).get(key) or []
                if values != declared[name][table][key]:
                    problems.append(f"codeLocations[{name}].{table}.{key} is {values}, but "
                                    f"code_locations/{name}/pyproject.toml declares {declared[name][table][key]}")
    return problems


def platform_default_entries() -> list[dict]:
    return yaml.safe_load((PLATFORM_CHART / "values.yaml").read_text())["codeLocations"]


def test_platform_default_grants_are_the_locations_declarations() -> None:
    assert grant_mismatches(platform_default_entries(), declared_grants()) == []


def test_a_grant_that_differs_from_the_declaration_is_named() -> None:
    entries = platform_default_entries()
    entries[1] = {**entries[1], "warehouse": {"writes": ["staging"], "reads": ["raw"]}}
    entries[0] = {k: v for k, v in entries[0].items() if k != "objectStore"}
    assert grant_mismatches(entries, declared_grants()) == [
        "codeLocations[ingest].objectStore.reads is [], but code_locations/ingest/pyproject.toml declares ['landing']",
        "codeLocations[transform].warehouse.writes is ['staging'], but "
        "code_locations/transform/pyproject.toml declares ['staging', 'marts']",
    ]


def test_each_location_release_declares_the_buckets_its_pyproject_declares() -> None:
    """helm/values/<location>.yaml objectStore: what sets its <NAME>_BUCKET variables."""
    declared = declared_grants()
    for loc in LOCATIONS:
        store = location_values(loc).get("objectStore", {})
        assert {k: store.get(k, []) for k in ("reads", "writes")} == declared[loc]["objectStore"], loc


def test_each_location_gets_the_bucket_variables_compose_gives_it() -> None:
    """DATA_BUCKET and <NAME>_BUCKET of each code server, against the bundle platformctl writes for
    the same location under compose (platformctl.credentials.bundles)."""
    from helm_harness import code_server_env
    from platformctl import principals as pr
    from platformctl.credentials import ENV_FILE, bundles
    from platformctl.locations import discover

    locations = discover(REPO_ROOT)
    env = {name: "x" for name in pr.required_secrets(locations)}
    compose = bundles(env, locations, "postgres")
    for loc in LOCATIONS:
        lines = compose[loc][ENV_FILE].splitlines()
        expected = dict(line.split("=", 1) for line in lines if line.split("=", 1)[0].endswith("_BUCKET"))
        helm = {k: v for k, v in code_server_env(loc).items() if k.endswith("_BUCKET")}
        assert helm == expected, loc
    assert "INGEST_BUCKET" in code_server_env("housekeeping")


def test_the_init_jobs_grants_are_what_compose_init_gets() -> None:
    """grants.json of the default platform release equals the one platformctl writes for compose's init."""
    import json

    from helm_harness import find, render_chart
    from platformctl.credentials import grants
    from platformctl.locations import discover

    def in_any_order(spec: dict) -> dict:  # codeLocations' order vs folder order: init does not care
        return {"principals": sorted(spec["principals"]), "buckets": sorted(spec["buckets"]),
                "locations": sorted(spec["locations"], key=lambda loc: loc["name"])}

    rendered = json.loads(find(render_chart(), "ConfigMap", "dagster-platform-init")["data"]["grants.json"])
    assert in_any_order(rendered) == in_any_order(grants({}, discover(REPO_ROOT)))


def test_each_location_release_names_the_secret_and_bucket_the_platform_made_for_it() -> None:
    """helm/values/<location>.yaml against the platform's default codeLocations entry, and the names
    platformctl gives the same principal in compose (slot a login, data bucket)."""
    import base64

    from helm_harness import find, render_chart, render_location
    from platformctl import principals as pr

    platform = render_chart()
    for loc in LOCATIONS:
        deployment = find(render_location(loc), "Deployment")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        secret = next(e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e)
        data = find(platform, "Secret", secret)["data"]
        assert base64.b64decode(data["DAGSTER_PG_USER"]).decode() == pr.Principal(loc).login_role("a")
        bucket = next(e["value"] for e in container["env"] if e["name"] == "DATA_BUCKET")
        assert bucket == pr.data_bucket({}, loc)
        init_env = {e["name"]: e for e in find(platform, "Job", "dagster-platform-init")["spec"]["template"]["spec"][
            "containers"][0]["env"]}
        assert init_env[f"{pr.Principal(loc).pg_password}"]["valueFrom"]["secretKeyRef"]["name"] == secret


def test_run_pods_get_the_same_plain_settings_as_under_compose() -> None:
    """The env ConfigMap every run pod reads holds the names compose's run launcher passes (dagster.yaml
    run_launcher env_vars), plus DAGSTER_HOME, which compose's images set themselves."""
    from helm_harness import find, render_chart

    compose_instance = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    compose_names = set(compose_instance["run_launcher"]["config"]["env_vars"])
    helm_env = find(render_chart({"s3": {"endpointUrl": "http://s3:8333"}}), "ConfigMap", "dagster-platform-env")["data"]
    assert set(helm_env) - {"DAGSTER_HOME"} == compose_names
    assert not {n for n in compose_names if "PASSWORD" in n or "SECRET" in n or n == "DATA_BUCKET"}
