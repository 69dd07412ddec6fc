"""The partner role is indistinguishable from the source: one test per property, each proved by
logging in as the partner and trying (a grant works where it should and fails where it should not)."""

from __future__ import annotations

import psycopg
import pytest

from .conftest import Pair, denied


def test_attribute_createdb_is_given(pair: Pair) -> None:
    pair.create_source("CREATEDB")
    pair.rotate()
    db = pair.name("made_by_partner")
    with pair.login() as conn:
        conn.execute(f"CREATE DATABASE {db}")
        conn.execute(f"DROP DATABASE {db}")


def test_attribute_createrole_is_given(pair: Pair) -> None:
    pair.create_source("CREATEROLE")
    pair.rotate()
    with pair.login() as conn:
        conn.execute(f"CREATE ROLE {pair.name('made_by_partner')}")
        conn.execute(f"DROP ROLE {pair.name('made_by_partner')}")


def test_attribute_noinherit_is_given(pair: Pair) -> None:
    reader, table = pair.name("reader"), pair.name("inherit_t")
    pair.sql(f"CREATE ROLE {reader} NOLOGIN")
    pair.own(f"CREATE TABLE {table} (x int)")
    pair.own(f"GRANT SELECT ON {table} TO {reader}")
    pair.create_source("NOINHERIT")
    pair.sql(f"GRANT {reader} TO {pair.source}")
    pair.rotate()
    with pair.login() as conn:
        assert denied(conn, f"SELECT * FROM {table}")  # NOINHERIT: the membership's grants need SET ROLE
        conn.execute(f"SET ROLE {reader}")
        conn.execute(f"SELECT * FROM {table}")


def test_attribute_connection_limit_and_valid_until_are_given(pair: Pair) -> None:
    pair.create_source("CONNECTION LIMIT 7 VALID UNTIL '2100-01-01 00:00:00+00'")
    pair.rotate()
    with pair.login() as conn:
        row = conn.execute(
            "SELECT rolconnlimit, rolvaliduntil = '2100-01-01 00:00:00+00' FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (7, True)


def test_attribute_replication_and_bypassrls_are_refused_before_anything_changes(pair: Pair) -> None:
    pair.create_source("REPLICATION BYPASSRLS")
    source, partner = pair.states()
    with pair.admin() as admin:
        problems = admin.unreproducible(source)
    assert partner is None
    assert any("REPLICATION" in p and "superuser" in p for p in problems), problems
    assert any("BYPASSRLS" in p for p in problems), problems


def test_membership_with_admin_option_is_given(pair: Pair) -> None:
    reader, table, other = pair.name("reader"), pair.name("member_t"), pair.name("other")
    pair.sql(f"CREATE ROLE {reader} NOLOGIN")
    pair.sql(f"CREATE ROLE {other} NOLOGIN")
    pair.own(f"CREATE TABLE {table} (x int)")
    pair.own(f"GRANT SELECT ON {table} TO {reader}")
    pair.create_source()
    pair.sql(f"GRANT {reader} TO {pair.source} WITH ADMIN OPTION")
    pair.rotate()
    with pair.login() as conn:
        conn.execute(f"SELECT * FROM {table}")
        conn.execute(f"SET ROLE {reader}")
        conn.execute("RESET ROLE")
        conn.execute(f"GRANT {reader} TO {other}")  # the ADMIN option
    with pair.login() as conn:
        assert conn.execute("SELECT pg_has_role(%s, 'MEMBER')", (pair.source,)).fetchone() == (False,)


def test_membership_removed_from_partner_when_source_lost_it(pair: Pair) -> None:
    reader, table = pair.name("reader"), pair.name("revoked_t")
    pair.sql(f"CREATE ROLE {reader} NOLOGIN")
    pair.own(f"CREATE TABLE {table} (x int)")
    pair.own(f"GRANT SELECT ON {table} TO {reader}")
    pair.create_source()
    pair.sql(f"GRANT {reader} TO {pair.source}")
    pair.rotate()
    pair.sql(f"REVOKE {reader} FROM {pair.source}")
    assert "revoke role" in pair.rotate()
    with pair.login() as conn:
        assert denied(conn, f"SELECT * FROM {table}")


def test_setting_for_every_database_is_given(pair: Pair) -> None:
    pair.create_source()
    pair.sql(f"ALTER ROLE {pair.source} SET statement_timeout = '4321ms'")
    pair.rotate()
    with pair.login() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("4321ms",)


def test_setting_per_database_is_given(pair: Pair) -> None:
    pair.create_source()
    pair.sql(f"ALTER ROLE {pair.source} IN DATABASE appdb SET work_mem = '5MB'")
    pair.rotate()
    with pair.login(dbname="appdb") as conn:
        assert conn.execute("SHOW work_mem").fetchone() == ("5MB",)
    with pair.login(dbname="postgres") as conn:
        assert conn.execute("SHOW work_mem").fetchone() == ("4MB",)


def test_search_path_list_setting_is_given_element_by_element(pair: Pair) -> None:
    schema = pair.name("sp_schema")
    pair.sql(f"CREATE SCHEMA {schema}")
    pair.create_source()
    pair.sql(f'ALTER ROLE {pair.source} SET search_path = {schema}, "$user", public')
    pair.rotate()
    with pair.login() as conn:
        assert conn.execute("SHOW search_path").fetchone() == (f'{schema}, "$user", public',)


def test_setting_role_to_the_shared_owner_is_given(pair: Pair) -> None:
    owner = pair.name("owner")
    pair.sql(f"CREATE ROLE {owner} NOLOGIN")
    pair.sql(f"GRANT {owner} TO master")  # on Aurora the master created the owner role
    pair.create_source()
    pair.sql(f"GRANT {owner} TO {pair.source}")
    pair.sql(f"CREATE SCHEMA {pair.name('owner_s')} AUTHORIZATION {owner}")
    pair.sql(f"ALTER ROLE {pair.source} SET role = '{owner}'")
    pair.rotate()
    with pair.login() as conn:
        assert conn.execute("SELECT current_user").fetchone() == (owner,)
        conn.execute(f"CREATE TABLE {pair.name('owner_s')}.{pair.name('owned_by_owner')} (x int)")
    assert pair.sql(
        "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = %s", (pair.name("owned_by_owner"),)
    ) == [(owner,)]


def test_database_privilege_is_given(pair: Pair) -> None:
    db = pair.name("privdb")
    pair.sql(f"CREATE DATABASE {db} OWNER objects_owner")
    pair.own(f"REVOKE CONNECT ON DATABASE {db} FROM PUBLIC")
    pair.create_source()
    pair.own(f"GRANT CONNECT ON DATABASE {db} TO {pair.source}")
    pair.rotate()
    with pair.login(dbname=db) as conn:
        conn.execute("SELECT 1")


def test_schema_privilege_is_given(pair: Pair) -> None:
    schema = pair.name("s")
    pair.sql(f"CREATE SCHEMA {schema} AUTHORIZATION objects_owner")
    pair.own(f"CREATE TABLE {schema}.t (x int)")
    pair.own(f"GRANT SELECT ON {schema}.t TO PUBLIC")
    pair.create_source()
    pair.own(f"GRANT USAGE ON SCHEMA {schema} TO {pair.source}")
    pair.rotate()
    with pair.login() as conn:
        conn.execute(f"SELECT * FROM {schema}.t")
        assert denied(conn, f"CREATE TABLE {schema}.nope (x int)")


def test_table_privilege_is_given(pair: Pair) -> None:
    granted, other = pair.name("granted_t"), pair.name("other_t")
    pair.own(f"CREATE TABLE {granted} (x int)")
    pair.own(f"CREATE TABLE {other} (x int)")
    pair.create_source()
    pair.own(f"GRANT SELECT, INSERT ON {granted} TO {pair.source}")
    pair.rotate()
    with pair.login() as conn:
        conn.execute(f"INSERT INTO {granted} VALUES (1)")
        conn.execute(f"SELECT * FROM {granted}")
        assert denied(conn, f"DELETE FROM {granted}")
        assert denied(conn, f"SELECT * FROM {other}")


def test_table_privilege_with_grant_option_is_given(pair: Pair) -> None:
    table, other = pair.name("grantable_t"), pair.name("grantee")
    pair.own(f"CREATE TABLE {table} (x int)")
    pair.sql(f"CREATE ROLE {other} NOLOGIN")
    pair.create_source()
    pair.own(f"GRANT SELECT ON {table} TO {pair.source} WITH GRANT OPTION")
    pair.rotate()
    with pair.login() as conn:
        conn.execute(f"GRANT SELECT ON {table} TO {other}")


def test_column_privilege_is_given(pair: Pair) -> None:
    table = pair.name("col_t")
    pair.own(f"CREATE TABLE {table} (a int, b int)")
    pair.create_source()
    pair.own(f"GRANT SELECT (a) ON {table} TO {pair.source}")
    pair.rotate()
    with pair.login() as conn:
        conn.execute(f"SELECT a FROM {table}")
        assert denied(conn, f"SELECT b FROM {table}")


def test_sequence_privilege_is_given(pair: Pair) -> None:
    seq = pair.name("seq")
    pair.own(f"CREATE SEQUENCE {seq}")
    pair.create_source()
    pair.own(f"GRANT USAGE ON SEQUENCE {seq} TO {pair.source}")
    pair.rotate()
    with pair.login() as conn:
        conn.execute(f"SELECT nextval('{seq}')")
        assert denied(conn, f"SELECT setval('{seq}', 100)")


def test_function_privilege_is_given(pair: Pair) -> None:
    fn = pair.name("fn")
    pair.own(f"CREATE FUNCTION {fn}(x integer, y text) RETURNS integer LANGUAGE sql AS 'SELECT x'")
    pair.own(f"REVOKE EXECUTE ON FUNCTION {fn}(integer, text) FROM PUBLIC")
    pair.create_source()
    pair.own(f"GRANT EXECUTE ON FUNCTION {fn}(integer, text) TO {pair.source}")
    pair.rotate()
    with pair.login() as conn:
        assert conn.execute(f"SELECT {fn}(3, 'x')").fetchone() == (3,)


def test_procedure_privilege_is_given(pair: Pair) -> None:
    proc = pair.name("proc")
    pair.own(f"CREATE PROCEDURE {proc}() LANGUAGE sql AS 'SELECT 1'")
    pair.own(f"REVOKE EXECUTE ON PROCEDURE {proc}() FROM PUBLIC")
    pair.create_source()
    pair.own(f"GRANT EXECUTE ON PROCEDURE {proc}() TO {pair.source}")
    pair.rotate()
    with pair.login() as conn:
        conn.execute(f"CALL {proc}()")


def test_large_object_privilege_is_given(pair: Pair) -> None:
    oid = pair.sql("SELECT lo_from_bytea(0, 'blob')")[0][0]
    pair.sql(f"ALTER LARGE OBJECT {oid} OWNER TO master")  # the master may grant on what it owns
    pair.create_source()
    pair.sql(f"GRANT SELECT ON LARGE OBJECT {oid} TO {pair.source}")
    pair.rotate()
    with pair.login() as conn:
        assert conn.execute(f"SELECT lo_get({oid})").fetchone() == (b"blob",)


def test_type_privilege_is_given(pair: Pair) -> None:
    domain = pair.name("dom")
    pair.own(f"CREATE DOMAIN {domain} AS integer")
    pair.own(f"REVOKE USAGE ON DOMAIN {domain} FROM PUBLIC")
    pair.create_source()
    pair.own(f"GRANT USAGE ON TYPE {domain} TO {pair.source}")
    pair.rotate()
    with pair.login() as conn:
        conn.execute(f"CREATE TEMP TABLE uses_domain (x {domain})")


def test_foreign_server_privilege_is_given(pair: Pair) -> None:
    fdw, server = pair.name("fdw"), pair.name("srv")
    pair.sql(f"CREATE FOREIGN DATA WRAPPER {fdw}")
    pair.sql(f"CREATE SERVER {server} FOREIGN DATA WRAPPER {fdw}")
    pair.sql(f"ALTER SERVER {server} OWNER TO master")
    pair.create_source()
    pair.sql(f"GRANT USAGE ON FOREIGN SERVER {server} TO {pair.source}")
    pair.rotate()
    with pair.login() as conn:
        conn.execute(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {server}")
        conn.execute(f"DROP USER MAPPING FOR CURRENT_USER SERVER {server}")


def test_parameter_privilege_is_given(pair: Pair) -> None:
    pair.sql("GRANT SET ON PARAMETER log_min_duration_statement TO master WITH GRANT OPTION")
    pair.create_source()
    pair.sql(f"GRANT SET ON PARAMETER log_min_duration_statement TO {pair.source}")
    pair.rotate()
    with pair.login() as conn:
        conn.execute("SET log_min_duration_statement = 250")
        assert denied(conn, "SET log_lock_waits = on")


def test_default_privileges_granting_to_the_role_are_given(pair: Pair) -> None:
    owner, schema = pair.name("owner"), pair.name("dp_s")
    pair.sql(f"CREATE ROLE {owner} NOLOGIN")
    pair.sql(f"GRANT {owner} TO master")
    pair.sql(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}")
    pair.create_source()
    pair.sql(f"GRANT USAGE ON SCHEMA {schema} TO {pair.source}")
    pair.sql(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} GRANT SELECT ON TABLES TO {pair.source}"
    )
    pair.rotate()
    pair.sql(f"SET ROLE {owner}; CREATE TABLE {schema}.later (x int)")
    with pair.login() as conn:
        conn.execute(f"SELECT * FROM {schema}.later")


def test_default_privileges_for_the_role_are_given(pair: Pair) -> None:
    reader, schema = pair.name("reader"), pair.name("dpf_s")
    pair.sql(f"CREATE ROLE {reader} NOLOGIN")
    pair.sql(f"CREATE SCHEMA {schema} AUTHORIZATION objects_owner")
    pair.create_source()
    pair.own(f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {pair.source}")
    pair.sql(
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {pair.source} IN SCHEMA {schema} GRANT SELECT ON TABLES TO {reader}"
    )
    pair.rotate()
    with pair.login() as conn:
        conn.execute(f"CREATE TABLE {schema}.made (x int)")
        granted = conn.execute(
            f"SELECT has_table_privilege('{reader}', '{schema}.made', 'SELECT')"
        ).fetchone()
        conn.execute(f"DROP TABLE {schema}.made")
    assert granted == (True,)
    # the master's temporary membership in the partner is gone
    assert pair.sql("SELECT pg_has_role('master', %s, 'MEMBER')", (pair.partner,)) == [(False,)]


def test_row_level_security_policy_is_given(pair: Pair) -> None:
    owner, table = pair.name("owner"), pair.name("rls_t")
    pair.sql(f"CREATE ROLE {owner} NOLOGIN")
    pair.sql(f"GRANT {owner} TO master")
    pair.own(f"CREATE TABLE {table} (tenant text)")
    pair.own(f"INSERT INTO {table} VALUES ('a'), ('b')")
    pair.sql(f"ALTER TABLE {table} OWNER TO {owner}")
    pair.sql(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    pair.create_source()
    pair.sql(f"GRANT SELECT ON {table} TO {pair.source}")
    pair.sql(f"CREATE POLICY only_a ON {table} FOR SELECT TO {pair.source} USING (tenant = 'a')")
    pair.rotate()
    with pair.login() as conn:
        assert conn.execute(f"SELECT tenant FROM {table}").fetchall() == [("a",)]
    roles = pair.sql(
        "SELECT polroles::regrole[]::text FROM pg_policy WHERE polname = 'only_a' AND polrelid = %s::regclass",
        (table,),
    )
    assert roles == [(f"{{{pair.source},{pair.partner}}}",)] or roles == [
        (f"{{{pair.partner},{pair.source}}}",)
    ]


def test_session_facts_of_source_and_partner_are_equal(pair: Pair) -> None:
    from bluegreen_rotation.engines.postgresql import ENGINE

    reader = pair.name("reader")
    pair.sql(f"CREATE ROLE {reader} NOLOGIN")
    pair.create_source()
    pair.sql(f"GRANT {reader} TO {pair.source}")
    pair.sql(f"ALTER ROLE {pair.source} SET statement_timeout = '9s'")
    pair.sql(f"ALTER ROLE {pair.source} SET search_path = public, pg_temp")
    pair.rotate()
    mine = ENGINE.session_facts(pair.endpoint, pair.source, pair.source_password, pair.database)
    theirs = ENGINE.session_facts(pair.endpoint, pair.partner, pair.partner_password, pair.database)
    assert mine.values["statement_timeout"] == "9000ms"
    assert mine.values["current_user"] == "<self>"
    assert f"role {reader}: MEMBER USAGE" in mine.grants
    assert mine.differences(theirs, mine=pair.source, theirs=pair.partner) == []


def test_partner_grant_not_in_source_is_revoked(pair: Pair) -> None:
    table = pair.name("extra_t")
    pair.own(f"CREATE TABLE {table} (x int)")
    pair.create_source()
    pair.rotate()
    pair.own(f"GRANT SELECT ON {table} TO {pair.partner}")
    pair.sql(f"ALTER ROLE {pair.partner} SET work_mem = '7MB'")
    kinds = pair.rotate()
    assert {"revoke privilege", "reset setting"} <= set(kinds)
    with pair.login() as conn:
        assert denied(conn, f"SELECT * FROM {table}")


@pytest.mark.parametrize("member_of", ["partner-in-source", "source-in-partner"])
def test_a_color_member_of_the_other_is_refused(pair: Pair, member_of: str) -> None:
    pair.create_source()
    pair.rotate()
    if member_of == "partner-in-source":
        pair.sql(f"GRANT {pair.source} TO {pair.partner}")
    else:
        pair.sql(f"GRANT {pair.partner} TO {pair.source}")
    source, partner = pair.states()
    with pair.admin() as admin:
        problems = admin.partner_problems(source, partner)
    assert any("is a member of" in p for p in problems), problems


def test_partner_session_cannot_reach_the_source(pair: Pair) -> None:
    pair.create_source()
    pair.rotate()
    with pair.login() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"SET ROLE {pair.source}")


def test_a_grant_added_to_the_source_later_reaches_the_partner_on_the_next_rotation(pair: Pair) -> None:
    table = pair.name("later_t")
    pair.own(f"CREATE TABLE {table} (x int)")
    pair.create_source()
    pair.rotate()
    pair.own(f"GRANT SELECT ON {table} TO {pair.source}")
    source, partner = pair.states()
    assert partner is not None
    assert source.profile.differences(partner.profile, mine=pair.source, theirs=pair.partner) == [
        f"privilege only {pair.source} has: SELECT ON TABLE public.{table}"
    ]
    assert pair.rotate() == ["grant privilege"]
    with pair.login() as conn:
        conn.execute(f"SELECT * FROM {table}")
