"""checkov on the compose file, the Dockerfiles, the Helm values files and the
rendered Helm manifests: every failed check is accepted in .checkov.yaml, and
docs/security.md lists exactly the accepted checks, each with its reason.

checkov 3.3.30 has no docker-compose framework: on compose.yaml only its secrets
scanner applies. The compose rules live in platformctl.check_config and in
test_compose_hardening.py.
"""

from __future__ import annotations

import re

import pytest
import yaml
from helm_harness import NAMESPACE, all_rendered_sets

from tests.security.tools import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    SECURITY_DOC,
    accepted_checks,
    checkov,
    dockerfiles,
)

# Kinds without a namespace; none of our charts renders one today.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
                  "StorageClass", "CustomResourceDefinition", "PriorityClass", "IngressClass"}


def write_rendered_manifests(out_dir) -> list:
    """The default platform values, a full production-like value set, and each
    helm/values/<location>.yaml, one file per value set.

    `helm install -n dagster` puts every object that has no metadata.namespace
    into the release namespace; our templates leave it to Helm, so it is filled
    in here. checkov would otherwise read them as being in `default` (CKV_K8S_21).
    """
    paths = []
    for name, objects in all_rendered_sets():
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"].setdefault("namespace", NAMESPACE)
        path = out_dir / f"{name.replace(':', '-')}.yaml"
        path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def failed_checks(tmp_path_factory):
    work = tmp_path_factory.mktemp("checkov")
    rendered = write_rendered_manifests(work)
    committed = [COMPOSE_FILE, ENV_EXAMPLE, *(ROOT / f for f in dockerfiles()),
                 *sorted((ROOT / "helm").glob("*/values.yaml")), *sorted((ROOT / "helm/values").glob("*.yaml"))]
    return checkov([*rendered, *committed], work)


def describe(check) -> str:
    return f"{check['id']} {check['name']}: {check['resource']} in {check['file']} lines {check['lines']}"


def test_every_finding_is_fixed_or_accepted(failed_checks):
    accepted = set(accepted_checks())
    assert [describe(c) for c in failed_checks if c["id"] not in accepted] == []


def test_every_acceptance_still_matches_a_finding(failed_checks):
    # An acceptance nothing needs any more would hide the next real finding.
    found = {c["id"] for c in failed_checks}
    assert [c for c in accepted_checks() if c not in found] == []


def test_checkov_config_lists_each_acceptance_once():
    accepted = accepted_checks()
    assert len(accepted) == len(set(accepted))


def accepted_table() -> dict[str, set[str]]:
    """Check ids per scanner from the table under '## Accepted scanner findings'."""
    text = SECURITY_DOC.read_text()
    section = text.split("## Accepted scanner findings", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"`?[A-Z]+[A-Z0-9_]*\d`?", cells[1]):
            table.setdefault(cells[0].lower(), set()).add(cells[1].strip("`"))
            assert cells[2] and cells[3], f"{cells[1]}: where and why must be filled in"
    return table


def inline_hadolint_ignores() -> set[str]:
    ids = set()
    for rel in dockerfiles():
        for match in re.finditer(r"#\s*hadolint\s+ignore=([\w,]+)", (ROOT / rel).read_text()):
            ids |= set(match.group(1).split(","))
    global_ignores = yaml.safe_load((ROOT / ".hadolint.yaml").read_text()).get("ignored") or []
    return ids | set(global_ignores)


def test_docs_list_exactly_the_accepted_checkov_checks():
    assert accepted_table().get("checkov", set()) == set(accepted_checks())


def test_docs_list_exactly_the_ignored_hadolint_rules():
    assert accepted_table().get("hadolint", set()) == inline_hadolint_ignores()
