"""Wait until the webserver answers and every code location is LOADED.

    platformctl wait-ready --url URL --expect LOCATION... [--timeout SECONDS]

Exits 0 when ready. Otherwise exits 1 and says which location failed and why
(the location's load error from the webserver, or that it never came up).
Standard library only, and no import of platformctl: it runs on the host before
any project venv exists, and as a plain script in the platform chart's
`helm test` Pod (helm/dagster-platform/files/wait_ready.py links here).
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

QUERY = """
{ workspaceOrError { __typename
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } }
    ... on PythonError { message } } }
"""


RELOAD = """
mutation($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) { __typename
    ... on PythonError { message } ... on RepositoryLocationNotFound { message } } }
"""


def graphql(url: str, query: str, **variables: object) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    req = urllib.request.Request(f"{url}/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)["data"]


def reload_location(url: str, name: str) -> None:
    """Ask the webserver to reload one location from its code server."""
    result = graphql(url, RELOAD, name=name)["reloadRepositoryLocation"]
    if result["__typename"] not in ("WorkspaceLocationEntry",):
        raise RuntimeError(result.get("message", result["__typename"]))


def locations(url: str) -> list[dict]:
    data = graphql(url, QUERY)["workspaceOrError"]
    if data["__typename"] != "Workspace":
        raise RuntimeError(data.get("message", data["__typename"]))
    return data["locationEntries"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platformctl wait-ready", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--expect", nargs="+", required=True, help="location names that must be LOADED")
    args = parser.parse_args(argv)

    deadline = time.monotonic() + args.timeout
    last = "webserver did not answer"
    while time.monotonic() < deadline:
        try:
            entries = {e["name"]: e for e in locations(args.url)}
        except (OSError, urllib.error.URLError, RuntimeError, KeyError, ValueError) as exc:
            last = f"webserver at {args.url} not ready: {exc}"
            time.sleep(2)
            continue
        problems = []
        for name in args.expect:
            entry = entries.get(name)
            if entry is None:
                problems.append(f"{name}: not in the workspace (check workspace.yaml)")
            elif entry["locationOrLoadError"] and entry["locationOrLoadError"]["__typename"] == "PythonError":
                problems.append(f"{name}: failed to load: {entry['locationOrLoadError']['message'].strip()}")
            elif entry["loadStatus"] != "LOADED" or not entry["locationOrLoadError"]:
                problems.append(f"{name}: {entry['loadStatus']}")
        if not problems:
            print(f"ready: {args.url} with locations {', '.join(args.expect)} LOADED")
            return 0
        last = "; ".join(problems)
        time.sleep(2)
    print(f"not ready after {args.timeout:.0f}s: {last}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
