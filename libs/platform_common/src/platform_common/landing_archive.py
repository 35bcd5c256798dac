"""Where ingest archives each landing file it accepted, and how to tell.

A landing file `landing/orders/<day>/<name>.csv` (in the landing bucket) is
archived, once ingest has validated and loaded it, as the Parquet file
`archive/raw/landing/orders/<day>/<name>.csv.parquet` in ingest's own bucket:
its rows as loaded, plus the ETag of the landing object they came from. The
archive is the source of truth for landed data: the warehouse's landed rows
can be rebuilt from it after the landing file is gone.

`is_archived` is what a prune job asks before it deletes a landing file: true
only when the archive holds this very version of the file (same ETag), so a
file replaced after it was archived is never deleted unread.
"""

from __future__ import annotations

from platform_common.objectstore import ObjectInfo, ObjectStore

LANDING_ROOT = "landing/"
ARCHIVE_PREFIX = "archive/raw/landing/"
SOURCE_ETAG_KEY = "platform_common:source_etag"
SOURCE_KEY_KEY = "platform_common:source_key"


def archive_key(landing_key: str) -> str:
    """`landing/orders/2024-01-05/a.csv` -> `archive/raw/landing/orders/2024-01-05/a.csv.parquet`."""
    if not landing_key.startswith(LANDING_ROOT):
        raise ValueError(f"not a landing key: {landing_key!r}")
    return f"{ARCHIVE_PREFIX}{landing_key[len(LANDING_ROOT):]}.parquet"


def landing_key_of(archive: str) -> str:
    """The inverse of `archive_key`."""
    if not (archive.startswith(ARCHIVE_PREFIX) and archive.endswith(".parquet")):
        raise ValueError(f"not a landing archive key: {archive!r}")
    return LANDING_ROOT + archive[len(ARCHIVE_PREFIX):-len(".parquet")]


def archived_etag(archive_store: ObjectStore, landing_key: str) -> str | None:
    """The ETag of the landing file version whose rows are archived, or None if none is."""
    from platform_common.parquet import read_parquet_metadata

    key = archive_key(landing_key)
    if not archive_store.exists(key):
        return None
    return read_parquet_metadata(archive_store.get_bytes(key)).get(SOURCE_ETAG_KEY)


def is_archived(archive_store: ObjectStore, landing: ObjectInfo) -> bool:
    """Has ingest archived (and loaded) exactly this version of the landing file?"""
    return archived_etag(archive_store, landing.key) == landing.etag
