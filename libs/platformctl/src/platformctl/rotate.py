"""Rotate one principal's credentials with no failed run.

`rotate`:
1. `.env`: the current password and key become <NAME>_PREVIOUS, new ones are
   generated, and the principal moves to its other login slot;
2. init sets the new slot's password (both slots may log in now) and SeaweedFS
   reloads its identities (SIGHUP: both keys work);
3. the principal's volume gets the new bundle, and only its own containers are
   recreated (a location's code server; or the webserver and the daemon).
   A run container started before keeps the old credentials, which still work;
4. once no such run is left (or after --drain-timeout), `retire` removes the
   previous credentials everywhere: the old slot may no longer log in and the old
   key is gone from SeaweedFS.

Nothing else restarts: not Postgres, not the store, not the other locations.
"""

from __future__ import annotations

import sys
import time

from platformctl import credentials, wait_ready
from platformctl import principals as pr
from platformctl.envfile import EnvFile
from platformctl.stack import Stack

PREVIOUS = pr.PREVIOUS


def find(stack: Stack, name: str) -> pr.Principal:
    known = {p.name: p for p in pr.principals(stack.locations())}
    if name not in known:
        raise SystemExit(f"platformctl rotate: {name!r} is not a principal; choose one of {', '.join(known)}")
    return known[name]


def has_previous(values: dict[str, str], principal: pr.Principal) -> bool:
    return any(values.get(n + PREVIOUS) for n in principal.secrets)


def start(stack: Stack, principal: pr.Principal) -> None:
    """Steps 1-2: new credentials valid next to the old ones."""
    env = EnvFile.read(stack.root / ".env")
    values = env.values()
    if has_previous(values, principal):
        raise SystemExit(f"platformctl rotate: {principal.name} still holds the credentials of its last rotation; "
                         f"retire them first: make rotate-retire PRINCIPAL={principal.name}")
    for name in principal.secrets:
        env.set(name + PREVIOUS, values[name])
        env.set(name, credentials.new_secret(name))
    env.set(principal.slot_var, pr.other_slot(pr.slot_of(principal, values)))
    env.write()
    stack.write_volumes({"init", "s3"})
    stack.run_init()
    stack.reload_object_store()


def switch(stack: Stack, principal: pr.Principal) -> float:
    """Step 3: the principal's containers start on the new credentials. Returns when."""
    stack.write_volumes({principal.name})
    stack.verify(principal.name)
    switched = time.time()
    services = ["webserver", "daemon"] if principal.location is None else [principal.name]
    stack.dc("up", "-d", "--no-deps", "--force-recreate", *services)
    expect = [loc.name for loc in stack.locations()] if principal.location is None else [principal.name]
    if wait_ready.main(["--url", stack.webserver_url, "--expect", *expect]) != 0:
        raise SystemExit(f"platformctl rotate: {', '.join(services)} did not come back with the new credentials")
    return switched


def drain(stack: Stack, principal: pr.Principal, since: float, timeout: float) -> bool:
    """Wait until no run container of the location started before `since` runs."""
    if principal.location is None:
        return True
    deadline = time.monotonic() + timeout
    while stack.containers_of(principal.name, since):
        if time.monotonic() > deadline:
            return False
        time.sleep(2)
    return True


def retire(stack: Stack, principal: pr.Principal) -> None:
    """Step 4: the previous credentials stop working."""
    env = EnvFile.read(stack.root / ".env")
    for name in principal.secrets:
        env.unset(name + PREVIOUS)
    env.write()
    stack.write_volumes({"init", "s3"})
    stack.run_init()
    stack.reload_object_store()


def rotate(stack: Stack, name: str, drain_timeout: float) -> int:
    principal = find(stack, name)
    start(stack, principal)
    since = switch(stack, principal)
    print(f"{name}: new credentials in use; waiting for runs started before the switch to end")
    if not drain(stack, principal, since, drain_timeout):
        print(f"{name}: runs started before the switch are still running after {drain_timeout:.0f}s; the previous "
              f"credentials stay valid until `make rotate-retire PRINCIPAL={name}`", file=sys.stderr)
        return 0
    retire(stack, principal)
    print(f"{name}: rotated; the previous credentials no longer work")
    return 0
