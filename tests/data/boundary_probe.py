"""What a code location's credentials can do, tried from inside its container.

Run with the location's credentials exported (the images' entrypoint does it):
    python boundary_probe.py '<json spec>'
The spec names the schemas and buckets this location may and may not touch.
Prints one JSON object: attempt -> "ok" or "denied: <reason>".
Used by tests/security/test_boundaries_e2e.py, from a code server and from a run.
"""

from __future__ import annotations

import json
import os
import socket
import sys


def pg(database: str):
    import psycopg2

    conn = psycopg2.connect(host=os.environ["DAGSTER_PG_HOST"], port=int(os.environ["DAGSTER_PG_PORT"]),
                            user=os.environ["DAGSTER_PG_USER"], password=os.environ["DAGSTER_PG_PASSWORD"],
                            dbname=database, connect_timeout=10)
    conn.autocommit = True
    return conn


def attempt(conn, sql: str) -> str:
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
        return "ok"
    except Exception as exc:  # noqa: BLE001 - the error is the result
        code = getattr(exc, "pgcode", None)
        return f"denied: {code} {str(exc).strip().splitlines()[0]}"


def s3_attempt(fn) -> str:
    try:
        fn()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - the error is the result
        error = getattr(exc, "response", {}).get("Error", {})
        return f"denied: {error.get('Code') or type(exc).__name__}"


def tcp(host: str, port: int) -> str:
    try:
        socket.create_connection((host, port), timeout=3).close()
        return "ok"
    except OSError as exc:
        return f"denied: {exc.__class__.__name__}"


def probe(spec: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    warehouse = pg(os.environ["WAREHOUSE_DB"])
    for schema in spec["foreign_schemas"]:
        out[f"read {schema}"] = attempt(warehouse, f'SELECT 1 FROM "{schema}"."{spec["tables"][schema]}" LIMIT 1')
        out[f"create in {schema}"] = attempt(warehouse, f'CREATE TABLE "{schema}".boundary_probe (i int)')
    for schema in spec["read_schemas"]:
        out[f"read {schema}"] = attempt(warehouse, f'SELECT 1 FROM "{schema}"."{spec["tables"][schema]}" LIMIT 1')
        out[f"write {schema}"] = attempt(warehouse, f'DELETE FROM "{schema}"."{spec["tables"][schema]}" WHERE false')
        out[f"drop in {schema}"] = attempt(warehouse, f'DROP TABLE "{schema}"."{spec["tables"][schema]}"')
    for schema in spec["own_schemas"]:
        out[f"create in {schema}"] = attempt(warehouse, f'CREATE TABLE "{schema}".boundary_probe (i int)')
        attempt(warehouse, f'DROP TABLE IF EXISTS "{schema}".boundary_probe')
    out["create schema"] = attempt(warehouse, "CREATE SCHEMA boundary_probe")
    out["create in public"] = attempt(warehouse, "CREATE TABLE public.boundary_probe (i int)")
    out["copy to program"] = attempt(warehouse, "COPY (SELECT 1) TO PROGRAM 'id'")
    out["copy from program"] = attempt(warehouse, "CREATE TEMP TABLE t (x text); COPY t FROM PROGRAM 'id'")
    out["pg_read_server_files"] = attempt(warehouse, "SELECT pg_read_file('/etc/hostname')")
    out["copy from server file"] = attempt(warehouse, "CREATE TEMP TABLE f (x text); COPY f FROM '/etc/hostname'")
    out["create role"] = attempt(warehouse, "CREATE ROLE boundary_probe")
    out["create database"] = attempt(warehouse, "CREATE DATABASE boundary_probe")
    out["alter own role"] = attempt(warehouse, f'ALTER ROLE "{os.environ["DAGSTER_PG_USER"]}" SUPERUSER')
    warehouse.close()

    instance = pg(os.environ["DAGSTER_PG_DB"])
    out["instance: read runs"] = attempt(instance, "SELECT count(*) FROM runs")
    out["instance: drop runs"] = attempt(instance, "DROP TABLE runs")
    out["instance: alter runs"] = attempt(instance, "ALTER TABLE runs ADD COLUMN boundary_probe int")
    out["instance: create table"] = attempt(instance, "CREATE TABLE boundary_probe (i int)")
    out["instance: truncate runs"] = attempt(instance, "TRUNCATE runs")
    instance.close()
    try:
        pg("postgres").close()
        out["connect to postgres database"] = "ok"
    except Exception as exc:  # noqa: BLE001
        out["connect to postgres database"] = f"denied: {str(exc).strip().splitlines()[0]}"

    import boto3
    from botocore.config import Config

    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"],
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    key = "boundary-probe.txt"
    own = os.environ["DATA_BUCKET"]
    out[f"put {own}"] = s3_attempt(lambda: s3.put_object(Bucket=own, Key=key, Body=b"x"))
    out[f"get {own}"] = s3_attempt(lambda: s3.get_object(Bucket=own, Key=key))
    out[f"delete {own}"] = s3_attempt(lambda: s3.delete_object(Bucket=own, Key=key))
    for bucket in spec["foreign_buckets"]:
        out[f"list {bucket}"] = s3_attempt(lambda b=bucket: s3.list_objects_v2(Bucket=b))
        out[f"get {bucket}"] = s3_attempt(lambda b=bucket: s3.get_object(Bucket=b, Key=key))
        out[f"put {bucket}"] = s3_attempt(lambda b=bucket: s3.put_object(Bucket=b, Key=key, Body=b"x"))
        out[f"delete {bucket}"] = s3_attempt(lambda b=bucket: s3.delete_object(Bucket=b, Key=key))
    for bucket in spec["read_buckets"]:
        out[f"list {bucket}"] = s3_attempt(lambda b=bucket: s3.list_objects_v2(Bucket=b))
        out[f"put {bucket}"] = s3_attempt(lambda b=bucket: s3.put_object(Bucket=b, Key=key, Body=b"x"))
        out[f"delete {bucket}"] = s3_attempt(lambda b=bucket: s3.delete_object(Bucket=b, Key=key))
    logs = os.environ["DAGSTER_LOGS_BUCKET"]
    out[f"put {logs}"] = s3_attempt(lambda: s3.put_object(Bucket=logs, Key="boundary-probe/x", Body=b"x"))
    out[f"list {logs}"] = s3_attempt(lambda: s3.list_objects_v2(Bucket=logs))
    out[f"get {logs}"] = s3_attempt(lambda: s3.get_object(Bucket=logs, Key="boundary-probe/x"))
    out["create bucket"] = s3_attempt(lambda: s3.create_bucket(Bucket="boundary-probe"))
    # SeaweedFS's internal ports (master, volume, filer, and the gateway's gRPC,
    # which accepts identities unauthenticated) must not be reachable.
    for port in (9333, 19333, 8080, 18080, 8888, 18888, 8334, 18334, 18333):
        out[f"tcp s3:{port}"] = tcp("s3", port)
    out["tcp s3:8333"] = tcp("s3", 8333)
    out["env holds the superuser's password"] = "ok" if spec["superuser_password"] in os.environ.values() else "denied"
    return out


if __name__ == "__main__":
    print(json.dumps(probe(json.loads(sys.argv[1]))))
