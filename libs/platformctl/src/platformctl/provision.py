"""Postgres roles and grants, as idempotent statements run by init as the superuser.

The instance database (Dagster's runs, events, schedules):
- INSTANCE_OWNER (NOLOGIN) owns the database and every table in it; migrations
  run as it (init sets `role` on the superuser's connection), so nobody who logs
  in can change or drop a table.
- INSTANCE_RW may read and write rows; every principal's group role is a member.

The warehouse database: each location's group role owns the schemas it writes
and gets USAGE and SELECT, now and on tables created later (default privileges),
on the schemas it declared it reads; every other grant between locations is
revoked, so removing a read from a declaration takes it away.

Logins (two slots per principal, platformctl.principals) are members of their
group and switch to it at connection start: what they create, the group owns.
No role gets SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS, nor
membership in pg_read_server_files / pg_execute_server_program.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from platformctl import principals as pr

LOCKED = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
# Per login: enough for a run's pools and a busy code server, and a ceiling on
# what one team can take of Postgres's max_connections.
CONNECTION_LIMIT = 40
# ALTER ... OWNER statement per pg_class.relkind.
RELKIND = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE", "f": "FOREIGN TABLE"}


def ident(name: str) -> str:
    """A quoted identifier. Names come from validated declarations, never from users."""
    if not name or "\0" in name:
        raise ValueError(f"not an identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Plan:
    """Statements with their parameters, in order; `secret` marks parameters never to log."""

    steps: list[tuple[str, tuple]] = field(default_factory=list)

    def add(self, sql: str, *params: object) -> None:
        self.steps.append((sql, params))

    def __iter__(self) -> Iterator[tuple[str, tuple]]:
        return iter(self.steps)

    def sql(self) -> list[str]:
        return [s for s, _ in self.steps]


def role_plan(existing_roles: set[str], spec: dict, passwords: dict[str, str]) -> Plan:
    """Roles of every principal. `passwords`: the `.env` values init received
    (<P>_PG_PASSWORD, <P>_PG_PASSWORD_PREVIOUS, <P>_CREDENTIALS_SLOT)."""
    plan = Plan()

    def ensure(role: str, login: bool) -> None:
        if role not in existing_roles:
            plan.add(f"CREATE ROLE {ident(role)} {'LOGIN' if login else 'NOLOGIN'}")
        plan.add(f"ALTER ROLE {ident(role)} {LOCKED} {'LOGIN' if login else 'NOLOGIN'}")

    ensure(pr.INSTANCE_OWNER, login=False)
    ensure(pr.INSTANCE_RW, login=False)
    if passwords.get(pr.PGBOUNCER_PASSWORD):  # a deployment without PgBouncer has no such login
        ensure(pr.PGBOUNCER_USER, login=True)
        plan.add(f"ALTER ROLE {ident(pr.PGBOUNCER_USER)} NOINHERIT PASSWORD %s CONNECTION LIMIT 10",
                 passwords[pr.PGBOUNCER_PASSWORD])
    for name in spec["principals"]:
        principal = pr.Principal(name)
        group = principal.group_role
        ensure(group, login=False)
        plan.add(f"GRANT {ident(pr.INSTANCE_RW)} TO {ident(group)}")
        active = pr.slot_of(principal, passwords)
        previous = passwords.get(principal.pg_password + pr.PREVIOUS, "")
        for slot in pr.SLOTS:
            login = principal.login_role(slot)
            password = passwords[principal.pg_password] if slot == active else previous
            ensure(login, login=bool(password))
            if password:
                plan.add(f"ALTER ROLE {ident(login)} PASSWORD %s CONNECTION LIMIT {CONNECTION_LIMIT}", password)
            else:
                plan.add(f"ALTER ROLE {ident(login)} PASSWORD NULL")
            plan.add(f"GRANT {ident(group)} TO {ident(login)}")
            plan.add(f"ALTER ROLE {ident(login)} SET role = {ident(group)}")
    return plan


def instance_owner_plan(database: str, relations: list[tuple[str, str, str]]) -> Plan:
    """The instance database and its objects belong to INSTANCE_OWNER.
    `relations`: (name, relkind, owner) of everything in its schema `public`."""
    plan = Plan()
    db = ident(database)
    plan.add(f"ALTER DATABASE {db} OWNER TO {ident(pr.INSTANCE_OWNER)}")
    plan.add(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC")
    plan.add(f"GRANT CONNECT ON DATABASE {db} TO {ident(pr.INSTANCE_RW)}")
    plan.add(f"ALTER SCHEMA public OWNER TO {ident(pr.INSTANCE_OWNER)}")
    plan.add("REVOKE ALL ON SCHEMA public FROM PUBLIC")
    for name, relkind, owner in relations:
        if owner != pr.INSTANCE_OWNER and relkind in RELKIND:
            plan.add(f"ALTER {RELKIND[relkind]} public.{ident(name)} OWNER TO {ident(pr.INSTANCE_OWNER)}")
    return plan


def cluster_plan(databases: list[str], ours: set[str]) -> Plan:
    """No role but the superuser may connect to a database that is not ours
    (the `postgres` maintenance database, a DBA's own): only grants open ours."""
    plan = Plan()
    for database in databases:
        if database not in ours:
            plan.add(f"REVOKE CONNECT ON DATABASE {ident(database)} FROM PUBLIC")
    return plan


AUTH_LOOKUP = """CREATE OR REPLACE FUNCTION pgbouncer.get_auth(p_usename text)
RETURNS TABLE (usename name, passwd text) LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog AS $$
    SELECT usename, passwd FROM pg_catalog.pg_shadow
    WHERE usename = p_usename AND usename LIKE 'dagster\\_%%' AND NOT usesuper AND usename <> %s
$$"""


def auth_lookup_plan(database: str) -> Plan:
    """In each database PgBouncer serves: a function that returns the password hash
    of a platform login (never the superuser's, never its own) to PgBouncer alone.
    pg_shadow lists only roles that may log in: a retired slot is refused."""
    plan = Plan()
    lookup = ident(pr.PGBOUNCER_USER)
    plan.add("CREATE SCHEMA IF NOT EXISTS pgbouncer")
    plan.add("REVOKE ALL ON SCHEMA pgbouncer FROM PUBLIC")
    plan.add(f"GRANT USAGE ON SCHEMA pgbouncer TO {lookup}")
    plan.add(AUTH_LOOKUP, pr.PGBOUNCER_USER)
    plan.add("REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC")
    plan.add(f"GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO {lookup}")
    plan.add(f"GRANT CONNECT ON DATABASE {ident(database)} TO {lookup}")
    return plan


def instance_grants_plan() -> Plan:
    """Row access for INSTANCE_RW, now and for tables later migrations add."""
    plan = Plan()
    owner, rw = ident(pr.INSTANCE_OWNER), ident(pr.INSTANCE_RW)
    plan.add(f"GRANT USAGE ON SCHEMA public TO {rw}")
    plan.add(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {rw}")
    plan.add(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {rw}")
    plan.add(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
             f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {rw}")
    plan.add(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {rw}")
    return plan


def warehouse_plan(database: str, spec: dict, existing_schemas: set[str],
                   relations: list[tuple[str, str, str, str]]) -> Plan:
    """Schemas, ownership and grants in the warehouse database.
    `relations`: (schema, name, relkind, owner) of everything in the locations' schemas."""
    plan = Plan()
    db = ident(database)
    locations = spec["locations"]
    groups = {loc["name"]: pr.Principal(loc["name"]).group_role for loc in locations}
    owners = {schema: loc["name"] for loc in locations for schema in loc["warehouse_writes"]}
    plan.add(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC")
    plan.add("REVOKE ALL ON SCHEMA public FROM PUBLIC")
    for group in groups.values():
        plan.add(f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {ident(group)}")
    for schema, location in owners.items():
        group = ident(groups[location])
        if schema in existing_schemas:
            plan.add(f"ALTER SCHEMA {ident(schema)} OWNER TO {group}")
        else:
            plan.add(f"CREATE SCHEMA {ident(schema)} AUTHORIZATION {group}")
        plan.add(f"REVOKE ALL ON SCHEMA {ident(schema)} FROM PUBLIC")
    for schema, name, relkind, owner in relations:
        location = owners.get(schema)
        if location and owner != groups[location] and relkind in RELKIND:
            plan.add(f"ALTER {RELKIND[relkind]} {ident(schema)}.{ident(name)} OWNER TO {ident(groups[location])}")
    for loc in locations:
        reader = ident(groups[loc["name"]])
        for schema, owner_location in owners.items():
            if owner_location == loc["name"]:
                continue
            s, owner = ident(schema), ident(groups[owner_location])
            if schema in loc["warehouse_reads"]:
                plan.add(f"GRANT USAGE ON SCHEMA {s} TO {reader}")
                plan.add(f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {reader}")
                plan.add(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {s} GRANT SELECT ON TABLES TO {reader}")
            else:
                plan.add(f"REVOKE ALL ON SCHEMA {s} FROM {reader}")
                plan.add(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {reader}")
                plan.add(f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {s} REVOKE ALL ON TABLES FROM {reader}")
    return plan
