"""The engine's safety on a real server: no password reaches the server, typed login refusals, no
plaintext when TLS is asked for, owned objects refused, sessions counted, one rotation at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from bluegreen_ops.devstack.postgresql import MASTER_USER, PostgreSQL
from bluegreen_rotation.engines.base import Endpoint, LoginDenied
from bluegreen_rotation.engines.postgresql import ENGINE
from bluegreen_rotation.errors import DatabaseError

from .conftest import Pair, endpoint_of, new_password


def test_no_password_of_any_version_reaches_the_server_log(pair: Pair, pg: PostgreSQL) -> None:
    pair.create_source()
    pair.rotate()
    passwords = [pair.source_password, pair.partner_password]
    for _ in range(2):  # two more versions of the partner's password
        pair.partner_password = new_password()
        passwords.append(pair.partner_password)
        pair.rotate()
        with pair.login() as conn:
            conn.execute("SELECT 1")
    log = pg.log_text()
    assert f'ALTER ROLE "{pair.partner}" PASSWORD \'SCRAM-SHA-256$' in log  # statements were logged
    for password in passwords:
        assert password not in log
    stored = pg.execute(
        "SELECT rolname, rolpassword FROM pg_authid WHERE rolname IN (%s, %s)", (pair.source, pair.partner)
    )
    assert len(stored) == 2
    assert all(verifier.startswith("SCRAM-SHA-256$") for _, verifier in stored)


def test_a_table_owned_by_the_source_is_refused_naming_it_and_nothing_changes(pair: Pair) -> None:
    pair.create_source()
    pair.sql(f"GRANT CREATE ON SCHEMA public TO {pair.source}")
    with pair.login(pair.source) as conn:
        conn.execute(f"CREATE TABLE {pair.name('owned_t')} (x int)")
    source, partner = pair.states()
    before = source.profile
    with pair.admin() as admin:
        problems = admin.unreproducible(source)
    assert partner is None
    assert any(f"table {pair.name('owned_t')}" in p and "REASSIGN OWNED BY" in p for p in problems), problems
    assert any(f"ALTER ROLE {pair.source} SET role = " in p for p in problems), problems
    after, partner_after = pair.states()
    assert after.profile == before
    assert partner_after is None
    assert pair.sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (pair.partner,)) == []


def test_a_partner_that_owns_objects_is_refused(pair: Pair) -> None:
    pair.create_source()
    pair.rotate()
    pair.sql(f"GRANT CREATE ON SCHEMA public TO {pair.partner}")
    with pair.login() as conn:
        conn.execute(f"CREATE TABLE {pair.name('partner_t')} (x int)")
    source, partner = pair.states()
    with pair.admin() as admin:
        problems = admin.partner_problems(source, partner)
    assert any(f"{pair.partner} owns table {pair.name('partner_t')}" in p for p in problems), problems


def test_a_wrong_password_is_login_denied(pair: Pair) -> None:
    pair.create_source()
    assert ENGINE.can_login(pair.endpoint, pair.source, pair.source_password, pair.database)
    assert not ENGINE.can_login(pair.endpoint, pair.source, "wrong-password", pair.database)
    with pytest.raises(LoginDenied) as caught:
        ENGINE.test_login(pair.endpoint, pair.source, "wrong-password", pair.database)
    assert "28P01" in str(caught.value)
    assert not ENGINE.can_login(pair.endpoint, pair.name("nobody"), "wrong-password", pair.database)


def test_the_partner_cannot_log_in_before_its_password_is_set(pair: Pair) -> None:
    pair.create_source()
    with pair.admin() as admin:
        source = admin.account_states(pair.source)[pair.source]
        assert source is not None
        admin.create_partner(source, pair.partner)
    assert not ENGINE.can_login(pair.endpoint, pair.partner, pair.partner_password, pair.database)


@pytest.fixture(scope="module")
def plaintext_pg() -> Iterator[PostgreSQL]:
    server = PostgreSQL(tls=False).start()
    yield server
    server.stop()


@pytest.mark.parametrize("mode", ["require", "verify-ca", "verify-full"])
def test_a_tls_mode_refuses_a_server_without_tls(plaintext_pg: PostgreSQL, mode: str) -> None:
    endpoint = Endpoint(plaintext_pg.host, plaintext_pg.port, mode, None, 5.0)  # type: ignore[arg-type]
    with pytest.raises(DatabaseError) as caught:
        ENGINE.test_login(endpoint, MASTER_USER, plaintext_pg.master_password, None)
    assert not isinstance(caught.value, LoginDenied)
    assert plaintext_pg.master_password not in str(caught.value)
    plain = Endpoint(plaintext_pg.host, plaintext_pg.port, "disable", None, 5.0)
    ENGINE.test_login(plain, MASTER_USER, plaintext_pg.master_password, None)


def test_verify_full_refuses_a_certificate_from_another_ca(pg: PostgreSQL, tmp_path: object) -> None:
    from pathlib import Path

    from bluegreen_ops.devstack.tls import make_tls_files

    other = make_tls_files(Path(str(tmp_path)) / "other")
    endpoint = Endpoint(pg.host, pg.port, "verify-full", str(other.ca_cert), 5.0)
    with pytest.raises(DatabaseError) as caught:
        ENGINE.test_login(endpoint, MASTER_USER, pg.master_password, None)
    assert not isinstance(caught.value, LoginDenied)


def test_sessions_of_a_role_are_counted(pair: Pair) -> None:
    pair.create_source()
    with pair.admin() as admin:
        assert admin.count_sessions(pair.source) == 0
        with pair.login(pair.source), pair.login(pair.source):
            assert admin.count_sessions(pair.source) == 2
        # a closed session's backend exits asynchronously: no assertion on the count right after


def test_the_rotation_lock_is_exclusive_between_two_admins(pair: Pair) -> None:
    key = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{pair.source}"
    first_holds, release, second_saw = threading.Event(), threading.Event(), []

    def holder() -> None:
        with pair.admin() as admin, admin.rotation_lock(key) as acquired:
            assert acquired
            first_holds.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert first_holds.wait(30)
        with pair.admin() as admin:
            with admin.rotation_lock(key) as acquired:
                second_saw.append(acquired)
            with admin.rotation_lock(key + "-other") as acquired:
                second_saw.append(acquired)
    finally:
        release.set()
        thread.join(30)
    assert second_saw == [False, True]
    with pair.admin() as admin, admin.rotation_lock(key) as acquired:
        assert acquired  # released when the first left its block


def test_an_md5_server_setting_is_refused_naming_the_fix(pair: Pair) -> None:
    pair.create_source()
    with pair.admin() as admin:
        source = admin.account_states(pair.source)[pair.source]
        assert source is not None
        partner = admin.create_partner(source, pair.partner)
        admin._conn.execute("SET password_encryption = 'md5'")
        with pytest.raises(DatabaseError) as caught:
            admin.set_password(source, partner, pair.partner_password)
    message = str(caught.value)
    assert "password_encryption" in message and "scram-sha-256" in message
    assert pair.partner_password not in message
    assert pair.sql("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (pair.partner,)) == [(None,)]


def test_session_facts_report_settings_as_the_session_sees_them(pair: Pair) -> None:
    pair.create_source()
    pair.sql(f"ALTER ROLE {pair.source} SET lock_timeout = '3s'")
    facts = ENGINE.session_facts(pair.endpoint, pair.source, pair.source_password, pair.database)
    assert facts.values["lock_timeout"] == "3000ms"
    assert facts.values["statement_timeout"] == "0ms"  # not the engine's own bound


def test_endpoint_of_the_session_server_is_verified_tls(pg: PostgreSQL) -> None:
    endpoint = endpoint_of(pg)
    with ENGINE.admin(endpoint, MASTER_USER, pg.master_password, None) as admin:
        assert admin.count_sessions(MASTER_USER) >= 1
    with psycopg.connect(
        host=pg.host,
        port=pg.port,
        user=MASTER_USER,
        password=pg.master_password,
        dbname="postgres",
        sslmode="verify-full",
        sslrootcert=pg.ca_file,
    ) as conn:
        assert conn.pgconn.ssl_in_use


def test_restricted_password_commands_need_rds_password(pair: Pair, pg: PostgreSQL) -> None:
    """Aurora/RDS ``rds.restrict_password_commands``: stood in for by a placeholder setting on a
    second master role, and ``rds_password`` by a local role of that name."""
    master = pair.name("restricted_master")
    password = new_password()
    with pg.connection() as conn:
        verifier = conn.pgconn.encrypt_password(password.encode(), master.encode(), b"scram-sha-256").decode()
    from psycopg import sql

    pg.execute(
        sql.SQL("CREATE ROLE {} LOGIN CREATEDB CREATEROLE PASSWORD {}").format(
            sql.Identifier(master), sql.Literal(verifier)
        )
    )
    pg.execute(f"ALTER ROLE {master} SET rds.restrict_password_commands = 'on'")
    pair.create_source()
    with ENGINE.admin(pair.endpoint, master, password, pair.database) as admin:
        source = admin.account_states(pair.source)[pair.source]
        assert source is not None
        problems = admin.unreproducible(source)
    assert any(f"GRANT rds_password TO {master}" in p for p in problems), problems
    pg.execute(
        "DO $$BEGIN CREATE ROLE rds_password NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$"
    )
    pg.execute(f"GRANT rds_password TO {master}")
    with ENGINE.admin(pair.endpoint, master, password, pair.database) as admin:
        assert admin.unreproducible(source) == []
