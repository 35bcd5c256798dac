"""Who holds which credentials, and what each credential may do.

Principals, each with keys of its own in `.env`:

- `init` (one-shot: roles, migrations, buckets): the Postgres superuser
  (POSTGRES_USER / POSTGRES_PASSWORD) and the object store's admin key
  (S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY). No other container gets them.
- `platform` (webserver and daemon): a Postgres login that may read and write
  Dagster's instance tables, and a key that reads compute logs.
- each location: a Postgres login that may write the instance tables (run
  workers write the event log), own its warehouse schemas and read those it
  declared; a key that reads and writes its own bucket, reads the buckets it
  declared and writes compute logs.
- `landing`: a key that may put files into the landing bucket, for the
  systems that drop them (and the tests). It runs in no container of ours.
- `pgbouncer`: the connection pooler every principal but init connects
  through; its own login may only look up the others' password hashes
  (platformctl.provision.auth_lookup_plan).

Each Postgres principal has two logins, slots `a` and `b`, members of one
NOLOGIN group role that owns its objects (every session of a login switches to
the group: `ALTER ROLE ... SET role`). Rotation moves a principal to the other
slot and keeps the old one valid until the runs that hold it have ended
(platformctl.rotate).
"""

from __future__ import annotations

from dataclasses import dataclass

from platformctl.locations import LANDING, Location

SUPERUSER_PASSWORD = "POSTGRES_PASSWORD"
ADMIN_KEY_ID, ADMIN_SECRET = "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"
LANDING_KEY_ID, LANDING_SECRET = "LANDING_S3_ACCESS_KEY_ID", "LANDING_S3_SECRET_ACCESS_KEY"

PGBOUNCER_PASSWORD = "PGBOUNCER_AUTH_PASSWORD"
PGBOUNCER_USER = "dagster_pgbouncer"  # PgBouncer's own login: looks up the others' password hashes, nothing else
INSTANCE_OWNER = "dagster_instance_owner"  # owns Dagster's tables; NOLOGIN, migrations SET ROLE to it
INSTANCE_RW = "dagster_instance_rw"  # may read and write rows of Dagster's tables, never change them
SLOTS = ("a", "b")
PREVIOUS = "_PREVIOUS"

# Non-secret settings with their defaults (.env may override them).
SETTINGS = {
    "DAGSTER_LOGS_BUCKET": "dagster-logs",
    "LANDING_BUCKET": "dagster-landing",
    "DATA_BUCKET_PREFIX": "dagster-data",
}


@dataclass(frozen=True)
class Principal:
    """A holder of one Postgres login (two slots) and one object-store key."""

    name: str  # "platform" or a location name
    location: Location | None = None

    @property
    def prefix(self) -> str:
        return self.name.upper()

    @property
    def pg_password(self) -> str:
        return f"{self.prefix}_PG_PASSWORD"

    @property
    def key_id(self) -> str:
        return f"{self.prefix}_S3_ACCESS_KEY_ID"

    @property
    def secret_key(self) -> str:
        return f"{self.prefix}_S3_SECRET_ACCESS_KEY"

    @property
    def slot_var(self) -> str:
        return f"{self.prefix}_CREDENTIALS_SLOT"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.pg_password, self.key_id, self.secret_key)

    @property
    def group_role(self) -> str:
        return f"dagster_{self.name}"

    def login_role(self, slot: str) -> str:
        return f"dagster_{self.name}_{slot}"


def principals(locations: list[Location]) -> list[Principal]:
    return [Principal("platform"), *(Principal(loc.name, loc) for loc in locations)]


def required_secrets(locations: list[Location]) -> list[str]:
    """Every secret `.env` must hold, in the order `.env` lists them."""
    names = [SUPERUSER_PASSWORD, PGBOUNCER_PASSWORD, ADMIN_KEY_ID, ADMIN_SECRET, LANDING_KEY_ID, LANDING_SECRET]
    for p in principals(locations):
        names += p.secrets
    return names


def slot_of(principal: Principal, env: dict[str, str]) -> str:
    """The principal's active login slot: <P>_CREDENTIALS_SLOT (compose's .env), or the
    suffix of <P>_PG_USER (Kubernetes: the login its Secret names), else `a`."""
    user = env.get(f"{principal.prefix}_PG_USER", "").strip()
    if user:
        slot = user.removeprefix(f"dagster_{principal.name}_")
        if user == slot or slot not in SLOTS:
            raise ValueError(f"{principal.prefix}_PG_USER={user!r} must be {principal.login_role('a')} or "
                             f"{principal.login_role('b')}")
        return slot
    slot = env.get(principal.slot_var, "").strip() or SLOTS[0]
    if slot not in SLOTS:
        raise ValueError(f".env: {principal.slot_var}={slot!r} must be one of {', '.join(SLOTS)}")
    return slot


def other_slot(slot: str) -> str:
    return SLOTS[1 - SLOTS.index(slot)]


def setting(env: dict[str, str], name: str) -> str:
    return env.get(name, "").strip() or SETTINGS[name]


def data_bucket(env: dict[str, str], location: str) -> str:
    """A location's own bucket: S3 names take no underscores."""
    return f"{setting(env, 'DATA_BUCKET_PREFIX')}-{location.replace('_', '-')}"


def bucket_of(env: dict[str, str], name: str) -> str:
    """The bucket a declaration names: `landing`, or a location's own."""
    return setting(env, "LANDING_BUCKET") if name == LANDING else data_bucket(env, name)


def all_buckets(env: dict[str, str], locations: list[Location]) -> list[str]:
    return [setting(env, "DAGSTER_LOGS_BUCKET"), setting(env, "LANDING_BUCKET"),
            *(data_bucket(env, loc.name) for loc in locations)]
