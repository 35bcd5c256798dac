"""platformctl: the platform team's command line (the Makefile calls it).

    env                     create .env, or add the secrets it lacks (random values)
    check-env               exit 1 naming every secret .env lacks and every bad declaration
    sync                    write every principal's credentials into its volume
    rotate PRINCIPAL        new credentials for one principal, no failed run
    rotate-retire PRINCIPAL the previous credentials of PRINCIPAL stop working
    remove-volumes          delete the credential volumes (make destroy)
    grants                  print what each location may touch
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from platformctl import credentials, locations, rotate, volumes
from platformctl.envfile import EnvFile, EnvFileError

ROOT = Path(os.environ.get("PLATFORM_ROOT", Path.cwd()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="platformctl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("env")
    sub.add_parser("check-env")
    sub.add_parser("sync")
    for name in ("rotate", "rotate-retire"):
        cmd = sub.add_parser(name)
        cmd.add_argument("principal")
        cmd.add_argument("--drain-timeout", type=float, default=3600)
    sub.add_parser("remove-volumes")
    sub.add_parser("grants")
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (locations.DeclarationError, EnvFileError, ValueError) as exc:
        print(f"platformctl {args.command}: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    if args.command == "env":
        generated = credentials.complete_env(ROOT / ".env.example", ROOT / ".env", locations.discover(ROOT))
        if generated:
            print(f"wrote {ROOT / '.env'}: generated {', '.join(generated)}")
        return 0
    if args.command == "check-env":
        found = locations.discover(ROOT)
        env_path = ROOT / ".env"
        if not env_path.exists():
            print(f"{env_path}: not found (run `make .env` or copy .env.example)", file=sys.stderr)
            return 1
        missing = credentials.missing_secrets(EnvFile.read(env_path).values(), found)
        for name in missing:
            print(f"error: {env_path}: {name} is not set (`make .env` generates it; see .env.example)",
                  file=sys.stderr)
        return 1 if missing else 0
    if args.command == "grants":
        found = locations.discover(ROOT)
        env = EnvFile.read(ROOT / ".env").values() if (ROOT / ".env").exists() else {}
        print(json.dumps({"grants": credentials.grants(env, found),
                          "object_store": credentials.s3_identities_without_secrets(env, found)}, indent=2))
        return 0
    if args.command == "remove-volumes":
        removed = volumes.remove_all(os.environ.get("DOCKER", "docker"), os.environ.get("PROJECT", "dagster-platform"))
        for volume in removed:
            print(f"deleted volume {volume}")
        return 0
    stack = rotate.Stack.from_env(ROOT)
    if args.command == "sync":
        stack.write_volumes()
        return 0
    principal = rotate.find(stack, args.principal)
    if args.command == "rotate":
        return rotate.rotate(stack, args.principal, args.drain_timeout)
    rotate.retire(stack, principal)
    print(f"{args.principal}: previous credentials retired")
    return 0


if __name__ == "__main__":
    sys.exit(main())
