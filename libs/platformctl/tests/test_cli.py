"""`python3 -m platformctl`: one command line for the platform's tooling, standard library only
wherever it runs on the host."""

import importlib
import os
import re
import subprocess
import sys

from conftest import REPO

import platformctl.__main__ as cli

HOST_MODULES = ["__main__", "locations", "generate", "new_location", "deploy", "wait_ready", "dev",
                "changed_locations", "prereqs", "check_defs", "upgrade", "uv", "credentials", "rotate", "volumes"]


def run(root, *args):
    env = {**os.environ, "PYTHONPATH": str(REPO / "libs/platformctl/src"), "PLATFORM_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "platformctl", *args], env=env, capture_output=True, text=True)


def test_every_command_of_the_help_runs_something():
    listed = set(re.findall(r"^    ([a-z][a-z-]+)", cli.__doc__, re.M))
    builtin = {"locations", "env", "check-env", "sync", "rotate", "rotate-retire", "remove-volumes", "grants"}
    assert listed == set(cli.DELEGATED) | builtin
    for module, _ in cli.DELEGATED.values():
        if module != "platformctl.check_config":  # Dagster and PyYAML: tests/test_config.py runs it
            assert callable(importlib.import_module(module).main)
    assert {"deploy", "rollback", "prune", "new-location", "check", "wait-ready", "dev", "changed-locations",
            "prereqs", "screenshot", "generate", "upgrade"} <= listed


def test_the_host_side_modules_import_the_standard_library_only():
    code = ("import sys; before = set(sys.modules)\n"
            f"for m in {HOST_MODULES!r}: __import__('platformctl.' + m)\n"
            "top = {n.split('.')[0] for n in set(sys.modules) - before}\n"
            "print(sorted(top - set(sys.stdlib_module_names) - {'platformctl'}))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO / "libs/platformctl/src")},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_locations_prints_dg_tomls_list(repo):
    done = run(repo, "locations")
    assert (done.returncode, done.stdout) == (0, "ingest transform reports\n")


def test_an_unknown_command_lists_the_known_ones(repo):
    done = run(repo, "nope")
    assert done.returncode == 2 and "'new-location'" in done.stderr and "'grants'" in done.stderr


def test_a_bad_list_is_named_by_every_command(repo):
    (repo / "dg.toml").write_text((repo / "dg.toml").read_text().replace("reports", "reprts"))
    for args in (["locations"], ["check-defs"], ["generate", "--check"], ["env"]):
        done = run(repo, *args)
        assert done.returncode == 1, args
        assert "dg.toml:12: workspace.projects[2] path = 'code_locations/reprts': no such folder" in done.stderr, args
