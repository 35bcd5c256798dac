"""platformctl: the platform team's command line (the Makefile calls it).

The repository and its code locations:
    locations               print the locations dg.toml lists, in its order
    generate [--check]      rewrite what is generated from dg.toml (--check: exit 1 if stale)
    generate compose        only the git-ignored compose file of the locations
    new-location NAME       scaffold code_locations/NAME and list it in dg.toml
    check-defs [LOCATION..] `dg check defs` and `dg list defs` in each location
    upgrade VERSION         move every Dagster pin to release VERSION and re-lock (--no-lock: pins only)
    changed-locations ...   CI: the locations (and whether the platform) a change touches
    dev ...                 every location in one `dagster dev` (make dev)

Images and deploys:
    content-tag TARGET      the immutable tag of TARGET's inputs
    compose-env TARGET...   NAME_TAG=... for compose
    record TARGET TAG       TARGET now runs TAG
    deploy LOCATION TAG IMAGE START    validate, swap, reload, wait; roll back on failure
    rollback LOCATION       return LOCATION to its previous tag
    prune LOCATION...       delete the images of ours that nothing needs
    wait-ready ...          wait until the webserver answers and every location is LOADED
    check ...               validate dagster.yaml, workspace.yaml, compose (needs Dagster: the platform image)
    prereqs ...             find the Makefile's tools, or say how to get them
    screenshot ...          the README's asset graph from a running stack (needs Playwright)

Credentials:
    env                     create .env, or add the secrets it lacks (random values)
    check-env               exit 1 naming every secret .env lacks and every bad declaration
    sync                    write every principal's credentials into its volume
    rotate PRINCIPAL        new credentials for one principal, no failed run
    rotate-retire PRINCIPAL the previous credentials of PRINCIPAL stop working
    remove-volumes          delete the credential volumes (make destroy)
    grants                  print what each location may touch

Standard library only, except `check` (Dagster, PyYAML), `dev` and
`screenshot` (run from the root's dev environment): their modules are imported
only when they run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from platformctl import credentials, locations, repo
from platformctl.envfile import EnvFile, EnvFileError

# Commands whose module has its own main(argv): (module, arguments put first).
DELEGATED = {
    "check": ("platformctl.check_config", []),
    "wait-ready": ("platformctl.wait_ready", []),
    "dev": ("platformctl.dev", []),
    "changed-locations": ("platformctl.changed_locations", []),
    "prereqs": ("platformctl.prereqs", []),
    "screenshot": ("platformctl.screenshot", []),
    "new-location": ("platformctl.new_location", []),
    "check-defs": ("platformctl.check_defs", []),
    "upgrade": ("platformctl.upgrade", []),
    "generate": ("platformctl.generate", []),
    **{cmd: ("platformctl.deploy", [cmd])
       for cmd in ("content-tag", "compose-env", "record", "deploy", "rollback", "prune")},
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        module, first = DELEGATED[argv[0]]
        try:
            return importlib.import_module(module).main([*first, *argv[1:]])
        except locations.DeclarationError as exc:
            print(f"platformctl {argv[0]}: {exc}", file=sys.stderr)
            return 1
    parser = argparse.ArgumentParser(prog="platformctl", description=__doc__.splitlines()[0],
                                     epilog=__doc__.split("\n", 2)[2], formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("locations")
    sub.add_parser("env")
    sub.add_parser("check-env")
    sub.add_parser("sync")
    for name in ("rotate", "rotate-retire"):
        cmd = sub.add_parser(name)
        cmd.add_argument("principal")
        cmd.add_argument("--drain-timeout", type=float, default=3600)
    sub.add_parser("remove-volumes")
    sub.add_parser("grants")
    for name in DELEGATED:  # run above, before argparse; listed here for the usage message
        sub.add_parser(name, add_help=False)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (locations.DeclarationError, EnvFileError, ValueError) as exc:
        print(f"platformctl {args.command}: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    root = repo.root()
    if args.command == "locations":
        print(" ".join(locations.names(root)))
        return 0
    if args.command == "env":
        generated = credentials.complete_env(root / ".env.example", root / ".env", locations.discover(root))
        if generated:
            print(f"wrote {root / '.env'}: generated {', '.join(generated)}")
        return 0
    if args.command == "check-env":
        found = locations.discover(root)
        env_path = root / ".env"
        if not env_path.exists():
            print(f"{env_path}: not found (run `make .env` or copy .env.example)", file=sys.stderr)
            return 1
        missing = credentials.missing_secrets(EnvFile.read(env_path).values(), found)
        for name in missing:
            print(f"error: {env_path}: {name} is not set (`make .env` generates it; see .env.example)",
                  file=sys.stderr)
        return 1 if missing else 0
    if args.command == "grants":
        found = locations.discover(root)
        env = EnvFile.read(root / ".env").values() if (root / ".env").exists() else {}
        print(json.dumps({"grants": credentials.grants(env, found),
                          "object_store": credentials.s3_identities_without_secrets(env, found)}, indent=2))
        return 0
    from platformctl import rotate, volumes  # the running stack's commands

    if args.command == "remove-volumes":
        removed = volumes.remove_all(os.environ.get("DOCKER", "docker"), os.environ.get("PROJECT", "dagster-platform"))
        for volume in removed:
            print(f"deleted volume {volume}")
        return 0
    stack = rotate.Stack.from_env(root)
    if args.command == "sync":
        stack.write_volumes()
        reloaded = stack.reload_running()
        if reloaded:
            print(f"reloaded {', '.join(reloaded)} (SIGHUP)")
        return 0
    principal = rotate.find(stack, args.principal)
    if args.command == "rotate":
        return rotate.rotate(stack, args.principal, args.drain_timeout)
    rotate.retire(stack, principal)
    print(f"{args.principal}: previous credentials retired")
    return 0


if __name__ == "__main__":
    sys.exit(main())
