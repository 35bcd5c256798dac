"""`helm test`: a hardened Pod that waits until the webserver answers and every location is LOADED.

The Pod runs platformctl's wait_ready.py from a hook ConfigMap. Besides the
rendered objects, the Pod's own command is run here against a stand-in
webserver on 127.0.0.1 that answers the GraphQL query as Dagster's does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from helm_harness import (
    LOCATIONS,
    PLATFORM_VALUE_SETS,
    REPO_ROOT,
    find,
    pod_labels,
    render_chart,
)
from test_helm_networkpolicy import selects

HOOK = ["templates/test-pod.yaml"]


def hook_pod(values: dict | None = None) -> dict:
    return find(render_chart(values, show_only=HOOK), "Pod", "dagster-platform-test")


def test_the_test_pod_is_a_helm_test_hook_that_waits_for_every_location() -> None:
    objects = render_chart(show_only=HOOK)
    pod, config_map = find(objects, "Pod"), find(objects, "ConfigMap")
    for obj in (pod, config_map):
        assert obj["metadata"]["annotations"]["helm.sh/hook"] == "test"
        # Kept after the run for `helm test --logs`; replaced by the next run.
        assert obj["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert int(config_map["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        pod["metadata"]["annotations"]["helm.sh/hook-weight"])
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["activeDeadlineSeconds"] == 300 + 60
    [container] = spec["containers"]
    assert container["image"] == "ghcr.io/example/dagster-platform/platform:0.1.0"
    assert container["command"] == [
        "python", "/opt/dagster-test/wait_ready.py", "--url", "http://dagster-platform-webserver:80",
        "--timeout", "300", "--expect", *LOCATIONS]
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "128Mi"}
    assert {"name": "check", "mountPath": "/opt/dagster-test", "readOnly": True} in container["volumeMounts"]
    assert {"name": "check", "configMap": {"name": "dagster-platform-test"}} in spec["volumes"]
    assert pod_labels(pod)["app.kubernetes.io/component"] == "test"


def test_the_check_is_the_one_make_up_waits_with() -> None:
    script = find(render_chart(show_only=HOOK), "ConfigMap")["data"]["wait_ready.py"]
    assert script == (REPO_ROOT / "libs/platformctl/src/platformctl/wait_ready.py").read_text()


@pytest.mark.parametrize(("values", "url", "expect"), [
    ({"webserver": {"extraArgs": ["--path-prefix", "/dagster"]}}, "http://dagster-platform-webserver:80/dagster",
     list(LOCATIONS)),
    ({"webserver": {"extraArgs": ["--path-prefix=/dagster/"], "service": {"type": "ClusterIP", "port": 8080}},
      "codeLocations": [{"name": "billing", "host": "dagster-code-billing", "port": 4000}]},
     "http://dagster-platform-webserver:8080/dagster", ["billing"]),
], ids=["path-prefix", "port-and-locations"])
def test_the_check_follows_the_webservers_address_and_the_locations(values, url, expect) -> None:
    command = hook_pod(values)["spec"]["containers"][0]["command"]
    assert command[command.index("--url") + 1] == url
    assert command[command.index("--expect") + 1:] == expect


@pytest.mark.parametrize("values", [{"test": {"enabled": False, "timeoutSeconds": 300, "resources": {
    "requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}}, {"codeLocations": []}],
    ids=["disabled", "no-locations"])
def test_no_test_pod_when_disabled_or_nothing_to_wait_for(values) -> None:
    assert render_chart(values, show_only=HOOK) == []


def test_a_restricted_webserver_still_admits_the_test_pod() -> None:
    objects = render_chart(PLATFORM_VALUE_SETS["extensions"])
    policy = find(objects, "NetworkPolicy", "dagster-platform-webserver")["spec"]
    peers = [p for rule in policy["ingress"] for p in rule["from"] if "podSelector" in p]
    test_labels = pod_labels(find(objects, "Pod", "dagster-platform-test"))
    assert any(selects(p["podSelector"], test_labels) for p in peers)
    for name in ("dagster-platform-daemon", "dagster-platform-webserver"):
        labels = pod_labels(find(objects, "Deployment", name))
        assert not any(selects(p["podSelector"], labels) for p in peers), name


def test_an_open_webserver_policy_needs_no_exception() -> None:
    policy = find(render_chart(), "NetworkPolicy", "dagster-platform-webserver")["spec"]
    assert all("from" not in rule for rule in policy["ingress"])


# ------------------------------------------------------------ the check itself


class FakeWebserver(ThreadingHTTPServer):
    """Answers Dagster's workspace query: each POST returns the next of `answers` (the last one repeats)."""

    def __init__(self, prefix: str, answers: list[list[dict]]):
        self.prefix, self.answers, self.calls = prefix, answers, 0
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(BaseHTTPRequestHandler):
    server: FakeWebserver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["query"]
        assert self.path == f"{self.server.prefix}/graphql" and "workspaceOrError" in query
        entries = self.server.answers[min(self.server.calls, len(self.server.answers) - 1)]
        self.server.calls += 1
        body = json.dumps({"data": {"workspaceOrError": {"__typename": "Workspace", "locationEntries": entries}}})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args) -> None:
        pass


def loaded(name: str) -> dict:
    return {"name": name, "loadStatus": "LOADED", "locationOrLoadError": {"__typename": "RepositoryLocation"}}


def run_the_pods_check(tmp_path, values: dict, answers: list[list[dict]]) -> tuple[subprocess.CompletedProcess, int]:
    """The Pod's command, with the script from its ConfigMap, against a stand-in webserver."""
    objects = render_chart(values, show_only=HOOK)
    script = tmp_path / "wait_ready.py"
    script.write_text(find(objects, "ConfigMap")["data"]["wait_ready.py"])
    command = find(objects, "Pod")["spec"]["containers"][0]["command"]
    url = urlsplit(command[command.index("--url") + 1])
    server = FakeWebserver(url.path, answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        command[command.index("--url") + 1] = f"http://127.0.0.1:{server.server_port}{url.path}"
        result = subprocess.run([sys.executable, str(script), *command[2:]], capture_output=True, text=True,
                                timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    return result, server.calls


PREFIXED = {"webserver": {"extraArgs": ["--path-prefix", "/dagster"]}}


def test_the_check_passes_once_every_location_is_loaded(tmp_path) -> None:
    first, second, *rest = LOCATIONS
    loading = {"name": second, "loadStatus": "LOADING", "locationOrLoadError": None}
    result, calls = run_the_pods_check(tmp_path, PREFIXED, [
        [loaded(first), loading, *map(loaded, rest)],
        [loaded(name) for name in LOCATIONS],
    ])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"with locations {', '.join(LOCATIONS)} LOADED")
    assert calls == 2


def test_the_check_fails_naming_each_location_that_is_not_loaded(tmp_path) -> None:
    first, second, *rest = LOCATIONS
    broken = {"name": second, "loadStatus": "LOADED",
              "locationOrLoadError": {"__typename": "PythonError", "message": "ModuleNotFoundError: dbt\n"}}
    values = {"test": {"enabled": True, "timeoutSeconds": 1, "resources": {
        "requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}}
    result, calls = run_the_pods_check(tmp_path, values, [[loaded(first), broken]])
    assert result.returncode == 1
    assert result.stderr.strip() == "; ".join([
        f"not ready after 1s: {second}: failed to load: ModuleNotFoundError: dbt",
        *(f"{name}: not in the workspace (check workspace.yaml)" for name in rest)])
    assert calls >= 1
