"""docker/entrypoint.sh exports the bundle's env file, and nothing it should not."""

import subprocess

from conftest import REPO

ENTRYPOINT = REPO / "docker" / "entrypoint.sh"


def run(tmp_path, env_text, *cmd):
    (tmp_path / "env").write_text(env_text)
    return subprocess.run(["sh", str(ENTRYPOINT), *cmd], env={"PATH": "/usr/bin:/bin",
                          "PLATFORM_SECRETS_DIR": str(tmp_path)}, capture_output=True, text=True)


def test_exports_each_line_verbatim(tmp_path):
    proc = run(tmp_path, "A=1\nB=x=y\nC=$(id) `id` ;id\n", "sh", "-c", 'printf "%s|%s|%s" "$A" "$B" "$C"')
    assert proc.stdout == "1|x=y|$(id) `id` ;id"


def test_skips_what_is_not_an_assignment(tmp_path):
    proc = run(tmp_path, "# comment\n\nnot a line\n1BAD=x\nOK=yes", "sh", "-c", 'printf "%s" "$OK"')
    assert proc.stdout == "yes" and proc.stderr.count("skipped a line") == 2


def test_without_a_bundle_it_runs_the_command_unchanged(tmp_path):
    proc = subprocess.run(["sh", str(ENTRYPOINT), "sh", "-c", "exit 7"], env={"PATH": "/usr/bin:/bin",
                          "PLATFORM_SECRETS_DIR": str(tmp_path / "none")})
    assert proc.returncode == 7
