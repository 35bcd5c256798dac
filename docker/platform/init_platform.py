"""One-shot platform init, run by the `init` service before anything else starts.

1. waits for Postgres, 2. creates the warehouse database, 3. runs
`dagster instance migrate`, 4. creates the object-store buckets.
Every step is idempotent, so it runs on every `make up` and after upgrades.
"""

import os
import subprocess
import sys
import time

import boto3
import psycopg2
from botocore.config import Config
from psycopg2 import sql

DEADLINE_SECONDS = 120
# The compose project is dagster-platform (Makefile PROJECT), so this is its Postgres volume.
VOLUME = "dagster-platform_pgdata"


class Fatal(Exception):
    """A failure that waiting will not fix: stop at once with the reason."""


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


def ensure_warehouse() -> None:
    warehouse = require("WAREHOUSE_DB")

    def connect():
        try:
            return psycopg2.connect(
                host=require("DAGSTER_PG_HOST"),
                port=int(os.environ.get("DAGSTER_PG_PORT", "5432")),
                user=require("DAGSTER_PG_USER"),
                password=require("DAGSTER_PG_PASSWORD"),
                dbname=require("DAGSTER_PG_DB"),
            )
        except psycopg2.OperationalError as exc:
            if "password authentication failed" in str(exc):
                # Postgres only reads POSTGRES_PASSWORD when it creates an empty data
                # volume; a later .env (a fresh clone, a deleted .env) does not change it.
                raise Fatal(
                    f"Postgres rejected the password for user {os.environ['DAGSTER_PG_USER']!r}. "
                    f"The data volume {VOLUME} was created with another POSTGRES_PASSWORD "
                    "than the one in .env now. Put the original password back in .env, "
                    f"or start empty with `make destroy CONFIRM=yes` (deletes {VOLUME} "
                    "and all run history and warehouse data)."
                ) from exc
            raise

    conn = retry("connecting to Postgres", connect)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (warehouse,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(warehouse)))
            print(f"init: created database {warehouse}")
    conn.close()


def ensure_buckets() -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=require("S3_ENDPOINT_URL"),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}),
    )
    existing = {b["Name"] for b in retry("listing buckets", s3.list_buckets).get("Buckets", [])}
    for bucket in (require("DAGSTER_LOGS_BUCKET"), require("DATA_BUCKET")):
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
            print(f"init: created bucket {bucket}")


def main() -> None:
    ensure_warehouse()
    subprocess.run(["dagster", "instance", "migrate"], check=True)
    ensure_buckets()
    print("init: done")


if __name__ == "__main__":
    main()
