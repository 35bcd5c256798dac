"""No secrets in the repository; .env.example names every variable and holds no secret."""

from __future__ import annotations

import re
import subprocess

import pytest
from platformctl import locations, principals
from platformctl.check_config import ANY_VAR, locations_compose, read_env_file

from tests.security.secret_scan import find_secrets
from tests.security.tools import COMPOSE_FILE, ENV_EXAMPLE, ROOT, repo_files

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|API_KEY|PRIVATE")


def test_no_secrets_in_repository_files():
    found = []
    for rel in repo_files():
        try:
            text = (ROOT / rel).read_text()
        except UnicodeDecodeError:
            continue  # binary
        found += find_secrets(rel, text)
    assert found == []


# Samples are built by concatenation so that no scanner (ours, checkov's,
# GitHub's) mistakes this file for a leak.
@pytest.mark.parametrize(
    "path, line, kind",
    [
        ("dagster.yaml", "password: " + "hunter2-real", "secret-named key"),
        (".env", "AWS_SECRET_ACCESS_KEY=" + "wJalrXUtnFEMI" + "K7MDENGbPxRfiCY", "secret-named key"),
        ("app.py", "key = 'AKIA" + "Q3EGRQ5KZ7XN2TWM'", "AWS access key id"),
        ("id_rsa", "-----BEGIN RSA " + "PRIVATE KEY-----", "private key"),
        ("compose.yaml", "url: postgresql://dagster:" + "s3cr3tpw@db/x", "credentials in a URL"),
        ("notes.md", "token " + "Zx9Qm2Lp7Rt4Vb8Nc1Hs6Kd3Fg5Jw0Ye", "high-entropy string"),
    ],
)
def test_scanner_finds(path, line, kind):
    assert any(kind in hit for hit in find_secrets(path, line + "\n"))


@pytest.mark.parametrize(
    "line",
    [
        "password: ${POSTGRES_PASSWORD}",
        "password: {env: DAGSTER_PG_PASSWORD}",
        'password: "{{ env_var(\'DAGSTER_PG_PASSWORD\') }}"',
        'password: ""',
        "secretAccessKey: AWS_SECRET_ACCESS_KEY",
        "password=dg.EnvVar('DAGSTER_PG_PASSWORD')",
        "url: postgresql://${USER}:${PASSWORD}@postgres/dagster",
        "image: localhost/dagster-platform/platform:1a2b3c4-dirty",
        '"DAGSTER_PG_PASSWORD": env[principal.pg_password],',
        'POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")',
    ],
)
def test_scanner_lets_references_pass(line):
    assert find_secrets("config.yaml", line + "\n") == []


def compose_text() -> str:
    """docker/compose.yaml and the location services make generates from dg.toml."""
    return COMPOSE_FILE.read_text() + locations_compose(ROOT)


def compose_variables() -> set[str]:
    return set(ANY_VAR.findall(compose_text()))


def env_example_names() -> tuple[set[str], set[str]]:
    """(names assigned, names only mentioned in a `# NAME=...` comment, `<LOCATION>` patterns
    expanded for every location of dg.toml)."""
    text = ENV_EXAMPLE.read_text()
    assigned = set(read_env_file(ENV_EXAMPLE))
    commented = set(re.findall(r"^#\s*([A-Z][A-Z0-9_]*)=", text, re.M))
    for suffix in re.findall(r"^#\s*<LOCATION>(_[A-Z0-9_]+)=", text, re.M):
        commented |= {name.upper() + suffix for name in locations.names(ROOT)}
    return assigned, commented - assigned


def test_env_example_names_every_compose_variable():
    assigned, commented = env_example_names()
    assert sorted(compose_variables() - assigned - commented) == []


def test_env_example_holds_no_secret_values():
    env = read_env_file(ENV_EXAMPLE)
    assert {k: "<set>" for k, v in env.items() if SECRET_NAME.search(k) and v} == {}


def test_every_secret_in_env_example_is_generated_by_make():
    """`make up` (platformctl env) writes .env with random values for exactly the secrets
    .env.example names, and for each location's under the pattern it documents; so a new
    location needs no edit here."""
    found = locations.discover(ROOT)
    location_secrets = {name for p in principals.principals(found) if p.location for name in p.secrets}
    secret_names = {k for k in read_env_file(ENV_EXAMPLE) if SECRET_NAME.search(k)}
    assert secret_names == set(principals.required_secrets(found)) - location_secrets
    assert not secret_names & location_secrets
    _, commented = env_example_names()
    assert location_secrets <= commented  # the documented <LOCATION>_... pattern covers each one
    probe = principals.Principal("probe", found[0])
    assert {f"<LOCATION>{name.removeprefix('PROBE')}" for name in probe.secrets} <= set(
        re.findall(r"^#\s*(<LOCATION>_[A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M))


def test_compose_passes_no_secret_to_any_container():
    # Credentials reach containers as files in per-principal volumes (docs/security.md).
    text = compose_text()
    assert sorted(v for v in compose_variables() if SECRET_NAME.search(v)) == []
    assert "POSTGRES_PASSWORD:" not in text and "AWS_SECRET_ACCESS_KEY" not in text


def test_env_file_is_git_ignored():
    proc = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert proc.returncode == 0
