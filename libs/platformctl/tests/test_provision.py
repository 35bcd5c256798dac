"""The statements init runs: least privilege, idempotent, declarative."""

from platformctl import principals as pr
from platformctl import provision

SPEC = {
    "principals": ["platform", "ingest", "transform", "reports"],
    "locations": [
        {"name": "ingest", "warehouse_writes": ["raw"], "warehouse_reads": []},
        {"name": "transform", "warehouse_writes": ["staging", "marts"], "warehouse_reads": ["raw"]},
        {"name": "reports", "warehouse_writes": ["reports"], "warehouse_reads": ["marts"]},
    ],
}
PASSWORDS = {f"{p.upper()}_PG_PASSWORD": f"pw-{p}" for p in SPEC["principals"]} | {"PGBOUNCER_AUTH_PASSWORD": "pw-pgb"}


def test_roles_are_created_once_and_always_locked_down():
    fresh = provision.role_plan(set(), SPEC, PASSWORDS).sql()
    again = provision.role_plan({"dagster_ingest", "dagster_ingest_a", "dagster_ingest_b", pr.INSTANCE_RW,
                                 pr.INSTANCE_OWNER}, SPEC, PASSWORDS).sql()
    assert 'CREATE ROLE "dagster_ingest_a" LOGIN' in fresh and 'CREATE ROLE "dagster_ingest_a" LOGIN' not in again
    alters = [s for s in fresh if s.startswith("ALTER ROLE") and "PASSWORD" not in s and "SET role" not in s]
    assert alters and all(provision.LOCKED in s for s in alters)
    assert not any(" SUPERUSER" in s.replace("NOSUPERUSER", "") for s in fresh)
    assert not any("pg_read_server_files" in s or "pg_execute_server_program" in s for s in fresh)


def test_logins_switch_to_their_group_and_the_other_slot_may_not_log_in():
    plan = provision.role_plan(set(), SPEC, PASSWORDS)
    sql = plan.sql()
    assert 'ALTER ROLE "dagster_ingest_a" SET role = "dagster_ingest"' in sql
    assert 'ALTER ROLE "dagster_ingest_b" NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOLOGIN' in sql
    assert 'ALTER ROLE "dagster_ingest_b" PASSWORD NULL' in sql
    assert ("ALTER ROLE \"dagster_ingest_a\" PASSWORD %s CONNECTION LIMIT 40", ("pw-ingest",)) in list(plan)
    assert 'GRANT "dagster_instance_rw" TO "dagster_ingest"' in sql


def test_during_a_rotation_both_slots_log_in():
    rotating = {**PASSWORDS, "INGEST_CREDENTIALS_SLOT": "b", "INGEST_PG_PASSWORD_PREVIOUS": "old"}
    steps = list(provision.role_plan(set(), SPEC, rotating))
    assert ('ALTER ROLE "dagster_ingest_b" PASSWORD %s CONNECTION LIMIT 40', ("pw-ingest",)) in steps
    assert ('ALTER ROLE "dagster_ingest_a" PASSWORD %s CONNECTION LIMIT 40', ("old",)) in steps


def test_instance_tables_belong_to_the_owner_role_and_logins_get_rows_only():
    sql = provision.instance_owner_plan("dagster", [("runs", "r", "dagster"), ("kvs", "r", pr.INSTANCE_OWNER),
                                                    ("runs_id_seq", "S", "dagster")]).sql()
    assert 'ALTER TABLE public."runs" OWNER TO "dagster_instance_owner"' in sql
    assert not any('"kvs"' in s for s in sql)  # already owned: nothing to do
    assert 'ALTER SEQUENCE public."runs_id_seq" OWNER TO "dagster_instance_owner"' in sql
    assert 'REVOKE ALL ON DATABASE "dagster" FROM PUBLIC' in sql
    grants = " ".join(provision.instance_grants_plan().sql())
    assert "SELECT, INSERT, UPDATE, DELETE ON ALL TABLES" in grants and "TRUNCATE" not in grants
    assert "ALTER DEFAULT PRIVILEGES FOR ROLE \"dagster_instance_owner\"" in grants


def test_warehouse_reads_are_granted_as_declared_and_everything_else_revoked():
    sql = provision.warehouse_plan("warehouse", SPEC, {"raw"}, [("raw", "orders", "r", "dagster")]).sql()
    assert 'ALTER SCHEMA "raw" OWNER TO "dagster_ingest"' in sql
    assert 'CREATE SCHEMA "marts" AUTHORIZATION "dagster_transform"' in sql
    assert 'ALTER TABLE "raw"."orders" OWNER TO "dagster_ingest"' in sql
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA "raw" TO "dagster_transform"' in sql
    assert ('ALTER DEFAULT PRIVILEGES FOR ROLE "dagster_ingest" IN SCHEMA "raw" GRANT SELECT ON TABLES '
            'TO "dagster_transform"') in sql
    assert 'REVOKE ALL ON SCHEMA "raw" FROM "dagster_reports"' in sql
    assert 'REVOKE ALL ON SCHEMA "marts" FROM "dagster_ingest"' in sql
    assert not any(s.startswith("GRANT") and '"dagster_reports"' in s and '"raw"' in s for s in sql)
    assert 'REVOKE ALL ON DATABASE "warehouse" FROM PUBLIC' in sql


def test_other_databases_are_closed_to_everyone_but_the_superuser():
    sql = provision.cluster_plan(["postgres", "dagster", "warehouse", "template1"], {"dagster", "warehouse"}).sql()
    assert sql == ['REVOKE CONNECT ON DATABASE "postgres" FROM PUBLIC',
                   'REVOKE CONNECT ON DATABASE "template1" FROM PUBLIC']


def test_kubernetes_names_the_active_slot_by_the_login_in_its_secret():
    steps = list(provision.role_plan(set(), SPEC, {**PASSWORDS, "INGEST_PG_USER": "dagster_ingest_b"}))
    assert ('ALTER ROLE "dagster_ingest_b" PASSWORD %s CONNECTION LIMIT 40', ("pw-ingest",)) in steps
    assert ('ALTER ROLE "dagster_ingest_a" PASSWORD NULL', ()) in steps


def test_a_login_of_another_principal_is_refused():
    import pytest

    with pytest.raises(ValueError, match="INGEST_PG_USER='dagster_reports_a' must be dagster_ingest_a or"):
        provision.role_plan(set(), SPEC, {**PASSWORDS, "INGEST_PG_USER": "dagster_reports_a"})


def test_pgbouncer_may_look_up_platform_logins_only():
    plan = provision.auth_lookup_plan("warehouse")
    [(function, params)] = [(sql, p) for sql, p in plan if "CREATE OR REPLACE FUNCTION" in sql]
    assert "SECURITY DEFINER" in function and "NOT usesuper" in function and "pg_shadow" in function
    assert params == ("dagster_pgbouncer",)  # not even its own hash
    sql = plan.sql()
    assert "REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC" in sql
    assert 'GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO "dagster_pgbouncer"' in sql
    roles = provision.role_plan(set(), SPEC, PASSWORDS)
    assert ('ALTER ROLE "dagster_pgbouncer" NOINHERIT PASSWORD %s CONNECTION LIMIT 10', ("pw-pgb",)) in list(roles)
