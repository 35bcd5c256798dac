"""`.env`'s secrets, and what each container receives of them.

`.env` (git-ignored, mode 0600) is the one place secrets are written down.
`complete_env` fills every missing secret with a random value, so a first
`make up` and a new location need nothing typed. Containers never get `.env`:
each principal receives a bundle of files (platformctl.volumes writes it into a
Docker volume of its own), and its processes read `env` from it at start
(docker/entrypoint.sh). So `docker inspect` shows no secret anywhere.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from platformctl import principals as pr
from platformctl.envfile import EnvFile
from platformctl.locations import LANDING, Location

ENV_FILE = "env"  # the bundle file docker/entrypoint.sh exports
GRANTS_FILE = "grants.json"  # init's input: what each location may touch
S3_CONFIG_FILE = "s3.json"  # SeaweedFS's identities (-s3.config)
PGBOUNCER_CONFIG_FILE = "pgbouncer.ini"
PGBOUNCER_USERS_FILE = "userlist.txt"  # the auth_user's own password, nobody else's
SECRETS_MOUNT = "/run/secrets/platform"


def new_secret(name: str) -> str:
    if name.endswith("_ACCESS_KEY_ID"):
        return secrets.token_hex(10).upper()  # 20 characters, like AWS key ids
    return secrets.token_urlsafe(32)


def complete_env(example: Path, target: Path, locations: list[Location]) -> list[str]:
    """Create `target` from `example` if missing, then add every secret it lacks.
    Returns the names it generated; values already set are never changed."""
    env = EnvFile.read(target) if target.exists() else EnvFile(target, example.read_text().splitlines())
    have = env.values()
    generated = [name for name in pr.required_secrets(locations) if not have.get(name)]
    for name in generated:
        env.set(name, new_secret(name))
    if generated or not target.exists():
        env.write()
    return generated


def missing_secrets(env: dict[str, str], locations: list[Location]) -> list[str]:
    return [name for name in pr.required_secrets(locations) if not env.get(name)]


def _pg(principal: pr.Principal, env: dict[str, str]) -> dict[str, str]:
    return {"DAGSTER_PG_USER": principal.login_role(pr.slot_of(principal, env)),
            "DAGSTER_PG_PASSWORD": env[principal.pg_password]}


def _key(principal: pr.Principal, env: dict[str, str]) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": env[principal.key_id], "AWS_SECRET_ACCESS_KEY": env[principal.secret_key]}


def env_lines(values: dict[str, str]) -> str:
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"the value of {name} may not contain a line break")
    return "".join(f"{k}={v}\n" for k, v in values.items())


def bundles(env: dict[str, str], locations: list[Location], postgres_user: str) -> dict[str, dict[str, str]]:
    """Per principal (volume), the files it receives: {principal: {file name: content}}."""
    missing = missing_secrets(env, locations)
    if missing:
        raise ValueError(f".env lacks {', '.join(missing)}: run `make .env` (it generates them)")
    out: dict[str, dict[str, str]] = {
        # POSTGRES_PASSWORD_FILE of the postgres image: read once, when the data directory is created.
        "postgres": {pr.SUPERUSER_PASSWORD: env[pr.SUPERUSER_PASSWORD]},
        "s3": {S3_CONFIG_FILE: json.dumps(s3_identities(env, locations), indent=1) + "\n"},
        "pgbouncer": {PGBOUNCER_CONFIG_FILE: pgbouncer_ini(),
                      PGBOUNCER_USERS_FILE: f'"{pr.PGBOUNCER_USER}" "{env[pr.PGBOUNCER_PASSWORD]}"\n'},
        "init": {ENV_FILE: env_lines(init_env(env, locations, postgres_user)),
                 GRANTS_FILE: json.dumps(grants(env, locations), indent=1) + "\n"},
    }
    # Mounted by no service: for the systems (and tests) that drop landing files.
    out["landing"] = {ENV_FILE: env_lines({"AWS_ACCESS_KEY_ID": env[pr.LANDING_KEY_ID],
                                           "AWS_SECRET_ACCESS_KEY": env[pr.LANDING_SECRET]})}
    for principal in pr.principals(locations):
        values = {**_pg(principal, env), **_key(principal, env)}
        if principal.location is not None:
            values["DATA_BUCKET"] = pr.data_bucket(env, principal.name)
            # Other locations' buckets it declared, by name (platform_common.location_store_for).
            for name in sorted({*principal.location.bucket_reads, *principal.location.bucket_writes} - {LANDING}):
                values[f"{name.upper()}_BUCKET"] = pr.data_bucket(env, name)
        out[principal.name] = {ENV_FILE: env_lines(values)}
    return out


def init_env(env: dict[str, str], locations: list[Location], postgres_user: str) -> dict[str, str]:
    """init connects as the superuser and sets every login's password."""
    values = {
        "DAGSTER_PG_USER": postgres_user,
        "DAGSTER_PG_PASSWORD": env[pr.SUPERUSER_PASSWORD],
        pr.PGBOUNCER_PASSWORD: env[pr.PGBOUNCER_PASSWORD],
        "AWS_ACCESS_KEY_ID": env[pr.ADMIN_KEY_ID],
        "AWS_SECRET_ACCESS_KEY": env[pr.ADMIN_SECRET],
    }
    for principal in pr.principals(locations):
        for name in (principal.pg_password, principal.pg_password + pr.PREVIOUS):
            if env.get(name):
                values[name] = env[name]
        values[principal.slot_var] = pr.slot_of(principal, env)
    return values


def pgbouncer_ini() -> str:
    """PgBouncer in front of Postgres: session pooling (the webserver sets a statement
    timeout per connection, and Dagster holds connections across statements), server
    connections kept warm for clients that connect per query (Dagster's NullPool),
    and every login checked against Postgres's own password hashes (auth_query:
    rotation needs no PgBouncer change). The superuser cannot log in through it."""
    return f"""[databases]
* = host=postgres port=5432

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {SECRETS_MOUNT}/{PGBOUNCER_USERS_FILE}
auth_user = {pr.PGBOUNCER_USER}
auth_query = SELECT usename, passwd FROM pgbouncer.get_auth($1)
pool_mode = session
server_reset_query = DISCARD ALL
max_client_conn = 1000
default_pool_size = 10
; Postgres allows 100 connections: two databases of 45 leave room for init and backups.
max_db_connections = 45
server_idle_timeout = 60
server_lifetime = 3600
; After a failed server login (Postgres restarting), retry in 1 s, not 15: Dagster's own
; connection retries give up after about 6 s, and a refused login reaches its client at once.
server_login_retry = 1
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
"""


def grants(env: dict[str, str], locations: list[Location]) -> dict:
    """What init applies: the principals, and each location's schemas and buckets."""
    return {
        "principals": [p.name for p in pr.principals(locations)],
        "locations": [
            {"name": loc.name, "warehouse_writes": list(loc.warehouse_writes),
             "warehouse_reads": list(loc.warehouse_reads)}
            for loc in locations
        ],
        "buckets": pr.all_buckets(env, locations),
    }


def _credentials(env: dict[str, str], key_id: str, secret: str) -> list[dict[str, str]]:
    creds = [{"accessKey": env[key_id], "secretKey": env[secret]}]
    if env.get(key_id + pr.PREVIOUS) and env.get(secret + pr.PREVIOUS):
        creds.append({"accessKey": env[key_id + pr.PREVIOUS], "secretKey": env[secret + pr.PREVIOUS]})
    return creds


def s3_identities(env: dict[str, str], locations: list[Location]) -> dict:
    """SeaweedFS's -s3.config: bucket-level actions per key (docs/security.md says
    why a bucket per location rather than prefixes)."""
    logs, landing = pr.setting(env, "DAGSTER_LOGS_BUCKET"), pr.setting(env, "LANDING_BUCKET")
    identities = [
        {"name": "init", "credentials": _credentials(env, pr.ADMIN_KEY_ID, pr.ADMIN_SECRET),
         "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
        {"name": "landing", "credentials": _credentials(env, pr.LANDING_KEY_ID, pr.LANDING_SECRET),
         "actions": [f"Write:{landing}", f"List:{landing}"]},
    ]
    for principal in pr.principals(locations):
        creds = _credentials(env, principal.key_id, principal.secret_key)
        if principal.location is None:  # webserver and daemon: they show compute logs
            actions = [f"Read:{logs}", f"List:{logs}"]
        else:
            own = pr.data_bucket(env, principal.name)
            actions = [f"Read:{own}", f"Write:{own}", f"List:{own}", f"Write:{logs}"]
            for name in principal.location.bucket_reads:
                bucket = pr.bucket_of(env, name)
                actions += [f"Read:{bucket}", f"List:{bucket}"]
            for name in principal.location.bucket_writes:
                bucket = pr.bucket_of(env, name)
                actions += [a for a in (f"Read:{bucket}", f"Write:{bucket}", f"List:{bucket}") if a not in actions]
        identities.append({"name": principal.name, "credentials": creds, "actions": actions})
    return {"identities": identities}


def s3_identities_without_secrets(env: dict[str, str], locations: list[Location]) -> dict[str, list[str]]:
    """Each key's actions, for `platformctl grants` (no key material)."""
    filled = {**{n: "x" for n in pr.required_secrets(locations)}, **env}
    return {i["name"]: i["actions"] for i in s3_identities(filled, locations)["identities"]}
