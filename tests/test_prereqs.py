"""The Makefile finds its tools by itself (platformctl prereqs), and says in one line what is missing.

Stub executables in temporary PATH folders stand in for Docker clients, engines,
uv and pip: no Docker engine is needed and nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from platformctl import prereqs

ROOT = Path(__file__).resolve().parents[1]
MAKE = shutil.which("make")


def stub(folder: Path, name: str, body: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def docker_stub(folder: Path, version: str = "28.2.2", buildx: bool = False, engine: bool = True) -> str:
    """A Docker CLI: `--version`, `buildx version` (only with buildx) and `info` (only with an engine)."""
    return stub(folder, "docker", f"""case "$1" in
  --version) echo "Docker version {version}, build 0000000";;
  buildx) {'echo "github.com/docker/buildx v0.20.0"' if buildx else 'echo "docker: unknown command: docker buildx" >&2; exit 1'};;
  info) {'echo 28.2.2' if engine else 'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1'};;
  compose) echo "Docker Compose version v2.30.0";;
  *) exit 3;;
esac
""")


@pytest.fixture(autouse=True)
def no_well_known_clients(monkeypatch):
    """Only the stubs count: the Docker clients installed on this machine stay out of it."""
    monkeypatch.setattr(prereqs, "WELL_KNOWN_CLIENTS", ())


# ------------------------------------------------------------ which client


def test_a_client_with_buildx_first_on_path_is_chosen(tmp_path):
    first = docker_stub(tmp_path / "a", buildx=True)
    docker_stub(tmp_path / "b", version="20.10.24+dfsg1")
    path = os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")])
    assert prereqs.find_docker(prereqs.candidates(path)) == first


def test_a_client_without_buildx_is_passed_over_for_an_older_one_that_builds(tmp_path):
    """The CI machine: the 28.x client first on PATH has no buildx; Debian's 20.10 builds by itself."""
    docker_stub(tmp_path / "local", version="28.2.2")
    debian = docker_stub(tmp_path / "usr", version="20.10.24+dfsg1")
    path = os.pathsep.join([str(tmp_path / "local"), str(tmp_path / "usr")])
    assert prereqs.find_docker(prereqs.candidates(path)) == debian


def test_the_well_known_places_are_tried_after_path(tmp_path, monkeypatch):
    docker_stub(tmp_path / "path", version="28.2.2")
    debian = docker_stub(tmp_path / "usr-bin", version="20.10.24+dfsg1")
    monkeypatch.setattr(prereqs, "WELL_KNOWN_CLIENTS", (debian,))
    assert prereqs.candidates(str(tmp_path / "path")) == [str(tmp_path / "path/docker"), debian]
    assert prereqs.find_docker(prereqs.candidates(str(tmp_path / "path"))) == debian


def test_one_client_reached_twice_is_tried_once(tmp_path):
    real = docker_stub(tmp_path / "real", buildx=True)
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "docker").symlink_to(real)
    path = os.pathsep.join([str(tmp_path / "link"), str(tmp_path / "real"), str(tmp_path / "empty")])
    assert prereqs.candidates(path) == [str(tmp_path / "link" / "docker")]


def test_no_client_that_builds_names_each_one_and_how_to_get_buildx(tmp_path):
    docker_stub(tmp_path / "a", version="28.2.2")
    stub(tmp_path / "b", "docker", 'case "$1" in --version) echo "podman version 5.2.0";; *) exit 125;; esac\n')
    path = os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")])
    with pytest.raises(prereqs.Missing) as missing:
        prereqs.find_docker(prereqs.candidates(path))
    message = str(missing.value)
    assert "\n" not in message
    assert f"{tmp_path}/a/docker (28.2) has no buildx plugin" in message
    assert f"{tmp_path}/b/docker is not a Docker CLI" in message
    assert "docker-buildx-plugin" in message


def test_no_client_at_all_says_how_to_install_docker(tmp_path):
    with pytest.raises(prereqs.Missing, match="no docker client found: install Docker Engine"):
        prereqs.find_docker(prereqs.candidates(str(tmp_path)))


def test_the_command_prints_the_choice_or_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert prereqs.main(["docker"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("make: no docker client found")
    chosen = docker_stub(tmp_path / "ok", buildx=True)
    monkeypatch.setenv("PATH", str(tmp_path / "ok"))
    assert prereqs.main(["docker"]) == 0
    assert capsys.readouterr().out == chosen + "\n"


# ------------------------------------------------------------ the engine


def test_an_engine_that_answers_is_enough_to_run(tmp_path):
    prereqs.need_docker(docker_stub(tmp_path, version="28.2.2"))  # no buildx: fine without --build


def test_building_needs_buildkit(tmp_path):
    with pytest.raises(prereqs.Missing, match=r"\(28\.2\) has no buildx plugin, so images cannot be built"):
        prereqs.need_docker(docker_stub(tmp_path, version="28.2.2"), build=True)
    prereqs.need_docker(docker_stub(tmp_path / "old", version="20.10.24+dfsg1"), build=True)


def test_no_engine_says_so_with_the_clients_own_words(tmp_path):
    docker = docker_stub(tmp_path, buildx=True, engine=False)
    with pytest.raises(prereqs.Missing) as missing:
        prereqs.need_docker(docker, build=True)
    message = str(missing.value)
    assert message.startswith(f"no Docker engine answers `{docker} info` (Cannot connect to the Docker daemon")
    assert "start it" in message and "\n" not in message


def test_compose_must_run(tmp_path):
    docker = docker_stub(tmp_path / "d", buildx=True)
    prereqs.need_docker(docker, compose=f"{docker} compose")
    broken = stub(tmp_path / "c", "docker-compose", "exit 1\n")
    with pytest.raises(prereqs.Missing, match="version` fails: install Docker Compose"):
        prereqs.need_docker(docker, compose=broken)


def test_a_docker_that_is_not_there(tmp_path):
    with pytest.raises(prereqs.Missing, match="is not an executable: install Docker Engine"):
        prereqs.need_docker(str(tmp_path / "docker"))


# ------------------------------------------------------------ uv


def fake_python(folder: Path, works: bool = True) -> str:
    """A python3 whose `-m pip install --target DIR uv==V` writes DIR/bin/uv (or fails like pip)."""
    install = ('mkdir -p "$target/bin"; printf \'#!/bin/sh\\necho "uv %s"\\n\' "${pkg#uv==}" >"$target/bin/uv"; '
               'chmod +x "$target/bin/uv"' if works else 'echo "ERROR: No matching distribution found for $pkg" >&2; exit 1')
    return stub(folder, "python3", f"""while [ $# -gt 0 ]; do
  case "$1" in --target) target=$2; shift;; uv==*) pkg=$1;; esac; shift
done
{install}
""")


def test_uv_on_path_is_used_as_it_is(tmp_path):
    uv = stub(tmp_path / "bin", "uv", 'echo "uv 0.13.9"\n')
    prereqs.need_uv(uv, "0.13.9", tmp_path / "home", python=str(tmp_path / "no-python"))
    assert not (tmp_path / "home").exists()


def test_missing_uv_is_installed_into_its_own_folder(tmp_path):
    home = tmp_path / "cache" / "uv-0.13.9"
    prereqs.need_uv(str(home / "bin" / "uv"), "0.13.9", home, python=fake_python(tmp_path))
    assert subprocess.run([home / "bin" / "uv", "--version"], capture_output=True, text=True).stdout == "uv 0.13.9\n"
    assert os.listdir(home.parent) == ["uv-0.13.9"]  # no staging folder left behind


def test_a_failed_install_leaves_nothing_and_says_what_to_do(tmp_path):
    home = tmp_path / "cache" / "uv-0.13.9"
    with pytest.raises(prereqs.Missing) as missing:
        prereqs.need_uv(str(home / "bin" / "uv"), "0.13.9", home, python=fake_python(tmp_path, works=False))
    message = str(missing.value)
    assert "uv 0.13.9 could not be installed" in message and "No matching distribution found" in message
    assert "https://docs.astral.sh/uv/" in message and "\n" not in message
    assert os.listdir(home.parent) == []


def test_a_uv_the_user_named_is_never_replaced(tmp_path):
    with pytest.raises(prereqs.Missing, match=r"UV=.*/mine/uv does not run: install uv 0\.13\.9"):
        prereqs.need_uv(str(tmp_path / "mine" / "uv"), "0.13.9", tmp_path / "home", python=fake_python(tmp_path))
    assert not (tmp_path / "home").exists()


# ------------------------------------------------------------ the Makefile's use of it


def make_dry_run(tmp_path: Path, target: str, path: list[Path], *args: str) -> str:
    """`make -n TARGET` with only `path` (plus a python3) on PATH and HOME in tmp_path."""
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    if not (tools / "python3").exists():
        (tools / "python3").symlink_to(sys.executable)
    env = {"PATH": os.pathsep.join(map(str, [*path, tools])), "HOME": str(tmp_path / "home")}
    result = subprocess.run([MAKE, "--no-print-directory", "-n", target, *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


def test_make_points_uv_at_its_own_install_when_none_is_on_path(tmp_path):
    out = make_dry_run(tmp_path, "need-uv", [])
    expected = f"{tmp_path}/home/.cache/dagster-platform/uv-0.13.9"
    assert f'need-uv "{expected}/bin/uv" --version 0.13.9 --home "{expected}"' in out
    uv = stub(tmp_path / "bin", "uv", 'echo "uv 0.13.9"\n')
    assert f'need-uv "{uv}"' in make_dry_run(tmp_path, "need-uv", [tmp_path / "bin"])


def test_make_builds_with_the_client_it_found_unless_told_otherwise(tmp_path):
    """DOCKER is the script's choice (not merely the first `docker` on PATH), and DOCKER= wins."""
    docker_stub(tmp_path / "first", version="28.2.2")
    builds = docker_stub(tmp_path / "second", buildx=True)
    out = make_dry_run(tmp_path, "need-build", [tmp_path / "first", tmp_path / "second"])
    assert f'need-docker "{builds}" --build' in out
    out = make_dry_run(tmp_path, "need-build", [tmp_path / "first"], "DOCKER=/opt/docker")
    assert 'need-docker "/opt/docker" --build' in out


def test_every_target_that_uses_a_tool_checks_for_it_first():
    text = (ROOT / "Makefile").read_text()
    prerequisites = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith(("\t", "#", ".", " ")) and "=" not in line.split(":")[0]:
            target, _, rest = line.partition(":")
            prerequisites[target.strip()] = rest.split("##")[0].split()
    for target in ("test", "test-platform", "dev", "new-location", "e2e", "bench", "screenshot", "check-defs", "upgrade"):
        assert "need-uv" in prerequisites[target], target
    for target in ("airgap-images", "build-location", "deploy"):
        assert "need-build" in prerequisites[target], target
    for target in ("up", "down", "destroy", "logs", "ps", "backup", "restore", "rollback"):
        assert "need-compose" in prerequisites[target], target
    assert "need-docker" in prerequisites["prune"]
