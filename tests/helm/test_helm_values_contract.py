"""values.schema.json and templates/check-values.yaml reject bad values with clear messages."""

from __future__ import annotations

import helm_python
import pytest
import yaml
from helm_harness import LOCATION_CHART, PLATFORM_CHART, SMALL, location_values, render_chart, values_files


@pytest.fixture(scope="module")
def platform_chart() -> helm_python.Chart:
    return helm_python.Chart.load(PLATFORM_CHART)


@pytest.fixture(scope="module")
def location_chart() -> helm_python.Chart:
    return helm_python.Chart.load(LOCATION_CHART)


class TestPlatformSchema:
    def test_defaults_are_valid(self, platform_chart) -> None:
        platform_chart.validate_schema(platform_chart.values)

    @pytest.mark.parametrize(
        ("values", "key"),
        [
            ({"webserver": {"replicas": "two"}}, "/webserver/replicas"),
            ({"postgres": {"port": "5432"}}, "/postgres/port"),
            (
                {"codeLocations": [{"name": "x", "host": "h", "port": "4000"}]},
                "/codeLocations/0/port",
            ),
            ({"daemon": {"replicas": 1.5}}, "/daemon/replicas"),
            ({"runRetention": {"days": "ninety"}}, "/runRetention/days"),
            ({"runRetention": {"days": -1}}, "/runRetention/days"),
            ({"runRetention": {"intervalSeconds": 0}}, "/runRetention/intervalSeconds"),
            ({"daemon": {"sensorLoopSeconds": 0.1}}, "/daemon/sensorLoopSeconds"),
            ({"daemon": {"sensorLoopSeconds": "1"}}, "/daemon/sensorLoopSeconds"),
        ],
    )
    def test_rejects_wrong_type(self, platform_chart, values, key) -> None:
        with pytest.raises(helm_python.HelmValuesError, match=key):
            platform_chart.validate_schema(values)

    @pytest.mark.parametrize(
        ("values", "key"),
        [
            ({"webservr": {}}, "webservr"),
            ({"postgres": {"passwrd": "x"}}, "passwrd"),
            ({"s3": {"bucket": "x"}}, "bucket"),
            ({"runRetention": {"day": 30}}, "day"),
            (
                {
                    "codeLocations": [
                        {"name": "x", "host": "h", "port": 1, "image": "i"}
                    ]
                },
                "image",
            ),
        ],
    )
    def test_rejects_unknown_key(self, platform_chart, values, key) -> None:
        with pytest.raises(
            helm_python.HelmValuesError,
            match=f"additional properties '{key}' not allowed",
        ):
            platform_chart.validate_schema(values)

    def test_render_enforces_schema(self) -> None:
        with pytest.raises(helm_python.HelmValuesError, match="webservr"):
            render_chart({"webservr": {}})

    def test_rejects_insecure_security_context(self, platform_chart) -> None:
        values = {"containerSecurityContext": {"allowPrivilegeEscalation": True}}
        with pytest.raises(
            helm_python.HelmValuesError, match="allowPrivilegeEscalation"
        ):
            platform_chart.validate_schema(values)

    def test_requires_resources(self, platform_chart) -> None:
        # null deletes a default key in Helm (`--set daemon.resources.limits=null`).
        with pytest.raises(
            helm_python.HelmValuesError, match="missing property 'limits'"
        ):
            platform_chart.validate_schema({"daemon": {"resources": {"limits": None}}})


class TestLocationSchema:
    def test_location_values_files_are_valid(self, location_chart) -> None:
        assert len(values_files()) >= 3
        for path in values_files():
            location_chart.validate_schema(yaml.safe_load(path.read_text()))

    def test_defaults_are_valid(self, location_chart) -> None:
        location_chart.validate_schema(location_chart.values)

    def test_rejects_wrong_type(self, location_chart) -> None:
        values = {**location_values("ingest"), "port": "4000"}
        with pytest.raises(helm_python.HelmValuesError, match="/port"):
            location_chart.validate_schema(values)

    def test_rejects_unknown_key(self, location_chart) -> None:
        values = {**location_values("ingest"), "modul": "x"}
        with pytest.raises(
            helm_python.HelmValuesError,
            match="additional properties 'modul' not allowed",
        ):
            location_chart.validate_schema(values)

    def test_rejects_unknown_run_resources_key(self, location_chart) -> None:
        values = {**location_values("ingest"), "runResources": {"request": {}}}
        with pytest.raises(helm_python.HelmValuesError, match="'request' not allowed"):
            location_chart.validate_schema(values)


# --- check-values.yaml guards: one negative test each, asserting the message ---

PLATFORM_GUARDS = {
    "external postgres without secret": (
        {"postgres": {"bundled": {"enabled": False}, "host": "pg"}},
        "postgres.existingSecret is required when postgres.bundled.enabled=false",
    ),
    "external postgres without host": (
        {"postgres": {"bundled": {"enabled": False}, "existingSecret": "pg"}},
        "postgres.host is required when postgres.bundled.enabled=false",
    ),
    "bundled postgres with host": (
        {"postgres": {"host": "pg.example"}},
        "postgres.host is only for external Postgres",
    ),
    "ingress without host": (
        {"ingress": {"enabled": True}},
        "ingress.host is required when ingress.enabled=true",
    ),
    "read-only ingress without host": (
        {
            "ingress": {"enabled": True, "host": "d.example"},
            "webserver": {"readOnly": {"enabled": True}},
        },
        "ingress.readOnly.host is required",
    ),
    "read-only ingress on the same host": (
        {
            "ingress": {
                "enabled": True,
                "host": "d.example",
                "readOnly": {"host": "d.example"},
            },
            "webserver": {"readOnly": {"enabled": True}},
        },
        "ingress.readOnly.host must differ from ingress.host",
    ),
    "two daemons": (
        {"daemon": {"replicas": 2}},
        "daemon.replicas must be exactly 1 (got 2)",
    ),
    "no daemon": (
        {"daemon": {"replicas": 0}},
        "daemon.replicas must be exactly 1 (got 0)",
    ),
    "duplicate location names": (
        {
            "codeLocations": [
                {"name": "ingest", "host": "a", "port": 4000},
                {"name": "ingest", "host": "b", "port": 4000},
            ]
        },
        'duplicate code location name "ingest"',
    ),
    "two locations on one server": (
        {
            "codeLocations": [
                {"name": "ingest", "host": "a", "port": 4000},
                {"name": "transform", "host": "a", "port": 4000},
            ]
        },
        '"ingest" and "transform" both point at a:4000',
    ),
    "release name that cannot start a Service name": (
        {"release": "1platform"},
        'the release name "1platform" gives object names starting "1platform-dagster-platform", '
        "which Kubernetes refuses as Service names",
    ),
    # The example: a valid 45-character release name rendered Service names of 71-82 characters.
    "release name too long for the names it makes": (
        {"release": "dagster-analytics-production-eu-west-1-blue-a"},
        'the release name "dagster-analytics-production-eu-west-1-blue-a" gives the Service name '
        '"dagster-analytics-production-eu-west-1-blue-a-dagster-platform-webserver": 72 characters, '
        "over Kubernetes' limit of 63. Use a release name (or fullnameOverride) that makes the fullname "
        "at most 43 characters",
    ),
    "ServiceAccount neither created nor named": (
        {"serviceAccount": {"create": False, "run": {"create": True}}},
        "serviceAccount.name is required when serviceAccount.create=false",
    ),
    "run ServiceAccount neither created nor named": (
        {"serviceAccount": {"create": True, "run": {"create": False}}},
        "serviceAccount.run.name is required when serviceAccount.run.create=false",
    ),
    "pod label the selectors use": (
        {"webserver": {"podLabels": {"app.kubernetes.io/component": "ui"}}},
        'webserver.podLabels must not set "app.kubernetes.io/component": the chart sets it',
    ),
    "volume named like the chart's": (
        {"daemon": {"volumes": [{"name": "tmp", "emptyDir": {}}]}},
        'daemon.volumes: a volume named "tmp" is already in the pod; names in use: dagster-home, tmp, instance, workspace',
    ),
    "sidecar named like the chart's container": (
        {"webserver": {"sidecarContainers": [{"name": "webserver", "image": "x:1", "resources": SMALL}]}},
        'webserver.initContainers/sidecarContainers: a container named "webserver" is already in the pod',
    ),
    "run pod label the NetworkPolicies use": (
        {"runLauncher": {"podLabels": {"dagster-platform/release": "other"}}},
        'runLauncher.podLabels must not set "dagster-platform/release"',
    ),
    "two run volumes of one name": (
        {"runLauncher": {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]}},
        'runLauncher.volumes: a volume named "a" is already in the pod',
    ),
}


@pytest.mark.parametrize(
    ("values", "message"), PLATFORM_GUARDS.values(), ids=PLATFORM_GUARDS.keys()
)
def test_platform_guard(values, message) -> None:
    values = dict(values)
    release = values.pop("release", "dagster-platform")
    with pytest.raises(helm_python.HelmRenderError) as err:
        render_chart(values, name=release)
    assert message in str(err.value)


LOCATION_GUARDS = {
    "no location name": (
        {"location": {"name": "", "module": "ingest.definitions"}},
        "location.name is required",
    ),
    "no module": (
        {"location": {"name": "ingest", "module": ""}},
        "location.module is required",
    ),
    "no repository": (
        {"image": {"repository": "", "tag": "1"}},
        "image.repository is required",
    ),
    "no tag or digest": (
        {"image": {"repository": "dagster-platform/ingest", "tag": ""}},
        "image.tag or image.digest is required",
    ),
    "latest tag": (
        {"image": {"repository": "dagster-platform/ingest", "tag": "latest"}},
        'image.tag must not be "latest"',
    ),
    "no platform release": (
        {"platform": {"releaseName": ""}},
        "platform.releaseName is required",
    ),
    "platform env map listed twice": (
        {"envFrom": {"configMaps": ["dagster-platform-env"]}},
        'envFrom.configMaps must not list "dagster-platform-env"',
    ),
    "run resources set twice": (
        {"runK8sConfig": {"containerConfig": {"resources": {"limits": {"memory": "1Gi"}}}}},
        "runResources and runK8sConfig.containerConfig.resources both set run pod resources",
    ),
    "ServiceAccount neither created nor named": (
        {"serviceAccount": {"create": False}},
        "serviceAccount.name is required when serviceAccount.create=false",
    ),
    "pod label of the location": (
        {"podLabels": {"dagster-platform/location": "other"}},
        'podLabels must not set "dagster-platform/location": the chart sets it',
    ),
    "volume named tmp": (
        {"volumes": [{"name": "tmp", "emptyDir": {}}]},
        'volumes: a volume named "tmp" is already in the pod',
    ),
    "init container named like the code server": (
        {"initContainers": [{"name": "code-server", "image": "x:1", "resources": SMALL}]},
        'initContainers/sidecarContainers: a container named "code-server" is already in the pod',
    ),
}


@pytest.mark.parametrize(
    ("overrides", "message"), LOCATION_GUARDS.values(), ids=LOCATION_GUARDS.keys()
)
def test_location_guard(overrides, message) -> None:
    values = {**location_values("ingest"), **overrides}
    with pytest.raises(helm_python.HelmRenderError) as err:
        render_chart(values, chart=LOCATION_CHART, name="ingest")
    assert message in str(err.value)


def test_every_guard_has_a_negative_test() -> None:
    for chart, guards in (
        (PLATFORM_CHART, PLATFORM_GUARDS),
        (LOCATION_CHART, LOCATION_GUARDS),
    ):
        # check-values.yaml and the shared guards of _extensions.tpl it calls.
        text = "".join((chart / "templates" / name).read_text() for name in ("check-values.yaml", "_extensions.tpl"))
        assert text.count("fail ") <= len(guards), (
            f"{chart.name}: a guard without a test"
        )
