"""Write each principal's bundle into its own Docker volume.

One volume per principal (`<project>_secrets-<principal>`), mounted read-only at
/run/secrets/platform by that principal's containers only: its code server, its
run containers (through its container context), and nobody else's. A short-lived
container of the platform image (uid 10001, no network) writes the files; each
file is replaced by a rename, so a process starting meanwhile reads the old
bundle or the new one, never half of each.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor

MOUNT = "/secrets"  # owned by uid 10001 in the platform image, so new volumes are too
APP_UID = 10001
VOLUME_LABEL = "dagster-platform/secrets"

WRITE = (
    "set -eu; cd " + MOUNT + "; rm -rf .incoming; mkdir .incoming; tar -x -f - -C .incoming; "
    "for f in .incoming/* .incoming/.[!.]*; do [ -f \"$f\" ] || continue; chmod 0444 \"$f\"; "
    "mv -f \"$f\" \"./${f##*/}\"; done; rmdir .incoming; "
    # Files a bundle no longer has (a secret retired by rotation) go.
    "for f in ./* ./.[!.]*; do [ -f \"$f\" ] || continue; case \" $* \" in *\" ${f#./} \"*) ;; *) rm -f \"$f\";; esac; done"
)


def volume_name(project: str, principal: str) -> str:
    return f"{project}_secrets-{principal}"


def tar_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in sorted(files.items()):
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o444, int(time.time())
            info.uid = info.gid = APP_UID
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write(docker: str, image: str, project: str, principal: str, files: dict[str, str]) -> str:
    volume = volume_name(project, principal)
    subprocess.run([docker, "volume", "create", "--label", f"{VOLUME_LABEL}={principal}",
                    "--label", f"com.docker.compose.project={project}", volume],
                   check=True, capture_output=True, text=True)
    proc = subprocess.run(
        [docker, "run", "--rm", "-i", "--network", "none", "--user", f"{APP_UID}:{APP_UID}",
         "--entrypoint", "sh", "-v", f"{volume}:{MOUNT}", image, "-c", WRITE, "write", *sorted(files)],
        input=tar_of(files), capture_output=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"writing the credentials of {principal} into volume {volume} failed: "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return volume


def write_all(docker: str, image: str, project: str, bundles: dict[str, dict[str, str]],
              only: set[str] | None = None) -> list[str]:
    chosen = {p: files for p, files in bundles.items() if only is None or p in only}
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda item: write(docker, image, project, *item), sorted(chosen.items())))


def remove_all(docker: str, project: str) -> list[str]:
    """Every secrets volume of `project` (make destroy)."""
    listed = subprocess.run(
        [docker, "volume", "ls", "-q", "--filter", f"label={VOLUME_LABEL}",
         "--filter", f"label=com.docker.compose.project={project}"],
        check=True, capture_output=True, text=True).stdout.split()
    for volume in listed:
        subprocess.run([docker, "volume", "rm", "-f", volume], check=True, capture_output=True)
    return listed
