"""Every template renders, lints clean and validates against Kubernetes' schema."""

from __future__ import annotations

import helm_python
import pytest
import yaml
from helm_harness import (
    KUBE_VERSIONS,
    LOCATION_CHART,
    LOCATION_EXTENSIONS,
    PLATFORM_CHART,
    PLATFORM_VALUE_SETS,
    all_rendered_sets,
    k8s_validate,
    location_values,
    render_chart,
    values_files,
)

RENDERED = all_rendered_sets()


@pytest.mark.parametrize(
    ("label", "objects"), RENDERED, ids=[label for label, _ in RENDERED]
)
def test_renders_objects_with_unique_names(label: str, objects: list[dict]) -> None:
    assert objects, label
    keys = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(keys) == len(set(keys)), f"duplicate objects in {label}: {keys}"


@pytest.mark.parametrize(("chart", "value_sets"), [
    (PLATFORM_CHART, list(PLATFORM_VALUE_SETS.values())),
    (LOCATION_CHART, [location_values("ingest"), {**location_values("ingest"), **LOCATION_EXTENSIONS}]),
], ids=["platform", "location"])
def test_every_template_renders_something(chart, value_sets) -> None:
    """No template file is dead: each yields objects under some value set."""
    loaded = helm_python.Chart.load(chart)
    seen: set[str] = set()
    for values in value_sets:
        for path, text in loaded.render(values, name="dagster-platform", namespace="dagster").items():
            if text.strip():
                seen.add(path.split("/", 1)[1])
    templates = {t["name"] for t in loaded.templates if not t["name"].endswith((".tpl",))}
    # check-values renders nothing on purpose.
    assert templates - seen == {"templates/check-values.yaml"}


LINTED = (
    # The charts' own defaults: what `helm lint helm/<chart>` checks.
    [("platform:defaults", PLATFORM_CHART, None), ("location:defaults", LOCATION_CHART, None)]
    + [(f"platform:{k}", PLATFORM_CHART, v) for k, v in PLATFORM_VALUE_SETS.items()]
    + [(f"location:{p.name}", LOCATION_CHART, yaml.safe_load(p.read_text())) for p in values_files()]
    + [("location:extensions", LOCATION_CHART, {**location_values("ingest"), **LOCATION_EXTENSIONS})]
)


@pytest.mark.parametrize(("chart", "values"), [(c, v) for _, c, v in LINTED], ids=[i for i, _, _ in LINTED])
def test_lint_is_clean(chart, values) -> None:
    report = helm_python.lint(chart, values, strict=True)
    assert report["errors"] == []
    assert report["messages"] == []


def test_lint_catches_what_the_defaults_once_hid(tmp_path) -> None:
    """The lint check is not vacuous: an unquoted empty image (the old `image: ghcr.io/example/:`) fails it."""
    import shutil

    copy = tmp_path / "chart"
    shutil.copytree(LOCATION_CHART, copy)
    deployment = copy / "templates" / "deployment.yaml"
    text = deployment.read_text()
    deployment.write_text(text.replace('{{ include "dagster-code-location.image" . | quote }}',
                                       '{{ include "dagster-code-location.image" . }}'))
    report = helm_python.lint(copy, None, strict=True)
    assert any("templates/deployment.yaml" in m["path"] and "YAML" in m["error"] for m in report["messages"])


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize(
    ("label", "objects"), RENDERED, ids=[label for label, _ in RENDERED]
)
def test_objects_match_kubernetes_schema(
    label: str, objects: list[dict], kube_version: str
) -> None:
    for obj in objects:
        k8s_validate(obj, kube_version)


def test_kubernetes_schema_check_catches_errors() -> None:
    """The schema check is not vacuous: a typo in a pod spec fails it."""
    deployment = next(o for o in render_chart() if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = (
        "Always"
    )
    with pytest.raises(Exception, match="imagePullPolicyy"):
        k8s_validate(deployment, KUBE_VERSIONS[-1])


def test_both_charts_share_one_extensions_template() -> None:
    """One file, linked into the location chart: the two charts' extension points cannot drift apart."""
    shared = PLATFORM_CHART / "templates" / "_extensions.tpl"
    linked = LOCATION_CHART / "templates" / "_extensions.tpl"
    assert linked.is_symlink() and linked.resolve() == shared.resolve()
    rendered = helm_python.Chart.load(LOCATION_CHART).templates
    assert any(t["name"] == "templates/_extensions.tpl" for t in rendered)
