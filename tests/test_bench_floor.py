"""bench/floor.py: stock Dagster's floor for the stack's topology runs the stack's
own commands with empty definitions, and the bench reports it beside the stack.
The measurement itself runs in tests/bench (make e2e)."""

import json
import re
import subprocess
from pathlib import Path

import tomllib
import yaml

from tests.e2e.platform import LOCATIONS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())


def image_cmd(dockerfile: str) -> list[str]:
    """The last CMD of the Dockerfile: the location images' code-server command."""
    cmds = re.findall(r"^CMD (\[.*\])$", (ROOT / dockerfile).read_text(), flags=re.M)
    return json.loads(cmds[-1])


def test_a_code_server_runs_the_images_command_on_empty_definitions():
    from bench import floor

    command = image_cmd("docker/Dockerfile")
    assert "--module-name" in command[-1]
    got = floor.code_server_command(command)
    assert got[:-1] == command[:-1]
    assert got[-1] == command[-1].replace('--module-name "${DAGSTER_LOCATION_NAME}.definitions"',
                                          "--python-file /tmp/floor/defs.py")
    assert "--lazy-load-user-code" in got[-1] and "-p 4000" in got[-1]


def test_anything_but_a_code_server_command_is_refused_by_name():
    from bench import floor

    for bad in (["dagster-webserver", "-h", "0.0.0.0"], ["/bin/sh", "-c", "exec dagster api grpc -f x.py"]):
        try:
            floor.code_server_command(bad)
        except ValueError as exc:
            assert repr(bad) in str(exc)
        else:
            raise AssertionError(f"accepted {bad!r}")


def test_the_webserver_and_daemon_keep_their_commands_on_the_floors_workspace():
    from bench import floor

    for service in ("webserver", "daemon"):
        command = COMPOSE["services"][service]["command"]
        got = floor.workspace_command(command)
        assert got[got.index("-w") + 1] == "/tmp/floor/workspace.yaml"
        assert [c for c in got if c != "/tmp/floor/workspace.yaml"] == [
            c for c in command if not c.endswith("workspace.yaml")]
    loaded = yaml.safe_load(floor.workspace(LOCATIONS))["load_from"]
    assert [entry["grpc_server"] for entry in loaded] == [
        {"host": location, "port": 4000, "location_name": location} for location in LOCATIONS]


def test_code_servers_get_no_instance_and_only_transform_imports_a_library():
    from bench import floor

    env = ["PATH=/opt/venv/bin:/usr/bin", "DAGSTER_HOME=/opt/dagster/dagster_home", "MALLOC_ARENA_MAX=2"]
    server = floor.floor_env(env, LOCATIONS, instance=False, defs=floor.empty_definitions("ingest"))
    assert not any(item.startswith("DAGSTER_HOME=") for item in server)
    assert {"PATH=/opt/venv/bin:/usr/bin", "MALLOC_ARENA_MAX=2"} <= set(server)
    webserver = floor.floor_env(env, LOCATIONS, instance=True, defs="")
    assert [item for item in webserver if item.startswith("DAGSTER_HOME=")] == ["DAGSTER_HOME=/tmp/floor"]
    assert yaml.safe_load(dict(i.split("=", 1) for i in webserver)["FLOOR_INSTANCE"]) == {"telemetry": {"enabled": False}}

    # The empty definitions are valid Python that loads nothing but Dagster, and
    # dagster-dbt where the platform runs dbt through it.
    for location in LOCATIONS:
        text = floor.empty_definitions(location)
        compile(text, location, "exec")
        imports = set(re.findall(r"^import (\w+)", text, flags=re.M))
        assert imports == {"dagster", *floor.REQUIRED_IMPORTS.get(location, ())}
    assert set(floor.REQUIRED_IMPORTS) <= set(LOCATIONS)
    deps = tomllib.loads((ROOT / "code_locations/transform/pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("dagster-dbt") for d in deps)


def test_the_setup_writes_the_files_and_runs_the_command(tmp_path):
    """SETUP as the floor's containers run it (/bin/sh), with FLOOR_HOME moved into tmp_path."""
    from bench import floor

    script = floor.SETUP.replace(floor.FLOOR_HOME, str(tmp_path / "floor"))
    env = {"FLOOR_INSTANCE": "telemetry: {enabled: false}\n", "FLOOR_DEFS": floor.empty_definitions("transform"),
           "FLOOR_WORKSPACE": floor.workspace(["ingest"])}
    proc = subprocess.run(["/bin/sh", "-c", script, "floor", "cat", str(tmp_path / "floor/defs.py")],
                          env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == env["FLOOR_DEFS"]
    assert (tmp_path / "floor/workspace.yaml").read_text() == env["FLOOR_WORKSPACE"]
    assert yaml.safe_load((tmp_path / "floor/dagster.yaml").read_text()) == {"telemetry": {"enabled": False}}


def test_the_floor_adds_the_stacks_other_services_and_the_table_shows_both():
    from bench import run

    floor = {"dagster_mib": 600.0, "samples_mib": [600.0], "rest_s": 75,
             "per_service_mib": {"ingest": 94.0, "webserver": 125.0}}
    tuned = {"round": 1, "profile": "tuned", "footprint": {"idle_mib": 830.0, "warm_mib": 840.0, "per_service_mib": {
        f"{run.PROJECT}_ingest_1": 130.0, f"{run.PROJECT}_webserver_1": 128.0, f"{run.PROJECT}_postgres_1": 60.0,
        f"{run.PROJECT}_s3_1": 30.0, f"{run.PROJECT}_pgbouncer_1": 2.5}}}
    summary = run.summarize([tuned])
    got = run.floor_summary(floor, summary)
    assert got["others_mib"] == {"postgres": 60.0, "s3": 30.0, "pgbouncer": 2.5}
    assert got["total_mib"] == 692.5
    assert run.floor_summary(None, summary) is None
    assert run.floor_summary(floor, run.summarize([])) == floor  # no tuned round: the floor alone

    result = {"summary": summary, "ratios": run.ratios(summary), "args": {"burst": 20, "rest_seconds": 75},
              "images_mb": {}, "targets": {}, "deploy": None, "landing": None, "floor": got}
    text = run.table(result)
    [row] = [line for line in text.splitlines() if line.startswith("| stock Dagster's floor")]
    assert "600.0 (ingest 94.0 (stack 130.0), webserver 125.0 (stack 128.0))" in row
    [row] = [line for line in text.splitlines() if line.startswith("| the floor with the stack's other services")]
    assert "692.5 (+ postgres 60.0, s3 30.0, pgbouncer 2.5; issue 22's bound 701)" in row


def test_the_idle_stack_is_held_to_issue_22s_701_mib():
    from bench import run

    def idle(mib: float) -> dict:
        summary = run.summarize([{"round": 1, "profile": "tuned", "footprint": {
            "idle_mib": mib, "warm_mib": mib, "per_service_mib": {}}}])
        return run.targets(summary, run.ratios(summary), {})["idle_memory_mib <= 701"]

    assert idle(701.0) == {"value": 701.0, "met": True}
    assert idle(832.8) == {"value": 832.8, "met": False}
    assert run.parse_args([]).floor is True and run.parse_args(["--no-floor"]).floor is False
