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
            ({"pgbouncer": {"enabled": "yes"}}, "/pgbouncer/enabled"),
            ({"pgbouncer": {"replicas": 0}}, "/pgbouncer/replicas"),
            ({"pgbouncer": {"maxDbConnections": 0}}, "/pgbouncer/maxDbConnections"),
            ({"pgbouncer": {"existingSecret": "PgBouncer"}}, "/pgbouncer/existingSecret"),
            ({"pgbouncer": {"image": {"registry": "r", "repository": "p", "tag": "1", "digest": "latest"}}},
             "/pgbouncer/image/digest"),
            ({"runMonitoring": {"maxRuntimeSeconds": -1}}, "/runMonitoring/maxRuntimeSeconds"),
            ({"runMonitoring": {"pollIntervalSeconds": 0}}, "/runMonitoring/pollIntervalSeconds"),
            ({"s3": {"landingBucket": "Landing_Files"}}, "/s3/landingBucket"),
            ({"s3": {"legacyDataBucket": "x"}}, "/s3/legacyDataBucket"),
            (
                {"codeLocations": [{"name": "x", "host": "h", "port": 1, "dataBucket": "x_data"}]},
                "/codeLocations/0/dataBucket",
            ),
            (
                {"codeLocations": [{"name": "x", "host": "h", "port": 1, "warehouse": {"writes": ["Raw"]}}]},
                "/codeLocations/0/warehouse/writes/0",
            ),
            (
                {"codeLocations": [{"name": "x", "host": "h", "port": 1, "warehouse": {"reads": ["raw", "raw"]}}]},
                "/codeLocations/0/warehouse/reads",
            ),
            (
                {"codeLocations": [{"name": "x", "host": "h", "port": 1, "objectStore": {"reads": "landing"}}]},
                "/codeLocations/0/objectStore/reads",
            ),
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
            # Removed in chart 0.4: Dagster's own storage behind PgBouncer, Dagster's own
            # daemon, retention as the housekeeping location's schedule.
            ({"postgres": {"pool": {"size": 2}}}, "pool"),
            ({"runRetention": {"days": 30}}, "runRetention"),
            ({"daemon": {"sensorLoopSeconds": 1}}, "sensorLoopSeconds"),
            ({"pgbouncer": {"poolMode": "transaction"}}, "poolMode"),
            # Removed in chart 0.3: each location has its own bucket and credentials.
            ({"s3": {"dataBucket": "dagster-data"}}, "dataBucket"),
            ({"migrate": {"enabled": True}}, "migrate"),
            ({"platformCredentials": {"secretKeys": {}}}, "secretKeys"),
            (
                {"codeLocations": [{"name": "x", "host": "h", "port": 1, "warehouse": {"write": ["raw"]}}]},
                "write",
            ),
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

    @pytest.mark.parametrize(("overrides", "key"), [
        ({"dataBucket": "Ingest_Data"}, "/dataBucket"),
        ({"credentials": {"existingSecret": 3}}, "/credentials/existingSecret"),
    ])
    def test_rejects_bad_credentials_and_bucket(self, location_chart, overrides, key) -> None:
        with pytest.raises(helm_python.HelmValuesError, match=key):
            location_chart.validate_schema({**location_values("ingest"), **overrides})

    @pytest.mark.parametrize("overrides", [
        {"platform": {"releaseName": "dagster-platform", "postgresSecret": "dagster-platform-postgres"}},
        {"credentials": {"existingSecret": "x", "secretKeys": {}}},
    ], ids=["platform.postgresSecret", "credentials.secretKeys"])
    def test_rejects_removed_and_unknown_credentials_keys(self, location_chart, overrides) -> None:
        """platform.postgresSecret (chart 0.2) handed the platform-wide Postgres Secret to a code server."""
        with pytest.raises(helm_python.HelmValuesError, match="additional properties '(postgresSecret|secretKeys)' not allowed"):
            location_chart.validate_schema({**location_values("ingest"), **overrides})

    @pytest.mark.parametrize(("overrides", "key"), [
        ({"objectStore": {"reads": ["Ingest"]}}, "/objectStore/reads/0"),
        ({"objectStore": {"reads": ["landing", "landing"]}}, "/objectStore/reads"),
        ({"objectStore": {"bucketNames": {"ingest": "Acme_Ingest"}}}, "/objectStore/bucketNames/ingest"),
    ])
    def test_rejects_bad_object_store_declarations(self, location_chart, overrides, key) -> None:
        with pytest.raises(helm_python.HelmValuesError, match=key):
            location_chart.validate_schema({**location_values("ingest"), **overrides})

    def test_rejects_unknown_run_resources_key(self, location_chart) -> None:
        values = {**location_values("ingest"), "runResources": {"request": {}}}
        with pytest.raises(helm_python.HelmValuesError, match="'request' not allowed"):
            location_chart.validate_schema(values)


# --- check-values.yaml guards: one negative test each, asserting the message ---


def location(name: str, **extra) -> dict:
    return {"name": name, "host": f"dagster-code-{name}", "port": 4000, **extra}


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
    # Who holds which credential.
    "platform credentials in the superuser's Secret": (
        {"platformCredentials": {"existingSecret": "dagster-platform-postgres"}},
        'platformCredentials.existingSecret: the Secret "dagster-platform-postgres" already holds the Postgres '
        "superuser's password (postgres.existingSecret); each principal needs a Secret of its own",
    ),
    "location credentials in the admin key's Secret": (
        {"s3": {"existingSecret": "s3-admin"}, "codeLocations": [location("ingest", credentialsSecret="s3-admin")]},
        'codeLocations[ingest].credentialsSecret: the Secret "s3-admin" already holds the object store\'s admin key',
    ),
    "two locations sharing a Secret": (
        {"codeLocations": [location("ingest", credentialsSecret="shared"),
                           location("transform", credentialsSecret="shared")]},
        'codeLocations[transform].credentialsSecret: the Secret "shared" already holds the credentials of location "ingest"',
    ),
    "a location using the platform's Secret": (
        {"codeLocations": [location("ingest", credentialsSecret="dagster-platform-platform-credentials")]},
        "already holds the credentials of the platform (webserver and daemon)",
    ),
    "the webserver given the superuser's Secret": (
        {"webserver": {"envFrom": {"secrets": ["dagster-platform-postgres"]}}},
        'webserver.envFrom.secrets must not list "dagster-platform-postgres": it holds the Postgres superuser\'s '
        "password (postgres.existingSecret), which the webserver must not get",
    ),
    "the daemon given a location's Secret": (
        {"daemon": {"envFrom": {"secrets": ["dagster-code-ingest-credentials"]}}},
        'daemon.envFrom.secrets must not list "dagster-code-ingest-credentials": it holds the credentials of '
        'location "ingest", which the daemon must not get',
    ),
    "every run given the platform's Secret": (
        {"runLauncher": {"envFrom": {"secrets": ["dagster-platform-platform-credentials"]}}},
        'runLauncher.envFrom.secrets must not list "dagster-platform-platform-credentials": it holds the credentials '
        "of the platform (webserver and daemon), which every location's run pods must not get",
    ),
    "every run given the admin key": (
        {"s3": {"existingSecret": "s3-admin"}, "runLauncher": {"envFrom": {"secrets": ["s3-admin"]}}},
        'runLauncher.envFrom.secrets must not list "s3-admin": it holds the object store\'s admin key',
    ),
    "PgBouncer's login in the superuser's Secret": (
        {"pgbouncer": {"existingSecret": "dagster-platform-postgres"}},
        'pgbouncer.existingSecret: the Secret "dagster-platform-postgres" already holds the Postgres superuser\'s '
        "password (postgres.existingSecret); PgBouncer's login needs a Secret of its own",
    ),
    "a location using PgBouncer's Secret": (
        {"codeLocations": [location("ingest", credentialsSecret="dagster-platform-pgbouncer")]},
        'codeLocations[ingest].credentialsSecret: the Secret "dagster-platform-pgbouncer" already holds the password '
        "of PgBouncer's lookup login (pgbouncer.existingSecret)",
    ),
    "the daemon given PgBouncer's Secret": (
        {"daemon": {"envFrom": {"secrets": ["dagster-platform-pgbouncer"]}}},
        'daemon.envFrom.secrets must not list "dagster-platform-pgbouncer": it holds the password of PgBouncer\'s '
        "lookup login",
    ),
    "a location named platform": (
        {"codeLocations": [location("platform")]},
        'codeLocations: a location must not be named "platform"',
    ),
    # Grants, as platformctl.locations checks the declarations.
    "a reserved schema": (
        {"codeLocations": [location("ingest", warehouse={"writes": ["public"]})]},
        'codeLocations[ingest].warehouse.writes: schema "public" is reserved',
    ),
    "a Postgres schema": (
        {"codeLocations": [location("ingest", warehouse={"writes": ["pg_temp"]})]},
        'codeLocations[ingest].warehouse.writes: schema "pg_temp" is reserved',
    ),
    "a schema with two owners": (
        {"codeLocations": [location("ingest", warehouse={"writes": ["raw"]}),
                           location("transform", warehouse={"writes": ["raw"]})]},
        'codeLocations[transform].warehouse.writes: schema "raw" is already written by location "ingest"; '
        "a schema has one owner",
    ),
    "a read of a schema nobody writes": (
        {"codeLocations": [location("transform", warehouse={"reads": ["raw"]})]},
        'codeLocations[transform].warehouse.reads: no location writes schema "raw"',
    ),
    "a read of its own schema": (
        {"codeLocations": [location("ingest", warehouse={"writes": ["raw"], "reads": ["raw"]})]},
        'codeLocations[ingest].warehouse.reads: "raw" is its own (listed in writes); list it once',
    ),
    "a read of its own bucket": (
        {"codeLocations": [location("ingest", objectStore={"reads": ["ingest"]})]},
        "codeLocations[ingest].objectStore.reads: its own bucket needs no declaration",
    ),
    "a read of a bucket that is no location's": (
        {"codeLocations": [location("reports", objectStore={"reads": ["billing"]})]},
        'codeLocations[reports].objectStore.reads: "billing" is neither "landing" nor a location',
    ),
    "two locations on one bucket": (
        {"codeLocations": [location("ingest", dataBucket="acme-data"), location("transform", dataBucket="acme-data")]},
        'the data bucket of location "transform" (codeLocations[transform].dataBucket): bucket "acme-data" is already '
        'the data bucket of location "ingest"',
    ),
    "a location writing into the logs bucket": (
        {"codeLocations": [location("ingest", dataBucket="dagster-logs")]},
        'bucket "dagster-logs" is already s3.logsBucket (compute logs); compute logs, landing files and each '
        "location need a bucket of their own",
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
    "another location's Secret": (
        {"credentials": {"existingSecret": "dagster-code-reports-credentials"}},
        'credentials.existingSecret "dagster-code-reports-credentials" is another location\'s credentials Secret; '
        "this location's is dagster-code-ingest-credentials",
    ),
    "credentials listed again in envFrom": (
        {"credentials": {"existingSecret": "ingest-vault"}, "envFrom": {"secrets": ["ingest-vault"]}},
        'envFrom.secrets must not list "ingest-vault": a location\'s pods and runs get credentials only from '
        "credentials.existingSecret",
    ),
    "another location's Secret in envFrom": (
        {"envFrom": {"secrets": ["dagster-code-transform-credentials"]}},
        'envFrom.secrets must not list "dagster-code-transform-credentials"',
    ),
    "a password in env": (
        {"env": {"DAGSTER_PG_PASSWORD": "x"}},
        "env must not set DAGSTER_PG_PASSWORD: credentials come from the Secret credentials.existingSecret names",
    ),
    "the bucket in env": (
        {"env": {"DATA_BUCKET": "x"}},
        "env must not set DATA_BUCKET: set dataBucket",
    ),
    "a declaration of its own bucket": (
        {"objectStore": {"reads": ["ingest"]}},
        'objectStore.reads: "ingest" is this location; its own bucket needs no declaration',
    ),
    "a write into another location's bucket": (
        {"objectStore": {"writes": ["reports"]}},
        'objectStore.writes: only "landing" may be written by another location, not "reports"',
    ),
    "a bucket name for an undeclared location": (
        {"objectStore": {"reads": ["landing"], "bucketNames": {"reports": "acme-reports"}}},
        "objectStore.bucketNames.reports: reports is not a location in objectStore.reads or objectStore.writes",
    ),
    "a bucket name for landing": (
        {"objectStore": {"reads": ["landing"], "bucketNames": {"landing": "acme-landing"}}},
        "objectStore.bucketNames.landing: landing is not a location in objectStore.reads or objectStore.writes "
        "(the landing bucket is the platform's s3.landingBucket)",
    ),
    "another location's bucket in env": (
        {"objectStore": {"reads": ["transform"]}, "env": {"TRANSFORM_BUCKET": "x"}},
        "env must not set TRANSFORM_BUCKET: the chart sets it from objectStore",
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
