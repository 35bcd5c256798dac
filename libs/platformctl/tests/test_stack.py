"""platformctl.stack against a stand-in `docker` executable that records its arguments:
what `platformctl sync` asks of the engine after writing the credential volumes."""

import json
import stat
import sys
from pathlib import Path

from platformctl.stack import Stack

FAKE_DOCKER = """#!{python}
import json, sys
log = {log!r}
with open(log, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if args[0] == "ps":
    service = [a.split("=", 2)[2] for a in args if a.startswith("label=com.docker.compose.service=")][0]
    print({running!r}.get(service, ""))
"""


def fake_stack(tmp_path: Path, running: dict[str, str]) -> tuple[Stack, Path]:
    log = tmp_path / "docker.log"
    docker = tmp_path / "docker"
    docker.write_text(FAKE_DOCKER.format(python=sys.executable, log=str(log), running=running))
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    return Stack(root=tmp_path, docker=str(docker), project="proj", compose=["false"], platform_image="img",
                 webserver_url="http://127.0.0.1:1"), log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_reload_signals_the_running_pgbouncer_and_object_store_of_this_project_only(tmp_path):
    stack, log = fake_stack(tmp_path, {"pgbouncer": "c0ffee", "s3": "5eed"})
    assert stack.reload_running() == ["pgbouncer", "s3"]
    recorded = calls(log)
    assert ["kill", "-s", "HUP", "c0ffee"] in recorded and ["kill", "-s", "HUP", "5eed"] in recorded
    for args in recorded:
        if args[0] == "ps":
            assert "label=com.docker.compose.project=proj" in args


def test_reload_of_a_stopped_stack_signals_nothing(tmp_path):
    stack, log = fake_stack(tmp_path, {})
    assert stack.reload_running() == []
    assert [args for args in calls(log) if args[0] == "kill"] == []
