"""Image tags and per-location deploys for the compose platform.

    platformctl content-tag TARGET          the immutable tag of TARGET's inputs
    platformctl compose-env TARGET...       NAME_TAG=... for every image, for compose
    platformctl record TARGET TAG           TARGET now runs TAG (its previous tag is kept)
    platformctl deploy LOCATION TAG IMAGE START   validate, swap, reload, wait; roll back on failure
    platformctl rollback LOCATION           return LOCATION to its previous tag
    platformctl prune LOCATION...           delete the images of ours that nothing needs

TARGET is `platform`, `s3` or a location name. Tags are content hashes of the files an
image is built from, so the same code always has the same tag and a tag never
changes meaning. State lives in .deploy/state.json (git-ignored). Standard
library only: it runs on the host.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from platformctl import repo
from platformctl.wait_ready import locations, reload_location

STATE = Path(".deploy") / "state.json"  # under the repository's root
# What docker/Dockerfile copies into every location image besides its own folder.
LOCATION_LIBS = ["libs/platform_common", "libs/platform_services"]
COMMON_INPUTS = ["docker/Dockerfile", "docker/strip-native.sh", "docker/entrypoint.sh", ".dockerignore"]


def inputs(target: str) -> list[str]:
    if target == "platform":
        return [*COMMON_INPUTS, "libs/platform_services", "libs/platformctl", "docker/platform",
                "dagster.yaml", "workspace.yaml"]
    if target == "s3":
        return ["docker/s3", ".dockerignore"]
    return [*COMMON_INPUTS, *LOCATION_LIBS, f"code_locations/{target}"]


def content_tag(target: str) -> str:
    root = repo.root()
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", *inputs(target)],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout.split()
    digest = hashlib.sha256(os.environ.get("PYTHON_IMAGE", "").encode())
    for rel in sorted(set(listed)):
        path = root / rel
        if path.is_file():
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def load_state() -> dict:
    path = repo.root() / STATE
    return json.loads(path.read_text()) if path.exists() else {}


def save_state(state: dict) -> None:
    path = repo.root() / STATE
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def record(target: str, tag: str) -> None:
    state = load_state()
    entry = state.setdefault(target, {})
    if entry.get("current") != tag:
        entry["previous"], entry["current"] = entry.get("current"), tag
    save_state(state)


def compose_env(targets: list[str]) -> str:
    state = load_state()
    pairs = []
    for target in targets:
        tag = state.get(target, {}).get("current") or content_tag(target)
        pairs.append(f"{target.upper()}_TAG={tag}")
    return " ".join(pairs)


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, text=True, **kw)


def compose_cmd() -> list[str]:
    return shlex.split(os.environ["DC_RAW"])  # the compose command, set by the Makefile


def swap(location: str, tag: str) -> None:
    """Recreate only LOCATION's code server on TAG (no dependencies, nothing else)."""
    tags = {f"{t.upper()}_TAG": e["current"] for t, e in load_state().items() if e.get("current")}
    env = {**os.environ, **tags, f"{location.upper()}_TAG": tag}
    sh([*compose_cmd(), "up", "-d", "--no-deps", location], env=env, check=True)


def wait_loaded(url: str, location: str, timeout: float) -> str | None:
    """Reload LOCATION in the webserver until it is LOADED; return its load error, if any."""
    deadline = time.monotonic() + timeout
    error = "not loaded"
    while time.monotonic() < deadline:
        try:
            reload_location(url, location)
            entry = {e["name"]: e for e in locations(url)}[location]
        except Exception as exc:  # noqa: BLE001 - webserver busy or code server restarting: retry
            error = str(exc)
            time.sleep(2)
            continue
        loaded = entry["locationOrLoadError"] or {}
        if entry["loadStatus"] == "LOADED" and loaded.get("__typename") == "RepositoryLocation":
            return None
        error = loaded.get("message") or entry["loadStatus"]
        time.sleep(2)
    return error.strip()


def validate(image: str) -> str | None:
    """Load the definitions in a throwaway container; return the error if they do not load."""
    proc = sh(
        [os.environ.get("DOCKER", "docker"), "run", "--rm", "--network", "none",
         "-e", "DAGSTER_PLATFORM_ENV=docker", "--entrypoint", "sh", image,
         "-c", 'dagster definitions validate -m "$DAGSTER_LOCATION_NAME.definitions"'],
        capture_output=True,
    )
    return None if proc.returncode == 0 else (proc.stdout + proc.stderr)


def deploy(location: str, tag: str, image: str, url: str, started: float) -> int:
    previous = load_state().get(location, {}).get("current")
    error = validate(image)
    if error:
        print(error[-4000:], file=sys.stderr)
        print(f"deploy of {location}:{tag} refused: its definitions do not load (above). "
              f"{location} keeps serving {previous or 'its current image'}.", file=sys.stderr)
        return 1
    record(location, tag)
    try:
        swap(location, tag)
        error = wait_loaded(url, location, timeout=180)
    except subprocess.CalledProcessError as exc:
        error = f"compose could not recreate {location}: {exc}"
    if error:
        print(f"{location}:{tag} did not load: {error}", file=sys.stderr)
        if previous and previous != tag:
            print(f"rolling {location} back to {previous}", file=sys.stderr)
            record(location, previous)
            swap(location, previous)
            wait_loaded(url, location, timeout=180)
        return 1
    print(f"deployed {location}:{tag} in {time.time() - started:.1f}s (previous: {previous})")
    return 0


def rollback(location: str, url: str) -> int:
    entry = load_state().get(location, {})
    previous = entry.get("previous")
    if not previous:
        print(f"{location} has no previous deploy to roll back to", file=sys.stderr)
        return 1
    record(location, previous)
    swap(location, previous)
    error = wait_loaded(url, location, timeout=180)
    if error:
        print(f"rollback of {location} to {previous} did not load: {error}", file=sys.stderr)
        return 1
    print(f"rolled {location} back to {previous}")
    return 0


def needed_tags(targets: list[str]) -> dict[str, set[str]]:
    """Per target, the tags worth keeping: what runs now, what a rollback
    returns to, and what this checkout builds."""
    state = load_state()
    needed = {}
    for target in targets:
        entry = state.get(target, {})
        needed[target] = {t for t in (entry.get("current"), entry.get("previous"), content_tag(target)) if t}
    return needed


IMAGE_LABEL = "dagster-platform/built-by"  # set in docker/Dockerfile's runtime stage


def prune(targets: list[str]) -> int:
    """Delete the images docker/Dockerfile built (they carry IMAGE_LABEL) except
    the tags `needed_tags` names. Base and stand-in images have no label and
    stay. Images a container still uses stay too (docker refuses), and are named."""
    docker = os.environ.get("DOCKER", "docker")
    prefix = f"{os.environ.get('REGISTRY', 'localhost')}/dagster-platform/"
    listed = sh([docker, "images", "--filter", f"label={IMAGE_LABEL}", "--format", "{{.Repository}}:{{.Tag}}"],
                check=True, capture_output=True).stdout.split()
    needed = needed_tags(targets)
    doomed = []
    for ref in listed:
        repo, _, tag = ref.rpartition(":")
        if repo.startswith(prefix) and tag in needed.get(repo[len(prefix):], set()):
            continue
        doomed.append(ref)
    in_use = [ref for ref in doomed if sh([docker, "rmi", ref], capture_output=True).returncode != 0]
    # Untagged leftovers of our own builds (a tag moved on); other projects' are not ours to delete.
    sh([docker, "image", "prune", "-f", "--filter", f"label={IMAGE_LABEL}"], check=True, capture_output=True)
    print(f"pruned {len(doomed) - len(in_use)} image(s)"
          + (f"; kept {len(in_use)} that a container uses: {' '.join(in_use)}" if in_use else ""))
    return 0


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    url = os.environ.get("WEBSERVER_URL", "http://127.0.0.1:3000")
    if cmd == "content-tag":
        print(content_tag(args[0]))
    elif cmd == "compose-env":
        print(compose_env(args))
    elif cmd == "record":
        record(args[0], args[1])
    elif cmd == "deploy":
        return deploy(args[0], args[1], args[2], url, float(args[3]))
    elif cmd == "rollback":
        return rollback(args[0], url)
    elif cmd == "prune":
        return prune(["platform", *args])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0
