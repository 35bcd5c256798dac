"""Every template renders, lints clean and validates against Kubernetes' schema."""

from __future__ import annotations

import helm_python
import pytest
from helm_harness import (
    KUBE_VERSIONS,
    LOCATION_CHART,
    LOCATIONS,
    PLATFORM_CHART,
    PLATFORM_VALUE_SETS,
    all_rendered_sets,
    k8s_validate,
    location_values,
    render_chart,
)

RENDERED = all_rendered_sets()


@pytest.mark.parametrize(
    ("label", "objects"), RENDERED, ids=[label for label, _ in RENDERED]
)
def test_renders_objects_with_unique_names(label: str, objects: list[dict]) -> None:
    assert objects, label
    keys = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(keys) == len(set(keys)), f"duplicate objects in {label}: {keys}"


def test_every_platform_template_renders_something() -> None:
    """No template file is dead: each yields objects under some value set."""
    chart = helm_python.Chart.load(PLATFORM_CHART)
    seen: set[str] = set()
    for values in PLATFORM_VALUE_SETS.values():
        for path, text in chart.render(
            values, name="dagster-platform", namespace="dagster"
        ).items():
            if text.strip():
                seen.add(path.split("/", 1)[1])
    templates = {
        t["name"] for t in chart.templates if not t["name"].endswith((".tpl",))
    }
    # check-values renders nothing on purpose.
    assert templates - seen == {"templates/check-values.yaml"}


@pytest.mark.parametrize(
    ("chart", "values"),
    [(PLATFORM_CHART, v) for v in PLATFORM_VALUE_SETS.values()]
    + [(LOCATION_CHART, location_values(loc)) for loc in LOCATIONS],
    ids=[f"platform:{k}" for k in PLATFORM_VALUE_SETS]
    + [f"location:{loc}" for loc in LOCATIONS],
)
def test_lint_is_clean(chart, values) -> None:
    report = helm_python.lint(chart, values, strict=True)
    assert report["errors"] == []
    assert report["messages"] == []


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
