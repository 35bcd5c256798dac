"""Every principal gets its own credentials, and only its own."""

import json

import pytest

from platformctl import credentials, locations
from platformctl import principals as pr
from platformctl.envfile import EnvFile


@pytest.fixture
def env(repo):
    found = locations.discover(repo)
    credentials.complete_env(repo / ".env.example", repo / ".env", found)
    return EnvFile.read(repo / ".env").values(), found


def test_first_use_generates_every_secret_strong_and_distinct(repo):
    found = locations.discover(repo)
    generated = credentials.complete_env(repo / ".env.example", repo / ".env", found)
    values = EnvFile.read(repo / ".env").values()
    assert set(generated) == set(pr.required_secrets(found))
    secrets = [values[n] for n in generated]
    assert len(set(secrets)) == len(secrets) and all(len(s) >= 20 for s in secrets)
    assert (repo / ".env").stat().st_mode & 0o077 == 0


def test_a_new_location_gets_its_secrets_and_nothing_else_changes(repo, env):
    from conftest import write_location

    before = (repo / ".env").read_text()
    write_location(repo, "billing", writes=["billing"])
    generated = credentials.complete_env(repo / ".env.example", repo / ".env", locations.discover(repo))
    assert generated == ["BILLING_PG_PASSWORD", "BILLING_S3_ACCESS_KEY_ID", "BILLING_S3_SECRET_ACCESS_KEY"]
    assert (repo / ".env").read_text().startswith(before)


def test_missing_secrets_are_named(env):
    values, found = env
    del values["REPORTS_PG_PASSWORD"]
    assert credentials.missing_secrets(values, found) == ["REPORTS_PG_PASSWORD"]


def test_env_example_names_no_location_secret_and_make_generates_them_all(tmp_path):
    """.env.example lists the platform's secrets and documents the <LOCATION>_ pattern; a new
    location needs no edit there: `make .env` generates every location's secrets."""
    from conftest import REPO

    found = locations.discover(REPO)
    example = EnvFile.read(REPO / ".env.example").values()
    location_secrets = {name for p in pr.principals(found) if p.location for name in p.secrets}
    assert not location_secrets & set(example)
    assert set(pr.required_secrets(found)) - location_secrets <= set(example)
    assert all(example[name] == "" for name in set(pr.required_secrets(found)) - location_secrets)
    generated = credentials.complete_env(REPO / ".env.example", tmp_path / ".env", found)
    assert set(generated) == set(pr.required_secrets(found)) >= location_secrets
    assert set(EnvFile.read(tmp_path / ".env").values()) >= location_secrets


def test_each_location_bundle_holds_its_own_credentials_only(env):
    values, found = env
    bundles = credentials.bundles(values, found, "dagster")
    all_secrets = {name: values[name] for name in pr.required_secrets(found)}
    for loc in found:
        text = bundles[loc.name]["env"]
        own = {values[f"{loc.env_prefix}_{k}"] for k in ("PG_PASSWORD", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY")}
        present = {v for v in all_secrets.values() if v in text}
        assert present == own, loc.name
        assert f"DAGSTER_PG_USER=dagster_{loc.name}_a\n" in text
        assert f"DATA_BUCKET=dagster-data-{loc.name}\n" in text


def test_only_init_and_postgres_receive_the_superuser_password(env):
    values, found = env
    holders = {p for p, files in credentials.bundles(values, found, "dagster").items()
               if any(values["POSTGRES_PASSWORD"] in c for c in files.values())}
    assert holders == {"init", "postgres"}


def test_the_landing_key_is_a_bundle_of_its_own(env):
    values, found = env
    bundles = credentials.bundles(values, found, "dagster")
    holders = {p for p, files in bundles.items() if any(values["LANDING_S3_SECRET_ACCESS_KEY"] in c
                                                          for c in files.values())}
    assert holders == {"landing", "s3"}  # the uploader's own bundle, and the store's identities


def test_only_init_holds_the_admin_key(env):
    values, found = env
    holders = {p for p, files in credentials.bundles(values, found, "dagster").items()
               if any(values["S3_SECRET_ACCESS_KEY"] in c for c in files.values())}
    assert holders == {"init", "s3"}  # s3: its identities file, where keys are checked


def test_object_store_actions_are_bucket_level_and_least(env):
    values, found = env
    actions = {i["name"]: set(i["actions"]) for i in credentials.s3_identities(values, found)["identities"]}
    assert actions["ingest"] == {"Read:dagster-data-ingest", "Write:dagster-data-ingest", "List:dagster-data-ingest",
                                 "Write:dagster-logs", "Read:dagster-landing", "List:dagster-landing"}
    assert actions["reports"] == {"Read:dagster-data-reports", "Write:dagster-data-reports",
                                  "List:dagster-data-reports", "Write:dagster-logs"}
    assert actions["platform"] == {"Read:dagster-logs", "List:dagster-logs"}
    assert actions["landing"] == {"Write:dagster-landing", "List:dagster-landing"}
    assert [n for n, a in actions.items() if "Admin" in a] == ["init"]


def test_previous_credentials_stay_valid_until_retired(env):
    values, found = env
    values = {**values, "INGEST_S3_ACCESS_KEY_ID_PREVIOUS": "OLDKEY", "INGEST_S3_SECRET_ACCESS_KEY_PREVIOUS": "old"}
    ingest = next(i for i in credentials.s3_identities(values, found)["identities"] if i["name"] == "ingest")
    assert [c["accessKey"] for c in ingest["credentials"]] == [values["INGEST_S3_ACCESS_KEY_ID"], "OLDKEY"]


def test_a_line_break_in_a_secret_is_refused(env):
    values, found = env
    values["INGEST_PG_PASSWORD"] = "a\nDAGSTER_PG_USER=dagster"
    with pytest.raises(ValueError, match="line break"):
        credentials.bundles(values, found, "dagster")


def test_grants_file_for_init(env):
    values, found = env
    spec = json.loads(credentials.bundles(values, found, "dagster")["init"]["grants.json"])
    assert spec["principals"] == ["platform", "ingest", "transform", "reports"]  # dg.toml's order
    assert {loc["name"]: loc["warehouse_reads"] for loc in spec["locations"]} == {
        "ingest": [], "reports": ["marts"], "transform": ["raw"]}
