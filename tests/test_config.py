"""dagster.yaml, workspace.yaml and the compose file pass validation, and bad
config is reported by file and key (the same checks `make check` runs)."""

import re
import shutil
from pathlib import Path

import pytest
import yaml
from platformctl import check_config, locations

ROOT = Path(__file__).resolve().parents[1]


def copy_declarations(dest: Path) -> None:
    """dg.toml and each location's pyproject.toml: what the generated compose services come from."""
    shutil.copy(ROOT / "dg.toml", dest / "dg.toml")
    for name in locations.names(ROOT):
        (dest / "code_locations" / name).mkdir(parents=True)
        shutil.copy(ROOT / "code_locations" / name / "pyproject.toml", dest / "code_locations" / name)


@pytest.fixture
def tree(tmp_path):
    """A copy of the config files, for breaking on purpose."""
    for rel in ("dagster.yaml", "workspace.yaml", "docker/compose.yaml", ".env.example"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    copy_declarations(tmp_path)
    env = (ROOT / ".env.example").read_text()
    (tmp_path / ".env").write_text(env)
    return tmp_path


def run_check(root, capsys):
    code = check_config.main(["--root", str(root)])
    return code, capsys.readouterr().err


def edit_yaml(path, fn):
    data = yaml.safe_load(path.read_text())
    fn(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_committed_config_is_valid(tree, capsys):
    code, err = run_check(tree, capsys)
    assert (code, err) == (0, "")


def test_instance_is_stock_dagster_but_for_the_classes_with_an_adr():
    data = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    assert set(data["storage"]) == {"postgres"}
    assert (data["run_coordinator"]["module"], data["run_coordinator"]["class"]) == (
        "platform_services.run_queue", "HalfSecondQueuedRunCoordinator")  # docs/adr/0008
    assert {limit["key"] for limit in data["run_coordinator"]["config"]["tag_concurrency_limits"]} == {
        "dagster/code_location"}
    assert data["run_launcher"]["class"] == "PlatformDockerRunLauncher"  # docs/adr/0002
    assert data["run_launcher"]["config"]["network"] == "dagster_platform"
    assert (data["compute_logs"]["module"], data["compute_logs"]["class"]) == (
        "platform_services.compute_logs", "S3ComputeLogManager")  # docs/adr/0003
    assert data["telemetry"]["enabled"] is False


def test_postgres_stops_with_a_fast_shutdown():
    # SIGTERM (smart shutdown) waits for the pooled connections to leave, which they
    # never do; Docker then kills Postgres and the next start is a crash recovery.
    postgres = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())["services"]["postgres"]
    assert postgres["stop_signal"] == "SIGINT"


def test_the_object_store_runs_under_a_soft_memory_limit_go_understands():
    # Without it, weed keeps up to twice its live heap: 92-105 MiB at rest against 44.
    s3 = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())["services"]["s3"]
    limit = s3["environment"]["GOMEMLIMIT"]
    # Go's syntax: an integer and a unit suffix B, KiB, MiB, GiB or TiB (runtime/debug.SetMemoryLimit).
    assert re.fullmatch(r"[1-9][0-9]*(B|KiB|MiB|GiB|TiB)", limit), limit
    assert limit == "64MiB"


def test_run_containers_get_every_platform_variable():
    launcher_env = set(yaml.safe_load((ROOT / "dagster.yaml").read_text())["run_launcher"]["config"]["env_vars"])
    compose_env = set(yaml.safe_load((ROOT / "docker/compose.yaml").read_text())["x-platform-env"])
    assert launcher_env == compose_env


def test_wrong_key_in_dagster_yaml_is_named(tree, capsys):
    edit_yaml(tree / "dagster.yaml", lambda d: d["run_launcher"]["config"].update(netwrok="x"))
    code, err = run_check(tree, capsys)
    assert code == 1
    assert "dagster.yaml: run_launcher.config" in err and "netwrok" in err


def test_wrong_key_in_the_storage_block_is_named(tree, capsys):
    edit_yaml(tree / "dagster.yaml", lambda d: d["storage"]["postgres"]["postgres_db"].update(hostnme="x"))
    code, err = run_check(tree, capsys)
    assert code == 1
    assert "dagster.yaml" in err and "hostnme" in err


def test_wrong_type_in_dagster_yaml_is_named(tree, capsys):
    edit_yaml(tree / "dagster.yaml", lambda d: d["run_coordinator"]["config"].update(max_concurrent_runs="ten"))
    code, err = run_check(tree, capsys)
    assert code == 1
    assert "dagster.yaml: run_coordinator.config.max_concurrent_runs" in err


def test_malformed_workspace_is_named(tree, capsys):
    (tree / "workspace.yaml").write_text("load_from:\n  - grpc_server: {host: ingest, port: four}\n")
    code, err = run_check(tree, capsys)
    assert code == 1
    assert "workspace.yaml" in err and "port" in err


def test_invalid_yaml_is_named(tree, capsys):
    (tree / "dagster.yaml").write_text("storage: [unclosed\n")
    code, err = run_check(tree, capsys)
    assert code == 1
    assert "dagster.yaml: not valid YAML" in err


def test_missing_variable_is_named(tree, capsys):
    env = tree / ".env"
    env.write_text(env.read_text().replace("POSTGRES_DB=dagster", "POSTGRES_DB="))
    code, err = run_check(tree, capsys)
    assert code == 1
    assert "variable POSTGRES_DB is required but not set" in err


def test_missing_secret_is_named_by_make_check(tmp_path):
    # make check runs `platformctl check-env` before the config checks.
    import subprocess
    import sys

    copy_declarations(tmp_path)
    (tmp_path / ".env").write_text("POSTGRES_USER=dagster\n")
    proc = subprocess.run([sys.executable, "-m", "platformctl", "check-env"], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "libs/platformctl/src"), "PLATFORM_ROOT": str(tmp_path)})
    assert proc.returncode == 1
    assert ".env: POSTGRES_PASSWORD is not set" in proc.stderr
    assert ".env: INGEST_PG_PASSWORD is not set" in proc.stderr


def test_publishing_postgres_is_refused(tree, capsys):
    edit_yaml(tree / "docker/compose.yaml", lambda d: d["services"]["postgres"].update(ports=["5432:5432"]))
    code, err = run_check(tree, capsys)
    assert code == 1
    assert "services.postgres.ports: only the webserver may be published" in err


def test_webserver_on_all_interfaces_is_refused(tree, capsys):
    edit_yaml(tree / "docker/compose.yaml", lambda d: d["services"]["webserver"].update(ports=["3000:3000"]))
    code, err = run_check(tree, capsys)
    assert code == 1
    assert "services.webserver.ports: '3000:3000' must bind 127.0.0.1" in err


def test_docker_socket_outside_run_launchers_is_refused(tree, capsys):
    edit_yaml(
        tree / "docker/compose.yaml",
        lambda d: d["services"]["s3"].update(volumes=["/var/run/docker.sock:/var/run/docker.sock"]),
    )
    code, err = run_check(tree, capsys)
    assert code == 1
    assert "docker/compose.yaml: services.s3.volumes: the Docker socket is for run launchers only" in err


def test_the_generated_location_services_are_checked_and_named_by_their_source(tree, capsys):
    """The location services come from dg.toml (platformctl.generate); a bad one is named there."""
    compose = tree / "docker/compose.yaml"
    compose.write_text(compose.read_text().replace("  healthcheck:\n    test: [\"CMD\", \"python\", \"-m\", "
                                                   "\"platform_services.health\", \"4000\"]\n", "  healthcheck_:\n"
                                                   "    test: [\"CMD\", \"python\", \"-m\", "
                                                   "\"platform_services.health\", \"4000\"]\n", 1))
    code, err = run_check(tree, capsys)
    assert code == 1
    for name in locations.names(ROOT):
        assert (f".generated/compose.locations.yaml (generated from dg.toml): services.{name}: long-running "
                "service without a healthcheck") in err


def test_the_merged_compose_has_every_location_and_the_run_launchers_wait_for_them():
    merged = check_config.load_compose(ROOT)
    names = locations.names(ROOT)
    for service in ("webserver", "daemon"):
        assert merged["services"][service]["depends_on"] == {
            "init": {"condition": "service_completed_successfully"},
            **{name: {"condition": "service_healthy"} for name in names}}
    for name in names:
        assert merged["services"][name]["security_opt"] == ["no-new-privileges:true"]  # <<: *code-location
        assert merged["volumes"][f"secrets-{name}"]["external"] is True


def test_a_bad_dg_toml_is_named_by_make_check(tree, capsys):
    (tree / "dg.toml").write_text((tree / "dg.toml").read_text().replace("code_locations/reports",
                                                                           "code_locations/reprts"))
    code, err = run_check(tree, capsys)
    assert code == 1
    assert "dg.toml:" in err and "'code_locations/reprts': no such folder" in err


def test_env_file_line_without_equals_is_named(tree, capsys):
    (tree / ".env").write_text((tree / ".env").read_text() + "JUSTANAME\n")
    code, err = run_check(tree, capsys)
    assert code == 1
    assert ".env:" in err and "expected NAME=value" in err


def test_daemon_and_webserver_run_dagsters_own_commands():
    services = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())["services"]
    workspace = ["-w", "/opt/dagster/dagster_home/workspace.yaml"]
    assert services["daemon"]["command"] == ["dagster-daemon", "run", *workspace]
    assert services["webserver"]["command"][0] == "dagster-webserver"
    assert services["daemon"]["healthcheck"]["test"] == ["CMD", "/opt/platform/bin/entrypoint", "dagster-daemon",
                                                         "liveness-check"]


@pytest.mark.parametrize(("break_it", "expected"), [
    (lambda t: (t / "workspace.yaml").write_text("load_from:\n  - python_module: ingest.definitions\n"),
     "workspace.yaml: load_from: every entry must be a grpc_server"),
    (lambda t: edit_yaml(t / "workspace.yaml", lambda d: d["load_from"][1]["grpc_server"].update(
        location_name="ingest")), "workspace.yaml: load_from: duplicate location_name ingest"),
    (lambda t: edit_yaml(t / "docker/compose.yaml", lambda d: d.update(version="3.8")),
     "docker/compose.yaml: top-level 'version:' breaks docker-compose 1.29 or v2"),
    (lambda t: edit_yaml(t / "docker/compose.yaml", lambda d: d["services"]["daemon"].pop("healthcheck")),
     "docker/compose.yaml: services.daemon: long-running service without a healthcheck"),
    (lambda t: (t / "workspace.yaml").unlink(), "workspace.yaml: file not found"),
    (lambda t: (t / ".env").unlink(), ".env: not found (run `make .env` or copy .env.example)"),
    (lambda t: (t / "dagster.yaml").write_text("- just\n- a list\n"), "dagster.yaml: expected a mapping"),
    (lambda t: edit_yaml(t / "dagster.yaml", lambda d: d["run_launcher"].update(module="platform_servics.run_launcher")),
     "dagster.yaml: run_launcher: cannot import platform_servics.run_launcher.PlatformDockerRunLauncher"),
], ids=["not-grpc", "duplicate-location", "compose-version", "no-healthcheck", "no-workspace", "no-env",
        "not-a-mapping", "unimportable-class"])
def test_each_kind_of_bad_config_is_named(tree, capsys, break_it, expected):
    break_it(tree)
    code, err = run_check(tree, capsys)
    assert code == 1
    assert expected in err, err
