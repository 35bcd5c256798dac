"""The object store: S3-compatible (SeaweedFS, S3) in docker/k8s, a folder locally.

Keys are plain strings like `landing/orders/2024-01-05/batch-1.csv`. Writes
are atomic: S3 PUTs are, and the local backend writes a temp file and renames.
"""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: datetime


@functools.lru_cache(maxsize=8)
def _s3_client(endpoint_url: str | None, region: str | None):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or None,
        # Short connect timeout: a store that is down fails fast, and the step's
        # RetryPolicy (platform_common.retries) waits out the outage with backoff.
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        ),
    )


def _local_etag(stat: os.stat_result) -> str:
    return f"{stat.st_size:x}-{stat.st_mtime_ns:x}"


class ObjectStore(dg.ConfigurableResource):
    """A bucket of objects. Credentials come from the standard AWS_* env vars."""

    backend: Literal["s3", "local"] = Field(description="s3 (docker, k8s) or local (make dev, tests)")
    bucket: str = Field(description="bucket name; for local, a folder under local_dir")
    endpoint_url: str | None = Field(default=None, description="S3 API endpoint, e.g. http://s3:8333")
    region: str | None = None
    local_dir: str | None = Field(default=None, description="root folder for backend=local")
    read_only: bool = Field(default=False, description="refuse puts and deletes (a bucket another team fills)")

    def _path(self, key: str) -> Path:
        if not self.local_dir:
            raise dg.Failure("ObjectStore(backend='local') needs local_dir")
        root = Path(self.local_dir, self.bucket).resolve()
        path = (root / key).resolve()
        if path != root and root not in path.parents:
            raise dg.Failure(f"object key {key!r} escapes the bucket")
        return path

    def uri(self, key: str) -> str:
        if self.backend == "s3":
            return f"s3://{self.bucket}/{key}"
        return self._path(key).as_uri()

    def _writable(self, key: str) -> None:
        if self.read_only:
            raise dg.Failure(f"bucket {self.bucket!r} is read-only here: refusing to change {key!r}", allow_retries=False)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._writable(key)
        if self.backend == "s3":
            _s3_client(self.endpoint_url, self.region).put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and the ETag of exactly that version (as `list` reports it)."""
        if self.backend == "s3":
            response = _s3_client(self.endpoint_url, self.region).get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read(), response["ETag"].strip('"')
        path = self._path(key)
        while True:  # a local file replaced while we read it (writes are renames) is read again
            before = _local_etag(path.stat())
            data = path.read_bytes()
            if _local_etag(path.stat()) == before:
                return data, before

    def get_bytes(self, key: str) -> bytes:
        if self.backend == "s3":
            return _s3_client(self.endpoint_url, self.region).get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        if self.backend == "s3":
            try:
                _s3_client(self.endpoint_url, self.region).head_object(Bucket=self.bucket, Key=key)
                return True
            except Exception as exc:  # botocore ClientError 404
                if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._writable(key)
        if self.backend == "s3":
            _s3_client(self.endpoint_url, self.region).delete_object(Bucket=self.bucket, Key=key)
        else:
            self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every object under `prefix`, sorted by key."""
        if self.backend == "s3":
            paginator = _s3_client(self.endpoint_url, self.region).get_paginator("list_objects_v2")
            out = [
                ObjectInfo(o["Key"], o["Size"], o["ETag"].strip('"'), o["LastModified"])
                for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
                for o in page.get("Contents", [])
            ]
            return sorted(out, key=lambda o: o.key)
        root = self._path("")
        # Walk only the folder the prefix names (landing/orders/ of a bucket holding more).
        folder = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else root
        out: list[ObjectInfo] = []
        for path in folder.rglob("*") if folder.is_dir() else ():
            key = path.relative_to(root).as_posix()
            if path.is_file() and key.startswith(prefix) and not path.name.startswith("."):
                stat = path.stat()
                out.append(ObjectInfo(key, stat.st_size, _local_etag(stat), datetime.fromtimestamp(stat.st_mtime, timezone.utc)))
        return sorted(out, key=lambda o: o.key)
