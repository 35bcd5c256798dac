"""landing_sensor: one ingest run per new landing file version, with a cursor.

S3 has no change feed, so each tick lists the landing prefix (1,000 keys per
request), but it only acts on objects modified since the newest one it saw,
less a grace period (S3 stamps an object when its upload starts, so one can
appear a little after a newer one). The cursor holds that time, a short hash of
every version inside the grace period (so none runs twice) and the files
waiting for their day to end. A tick that finds nothing new requests nothing
and leaves the cursor as it was. Run keys (file and ETag) stay as the last
guard against a second run of the same version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import dagster as dg
from platform_common import ObjectInfo, ObjectStore, sensor_interval_seconds

from ingest import landing
from ingest.defs.assets import DAILY, LANDING, ORDERS, PAYMENTS
from ingest.defs.jobs import ingest_job

GRACE = timedelta(seconds=60)
CURSOR_VERSION = 1


def version_token(obj: ObjectInfo) -> str:
    return hashlib.blake2b(f"{obj.key}@{obj.etag}".encode(), digest_size=8).hexdigest()


@dataclass
class Cursor:
    since: datetime | None = None  # the newest last_modified seen (the store's clock)
    recent: set[str] = field(default_factory=set)  # versions seen within GRACE of `since`
    waiting: dict[str, str] = field(default_factory=dict)  # key -> ETag, day not ended yet

    @classmethod
    def parse(cls, raw: str | None) -> Cursor:
        if not raw:
            return cls()
        data = json.loads(raw)
        if data.get("v") != CURSOR_VERSION:
            return cls()  # an unknown cursor: start over; run keys keep old files from running again
        since = datetime.fromisoformat(data["since"]) if data.get("since") else None
        return cls(since, set(data.get("recent", [])), dict(data.get("waiting", {})))

    def dump(self) -> str:
        return json.dumps({"v": CURSOR_VERSION, "since": self.since.isoformat() if self.since else None,
                           "recent": sorted(self.recent), "waiting": dict(sorted(self.waiting.items()))},
                          separators=(",", ":"))


@dataclass(frozen=True)
class Tick:
    requests: list[dg.RunRequest]
    cursor: Cursor
    ignored: list[str]


def evaluate(objects: Iterable[ObjectInfo], cursor: Cursor, today: date) -> Tick:
    """What one tick does, given the listing: the run requests and the next cursor."""
    first_day = DAILY.start.date()
    floor = cursor.since - GRACE if cursor.since else None
    listed = list(objects)
    requests, ignored = [], []
    waiting = {k: e for k, e in cursor.waiting.items()}
    present = set()
    for obj in listed:
        present.add(obj.key)
        is_new = floor is None or obj.last_modified >= floor
        if not is_new and obj.key not in waiting:
            continue
        if is_new and version_token(obj) in cursor.recent and obj.key not in waiting:
            continue
        day = landing.day_of(obj.key)
        if day is None or day < first_day:
            ignored.append(obj.key)
            continue
        if day >= today:  # the day's partition opens when the day ends (UTC)
            waiting[obj.key] = obj.etag
            continue
        waiting.pop(obj.key, None)
        requests.append(run_request(obj, day))
    newest = max((o.last_modified for o in listed), default=cursor.since)
    if cursor.since and newest and newest < cursor.since:
        newest = cursor.since
    recent = {version_token(o) for o in listed if newest and o.last_modified >= newest - GRACE}
    waiting = {k: e for k, e in waiting.items() if k in present}
    return Tick(requests, Cursor(newest, recent, waiting), ignored)


def run_request(obj: ObjectInfo, day: date) -> dg.RunRequest:
    # The run key names the file and its content: the same version is one run; a
    # corrected file (new ETag) is a new run.
    return dg.RunRequest(
        run_key=f"{obj.key}@{obj.etag}",
        partition_key=day.isoformat(),
        tags={"ingest/landing_file": obj.key},
        run_config={"ops": {"orders_and_payments": {"config": {"landing_file": obj.key, "landing_etag": obj.etag}}}},
        asset_selection=[LANDING, ORDERS, PAYMENTS],
    )


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=sensor_interval_seconds(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One ingest run per new landing file version (raw/landing, raw/orders, raw/payments of its day), "
    "once its day has ended. Keeps a cursor: a tick acts only on what changed since the last one.",
)
def landing_sensor(context: dg.SensorEvaluationContext, landing_store: ObjectStore) -> dg.SensorResult:
    cursor = Cursor.parse(context.cursor)
    tick = evaluate(landing_store.list(landing.PREFIX), cursor, datetime.now(timezone.utc).date())
    for key in tick.ignored:
        context.log.warning(f"ignoring {key}: expected {landing.PREFIX}<YYYY-MM-DD>/<name>.csv "
                            f"with a day from {DAILY.start.date()} on")
    changed = tick.cursor.dump()
    return dg.SensorResult(run_requests=tick.requests, cursor=changed if changed != context.cursor else None)
