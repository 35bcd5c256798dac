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
        except Exception as exc:  # noqa: BLE001 - any failure is retried until the deadline
            if time.monotonic() > deadline:
                sys.exit(f"init: {what} still failing after {DEADLINE_SECONDS}s: {exc}")
            time.sleep(1)


def ensure_warehouse() -> None:
    warehouse = require("WAREHOUSE_DB")

    def connect():
        return psycopg2.connect(
            host=require("DAGSTER_PG_HOST"),
            port=int(os.environ.get("DAGSTER_PG_PORT", "5432")),
            user=require("DAGSTER_PG_USER"),
            password=require("DAGSTER_PG_PASSWORD"),
            dbname=require("DAGSTER_PG_DB"),
        )

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
