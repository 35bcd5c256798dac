"""Do a principal's credentials work? Run inside a container that mounts its bundle.

Opens a Postgres connection with DAGSTER_PG_USER / DAGSTER_PG_PASSWORD and
lists the principal's own bucket (DATA_BUCKET, or the compute-log bucket for
the platform). Exit 0 when both answer; 1 with the reason otherwise.

Usage: python -m platformctl.verify
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    import boto3
    import psycopg2
    from botocore.config import Config

    try:
        psycopg2.connect(host=os.environ["DAGSTER_PG_HOST"], port=int(os.environ.get("DAGSTER_PG_PORT", "5432")),
                         user=os.environ["DAGSTER_PG_USER"], password=os.environ["DAGSTER_PG_PASSWORD"],
                         dbname=os.environ["DAGSTER_PG_DB"], connect_timeout=5).close()
        bucket = os.environ.get("DATA_BUCKET") or os.environ["DAGSTER_LOGS_BUCKET"]
        boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION"),
                     config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
                     ).list_objects_v2(Bucket=bucket, MaxKeys=1)
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        print(f"credentials of {os.environ.get('DAGSTER_PG_USER', '?')}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
