"""Every name that becomes a Kubernetes name or label value is one Kubernetes accepts.

The schemas refuse bad names in values (each with the value's path); the
platform chart's guard refuses a release name or fullnameOverride that would
make an object name too long; and every object of every rendered value set is
checked against Kubernetes' own name rules.
"""

from __future__ import annotations

import re

import helm_python
import pytest
from helm_harness import (
    LOCATION_CHART,
    PLATFORM_CHART,
    WORKLOAD_KINDS,
    all_rendered_sets,
    find,
    location_values,
    pod_labels,
    render_chart,
)

DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_KEY = re.compile(rf"({SUBDOMAIN.pattern}/)?[A-Za-z0-9]([-A-Za-z0-9_.]{{0,61}}[A-Za-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
# Kinds whose names Kubernetes holds to less than the 253 of a DNS subdomain.
NAME_LIMITS = {"Service": 63, "StatefulSet": 52, "Job": 63}


def assert_names_are_valid(objects: list[dict]) -> None:
    for obj in objects:
        name, kind = obj["metadata"]["name"], obj["kind"]
        assert SUBDOMAIN.fullmatch(name) and len(name) <= 253, (kind, name)
        assert len(name) <= NAME_LIMITS.get(kind, 253), (kind, name, len(name))
        if kind == "Service":
            assert DNS_1035.fullmatch(name), name
        labels = dict(obj["metadata"].get("labels") or {})
        if kind in WORKLOAD_KINDS:
            labels |= pod_labels(obj)
        for key, value in labels.items():
            assert LABEL_KEY.fullmatch(key) and LABEL_VALUE.fullmatch(str(value)), (kind, name, key, value)


RENDERED = all_rendered_sets()


@pytest.mark.parametrize(("label", "objects"), RENDERED, ids=[label for label, _ in RENDERED])
def test_every_rendered_name_and_label_is_one_kubernetes_accepts(label, objects) -> None:
    assert_names_are_valid(objects)


# ------------------------------------------------------------ the schemas


PLATFORM_BAD_NAMES = [
    ({"fullnameOverride": "Dagster_Platform"}, "/fullnameOverride"),
    ({"nameOverride": "-dagster"}, "/nameOverride"),
    ({"codeLocations": [{"name": "_ingest", "host": "dagster-code-ingest", "port": 4000}]}, "/codeLocations/0/name"),
    ({"codeLocations": [{"name": "ingest-", "host": "dagster-code-ingest", "port": 4000}]}, "/codeLocations/0/name"),
    ({"codeLocations": [{"name": "ingest", "host": "Code Ingest", "port": 4000}]}, "/codeLocations/0/host"),
    ({"ingress": {"host": "Bad Host!"}}, "/ingress/host"),
    ({"ingress": {"readOnly": {"host": "ro_host.example.com"}}}, "/ingress/readOnly/host"),
    ({"ingress": {"tlsSecretName": "TLS"}}, "/ingress/tlsSecretName"),
    ({"imagePullSecrets": [{"name": "Registry"}]}, "/imagePullSecrets/0/name"),
    ({"postgres": {"existingSecret": "pg_secret"}}, "/postgres/existingSecret"),
    ({"serviceAccount": {"create": True, "name": "Dagster", "run": {"create": True}}}, "/serviceAccount/name"),
    ({"global": {"serviceAccountName": "sa!"}}, "/global/serviceAccountName"),
    ({"webserver": {"podLabels": {"team": "data platform"}}}, "/webserver/podLabels/team"),
    ({"daemon": {"nodeSelector": {"pool": "-x"}}}, "/daemon/nodeSelector/pool"),
    ({"webserver": {"envFrom": {"secrets": ["Web_Secrets"]}}}, "/webserver/envFrom/secrets/0"),
    ({"webserver": {"volumes": [{"name": "Data", "emptyDir": {}}]}}, "/webserver/volumes/0/name"),
    ({"daemon": {"sidecarContainers": [{"name": "side_car", "image": "x:1", "resources": {}}]}},
     "/daemon/sidecarContainers/0/name"),
    ({"priorityClassName": "High Priority"}, "/priorityClassName"),
    ({"runLauncher": {"priorityClassName": "Runs"}}, "/runLauncher/priorityClassName"),
]


@pytest.mark.parametrize(("values", "path"), PLATFORM_BAD_NAMES, ids=[p for _, p in PLATFORM_BAD_NAMES])
def test_platform_schema_refuses_names_kubernetes_would(values, path) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=f"at '{re.escape(path)}'"):
        helm_python.Chart.load(PLATFORM_CHART).validate_schema(values)


LOCATION_BAD_NAMES = [
    ({"location": {"name": "_ingest", "module": "ingest.definitions"}}, "/location/name"),
    ({"location": {"name": "ingest-", "module": "ingest.definitions"}}, "/location/name"),
    ({"location": {"name": "Ingest", "module": "ingest.definitions"}}, "/location/name"),
    ({"location": {"name": "a" * 51, "module": "ingest.definitions"}}, "/location/name"),
    ({"fullnameOverride": "Code_Ingest"}, "/fullnameOverride"),
    ({"platform": {"releaseName": "Dagster Platform"}}, "/platform/releaseName"),
    ({"platform": {"releaseName": "dagster-platform", "envConfigMap": "Env"}}, "/platform/envConfigMap"),
    ({"envFrom": {"configMaps": ["ingest_settings"]}}, "/envFrom/configMaps/0"),
    ({"runServiceAccountName": "Ingest-Runs"}, "/runServiceAccountName"),
    ({"serviceAccount": {"create": True, "name": "ingest_sa"}}, "/serviceAccount/name"),
    ({"podLabels": {"bad key!": "x"}}, "/podLabels"),
    ({"podAnnotations": {"example.com/owner!": "x"}}, "/podAnnotations"),
    ({"runK8sConfig": {"podSpecConfig": {"nodeSelector": {"pool": "runs pool"}}}},
     "/runK8sConfig/podSpecConfig/nodeSelector/pool"),
    ({"runK8sConfig": {"podTemplateSpecMetadata": {"labels": {"team": "-ingest"}}}},
     "/runK8sConfig/podTemplateSpecMetadata/labels/team"),
    ({"priorityClassName": "Critical"}, "/priorityClassName"),
]


@pytest.mark.parametrize(("overrides", "path"), LOCATION_BAD_NAMES, ids=[p for _, p in LOCATION_BAD_NAMES])
def test_location_schema_refuses_names_kubernetes_would(overrides, path) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=f"at '{re.escape(path)}'"):
        helm_python.Chart.load(LOCATION_CHART).validate_schema({**location_values("ingest"), **overrides})


def test_a_location_name_with_underscores_is_a_label_value_and_a_service_name() -> None:
    """make new-location allows `my_loc`: its Service is dagster-code-my-loc, its label my_loc."""
    values = {**location_values("ingest"), "location": {"name": "my_loc", "module": "my_loc.definitions"}}
    objects = render_chart(values, chart=LOCATION_CHART, name="my-loc")
    assert find(objects, "Service")["metadata"]["name"] == "dagster-code-my-loc"
    assert find(objects, "Deployment")["metadata"]["labels"]["dagster-platform/location"] == "my_loc"
    assert_names_are_valid(objects)


# ------------------------------------------------------------ the length guard


def release_of(fullname_length: int) -> str:
    """A release name whose fullname (it contains "dagster-platform", so it is the fullname) has this length."""
    return ("d" * fullname_length)[: fullname_length - len("-dagster-platform")] + "-dagster-platform"


@pytest.mark.parametrize(("values", "room"), [
    ({}, 43),  # bundled Postgres: its StatefulSet name must stay within 52
    ({"postgres": {"bundled": {"enabled": False}, "host": "pg", "existingSecret": "pg"}}, 53),  # webserver Service
    ({"postgres": {"bundled": {"enabled": False}, "host": "pg", "existingSecret": "pg"},
      "webserver": {"readOnly": {"enabled": True}}}, 43),  # webserver-read-only Service
], ids=["bundled-postgres", "external-postgres", "read-only-webserver"])
def test_the_longest_fullname_that_fits_renders_and_one_more_character_is_refused(values, room) -> None:
    objects = render_chart(values, name=release_of(room))
    assert_names_are_valid(objects)
    assert max(len(o["metadata"]["name"]) for o in objects if o["kind"] == "Service") <= 63
    with pytest.raises(helm_python.HelmRenderError, match=f"makes the fullname at most {room} characters"):
        render_chart(values, name=release_of(room + 1))


def test_fullname_override_is_held_to_the_same_limit() -> None:
    with pytest.raises(helm_python.HelmRenderError) as err:
        render_chart({"fullnameOverride": "a" * 44})
    assert f'fullnameOverride "{"a" * 44}" gives the StatefulSet' in str(err.value)
    assert_names_are_valid(render_chart({"fullnameOverride": "a" * 43}))


def test_a_release_name_with_a_dot_is_refused() -> None:
    with pytest.raises(helm_python.HelmRenderError, match='the release name "team.dagster" gives object names'):
        render_chart(name="team.dagster")
