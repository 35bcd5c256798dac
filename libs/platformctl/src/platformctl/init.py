"""One-shot platform init: the `init` service (compose) and the migrate Job (Helm).

1. waits for Postgres and connects as the superuser;
2. creates or updates every role (platformctl.provision) and hands the instance
   database to its owner role;
3. runs `dagster instance migrate` as that owner role;
4. grants row access on the instance tables, creates the warehouse database,
   its schemas and the grants between locations;
5. creates the object-store buckets with the admin key, and moves what an
   earlier release kept in one shared data bucket into the new ones.

Every step is idempotent: it runs on every `make up` and after upgrades, and
after a rotation (platformctl.rotate). Its input is the `env` and grants.json
of its own credentials bundle (platformctl.credentials.bundles).

Usage (inside the platform image): python -m platformctl.init
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from platformctl import principals as pr
from platformctl import provision
from platformctl.locations import LANDING

DEADLINE_SECONDS = 120
SECRETS_DIR = Path(os.environ.get("PLATFORM_SECRETS_DIR", "/run/secrets/platform"))
PGDATA_VOLUME = os.environ.get("PLATFORM_PGDATA_VOLUME", "dagster-platform_pgdata")
# What an earlier release kept in its one data bucket, and where it goes now.
LEGACY_PREFIXES = {"landing/": LANDING, "archive/": "ingest", "charts/": "reports"}
# Relations whose owner init sets: sequences owned by a column follow their table.
RELATIONS = """
    SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT (c.relkind = 'S' AND EXISTS (
          SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
          AND d.deptype IN ('a', 'i')))"""


class Fatal(Exception):
    """A failure that waiting will not fix: stop at once with the reason."""


def log(message: str) -> None:
    print(f"init: {message}", flush=True)


def require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"init: required environment variable {name} is not set (see .env.example)")
    return value


def retry(what: str, fn):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            return fn()
        except Fatal as exc:
            sys.exit(f"init: {what} failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - any other failure is retried until the deadline
            if time.monotonic() > deadline:
                sys.exit(f"init: {what} still failing after {DEADLINE_SECONDS}s: {exc}")
            time.sleep(1)


def connect(database: str):
    import psycopg2

    user = require("DAGSTER_PG_USER")
    try:
        conn = psycopg2.connect(host=require("DAGSTER_PG_HOST"), port=int(os.environ.get("DAGSTER_PG_PORT", "5432")),
                                user=user, password=require("DAGSTER_PG_PASSWORD"), dbname=database)
    except psycopg2.OperationalError as exc:
        if "password authentication failed" in str(exc):
            # Postgres reads POSTGRES_PASSWORD only when it creates an empty data
            # volume; a later .env (a fresh clone, a deleted .env) does not change it.
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                raise Fatal(
                    f"Postgres rejected the password for user {user!r}: the Postgres Secret "
                    "(postgres.existingSecret, or the one the chart generated) does not hold the password the "
                    "database was created with. Put the original password back in that Secret."
                ) from exc
            raise Fatal(
                f"Postgres rejected the password for user {user!r}. The data volume {PGDATA_VOLUME} was "
                "created with another POSTGRES_PASSWORD than the one in .env now. Put the original password "
                f"back in .env, or start empty with `make destroy CONFIRM=yes` (deletes {PGDATA_VOLUME} "
                "and all run history and warehouse data)."
            ) from exc
        raise
    conn.autocommit = True
    return conn


def apply(conn, plan: provision.Plan) -> None:
    with conn.cursor() as cur:
        for sql, params in plan:
            cur.execute(sql, params or None)


def rows(conn, sql: str, *params) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params or None)
        return cur.fetchall()


def public_relations(conn) -> list[tuple[str, str, str]]:
    return [(name, kind, owner) for _, name, kind, owner in rows(conn, RELATIONS, ["public"])]


def migrate_home(home: Path, scratch: Path) -> Path:
    """A DAGSTER_HOME for `dagster instance migrate`: `home`'s dagster.yaml with
    dagster-postgres's `should_autocreate_tables` on, written to `scratch`.

    Every other process runs with it off (dagster.yaml): none of their logins may
    create a table, and with it on each instance they open lists the database's
    tables once per storage (three connections) to find that out: every run
    worker at its start, and every sensor evaluation in a code server."""
    import yaml

    from platformctl.check_config import load_mapping

    path = home / "dagster.yaml"
    config, problems = load_mapping(path, "a mapping (Dagster's instance configuration)")
    if problems:
        raise Fatal("; ".join(problems))
    storage = config.get("storage")
    postgres = storage.get("postgres") if isinstance(storage, dict) else None
    if not isinstance(postgres, dict):
        raise Fatal(f"{path}: storage.postgres is missing: init creates Dagster's tables in Postgres")
    postgres["should_autocreate_tables"] = True
    (scratch / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return scratch


def provision_instance(spec: dict) -> None:
    database = require("DAGSTER_PG_DB")
    conn = retry("connecting to Postgres", lambda: connect(database))
    try:
        roles = {r[0] for r in rows(conn, "SELECT rolname FROM pg_roles")}
        apply(conn, provision.role_plan(roles, spec, dict(os.environ)))
        apply(conn, provision.instance_owner_plan(database, public_relations(conn)))
        others = [r[0] for r in rows(conn, "SELECT datname FROM pg_database WHERE datallowconn")]
        apply(conn, provision.cluster_plan(others, {database, require("WAREHOUSE_DB")}))
    finally:
        conn.close()
    log("roles and instance database owner in place")
    # Dagster creates and upgrades its tables as the owner role: nobody who logs in
    # later can alter or drop them (docs/security.md).
    with tempfile.TemporaryDirectory(prefix="dagster-migrate-") as scratch:
        home = migrate_home(Path(require("DAGSTER_HOME")), Path(scratch))
        env = {**os.environ, "PGOPTIONS": f"-c role={pr.INSTANCE_OWNER}", "DAGSTER_HOME": str(home)}
        subprocess.run(["dagster", "instance", "migrate"], check=True, env=env)
    conn = connect(database)
    try:
        apply(conn, provision.instance_grants_plan())
        if os.environ.get(pr.PGBOUNCER_PASSWORD):
            apply(conn, provision.auth_lookup_plan(database))
    finally:
        conn.close()


def provision_warehouse(spec: dict) -> None:
    warehouse = require("WAREHOUSE_DB")
    conn = connect(require("DAGSTER_PG_DB"))
    try:
        if not rows(conn, "SELECT 1 FROM pg_database WHERE datname = %s", warehouse):
            conn.cursor().execute(f"CREATE DATABASE {provision.ident(warehouse)}")
            log(f"created database {warehouse}")
    finally:
        conn.close()
    conn = connect(warehouse)
    try:
        schemas = {r[0] for r in rows(conn, "SELECT nspname FROM pg_namespace")}
        owned = [s for loc in spec["locations"] for s in loc["warehouse_writes"]]
        relations = rows(conn, RELATIONS, owned)
        apply(conn, provision.warehouse_plan(warehouse, spec, schemas, relations))
        if os.environ.get(pr.PGBOUNCER_PASSWORD):
            apply(conn, provision.auth_lookup_plan(warehouse))
    finally:
        conn.close()
    log(f"warehouse schemas and grants in place ({', '.join(owned)})")


def s3_client():
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,  # unset: AWS S3
                        region_name=os.environ.get("AWS_REGION", "us-east-1"),
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5, "mode": "standard"}))


def ensure_buckets(spec: dict) -> None:
    if not os.environ.get("AWS_ACCESS_KEY_ID"):
        # Kubernetes with an external store: its buckets are the platform team's to make.
        log(f"no admin key for the object store: not creating buckets ({', '.join(spec['buckets'])})")
        return
    s3 = s3_client()
    existing = {b["Name"] for b in retry("listing buckets", s3.list_buckets).get("Buckets", [])}
    for bucket in spec["buckets"]:
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
            log(f"created bucket {bucket}")
    legacy = os.environ.get("LEGACY_DATA_BUCKET", "").strip()
    if legacy and legacy in existing and legacy not in spec["buckets"]:
        move_legacy_objects(s3, legacy, spec)


def move_legacy_objects(s3, legacy: str, spec: dict) -> None:
    """Copy what an earlier release's shared bucket holds into the bucket that owns it
    now; objects already there are kept. The old bucket is left for the operator."""
    targets = {}
    for prefix, owner in LEGACY_PREFIXES.items():
        bucket = pr.bucket_of(dict(os.environ), owner)
        if bucket in spec["buckets"]:
            targets[prefix] = bucket
    copied = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=legacy):
        for obj in page.get("Contents", []):
            bucket = next((b for p, b in targets.items() if obj["Key"].startswith(p)), None)
            if bucket is None:
                continue
            try:
                s3.head_object(Bucket=bucket, Key=obj["Key"])
                continue
            except Exception:  # noqa: BLE001 - absent: copy it
                pass
            s3.copy_object(Bucket=bucket, Key=obj["Key"], CopySource={"Bucket": legacy, "Key": obj["Key"]})
            copied += 1
    if copied:
        log(f"copied {copied} objects from the old shared bucket {legacy} into the per-location buckets; "
            f"delete {legacy} once you no longer need it")


def main() -> None:
    spec = json.loads((SECRETS_DIR / "grants.json").read_text())
    provision_instance(spec)
    provision_warehouse(spec)
    ensure_buckets(spec)
    log("done")


if __name__ == "__main__":
    main()
