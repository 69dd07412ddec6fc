"""Issue 10 on MariaDB: the partner user is indistinguishable from the current one.

One test per case of the issue's table. Each either rotates and then logs in as both users and tries
the same statements (same outcome, error code included), or shows setSecret refusing with the grant
and its fix named, changing nothing. Every role and global setting is unique to its test or restored:
the MariaDB server is shared by the whole session.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pymysql
import pytest

from app import lambda_handler
from bluegreen_ops.devstack.secrets_manager_driver import STEPS, RotationDriver
from bluegreen_rotation.errors import DatabaseError
from tests.helpers import secret_value, snapshot


def rotate(stack: Any) -> str:
    return RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1).rotate(stack.app.secret_arn)


def both(stack: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(current, previous) secret values: after a rotation, the partner and the user it copied."""
    return secret_value(stack), secret_value(stack, "AWSPREVIOUS")


def outcome(stack: Any, secret: dict[str, Any], sql: str) -> str:
    """What a client logged in as the secret's user gets for one statement: rows, or the error code."""
    try:
        conn = pymysql.connect(
            host="127.0.0.1",
            port=stack.db.port,
            user=secret["username"],
            password=secret["password"],
            database=secret.get("dbname"),
        )
    except pymysql.err.MySQLError as exc:
        return f"login error {exc.args[0]}"
    with conn, conn.cursor() as cur:
        try:
            cur.execute(sql)
            rows = list(cur.fetchall())
            return "ok" if sql.startswith("SHOW ENGINE") else f"ok {rows}"  # status text varies
        except pymysql.err.MySQLError as exc:
            return f"error {exc.args[0]}"


def probes(stack: Any, *extra: str) -> list[str]:
    db = stack.app.dbname
    return [
        "SELECT CURRENT_ROLE()",
        "SELECT @@max_statement_time",
        f"SELECT COUNT(*) FROM `{db}`.`items`",
        f"UPDATE `{db}`.`items` SET name = name WHERE 1 = 0",
        f"DELETE FROM `{db}`.`items` WHERE 1 = 0",
        f"CREATE TABLE `{db}`.`nope` (i INT)",
        "SELECT COUNT(*) FROM mysql.user",
        *extra,
    ]


def assert_same_abilities(stack: Any, statements: list[str]) -> dict[str, str]:
    """Logs in as the current and the previous user and tries each statement as both."""
    current, previous = both(stack)
    assert current["username"] != previous["username"]
    seen = {}
    for sql in statements:
        mine, theirs = outcome(stack, current, sql), outcome(stack, previous, sql)
        assert mine == theirs, f"{sql}: {current['username']} gets {mine}, {previous['username']} {theirs}"
        seen[sql] = mine
    return seen


def create_user_text(stack: Any, user: str) -> str:
    """SHOW CREATE USER without the account name and the password hash."""
    rows = stack.db.execute("SHOW CREATE USER %s@'%%'", (user,))
    text = " ".join(str(r[0]) for r in rows).replace(f"`{user}`", "`USER`")
    return re.sub(r"(PASSWORD|USING) '[^']*'", r"\1 '<hash>'", text)


def refused_set_secret(stack: Any) -> DatabaseError:
    """Runs createSecret, then setSecret, which must fail changing nothing; returns its error."""
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret",))
    before = snapshot(stack)
    with pytest.raises(DatabaseError) as info:
        driver.run_steps(stack.app.secret_arn, token, steps=("setSecret",))
    assert snapshot(stack) == before
    pending = secret_value(stack, "AWSPENDING")
    assert outcome(stack, pending, "SELECT 1").startswith("login error")
    return info.value


def finish_pending(stack: Any) -> None:
    """Completes the rotation createSecret started (after the cause of a refusal was fixed)."""
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    meta = stack.secretsmanager.describe_secret(SecretId=stack.app.secret_arn)
    token = next(v for v, s in meta["VersionIdsToStages"].items() if "AWSPENDING" in s)
    driver.run_steps(stack.app.secret_arn, token, steps=STEPS[1:])
    driver.finish(stack.app.secret_arn, token)


@contextlib.contextmanager
def password_lifetime(stack: Any, days: int) -> Any:
    """Sets default_password_lifetime for the test, restoring it after. The test server's root has
    no password change date, so it is exempted meanwhile (root set up and inspects the stack)."""
    old = stack.db.execute("SELECT @@GLOBAL.default_password_lifetime")[0][0]
    assert "PASSWORD EXPIRE" not in str(stack.db.execute("SHOW CREATE USER root@localhost"))
    stack.db.execute("ALTER USER root@localhost PASSWORD EXPIRE NEVER")
    stack.db.execute("SET GLOBAL default_password_lifetime = %s", (days,))
    try:
        yield
    finally:
        stack.db.execute("SET GLOBAL default_password_lifetime = %s", (old,))
        stack.db.execute("ALTER USER root@localhost PASSWORD EXPIRE DEFAULT")


def test_privileges_only_from_a_default_role_rotate_three_times(stack):
    user, db, role = stack.app.username, stack.app.dbname, f"reporting{stack.n}"
    stack.db.execute(f"CREATE ROLE `{role}`")
    stack.db.execute(f"GRANT SELECT ON `{db}`.* TO `{role}`")
    stack.db.execute(f"GRANT `{role}` TO admin@'%' WITH ADMIN OPTION")  # the master may grant it
    stack.db.execute("REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@'%%'", (user,))
    stack.db.execute(f"GRANT `{role}` TO %s@'%%'", (user,))
    stack.db.execute(f"SET DEFAULT ROLE `{role}` FOR %s@'%%'", (user,))
    for _ in range(3):
        rotate(stack)
        current, _previous = both(stack)
        # After each flip the new current user runs its queries (through its default role only).
        assert outcome(stack, current, f"SELECT COUNT(*) FROM `{db}`.`items`") == "ok [(2,)]"
        assert outcome(stack, current, "SELECT CURRENT_ROLE()") == f"ok [('{role}',)]"
        assert_same_abilities(stack, probes(stack))
    # The source keeps exactly its own default role: nothing was replayed against it.
    rows = stack.db.execute("SELECT User, default_role FROM mysql.user WHERE User LIKE %s", (f"{user}%",))
    assert sorted(rows) == [(user, role), (f"{user}_green", role)]


def test_a_default_role_removed_from_the_source_is_removed_from_the_partner(stack):
    user, db, role = stack.app.username, stack.app.dbname, f"extra{stack.n}"
    stack.db.execute(f"CREATE ROLE `{role}`")
    stack.db.execute(f"GRANT SELECT ON mysql.user TO `{role}`")
    stack.db.execute(f"GRANT `{role}` TO admin@'%' WITH ADMIN OPTION")
    stack.db.execute(f"GRANT `{role}` TO %s@'%%' WITH ADMIN OPTION", (user,))
    stack.db.execute(f"SET DEFAULT ROLE `{role}` FOR %s@'%%'", (user,))
    rotate(stack)  # green gets the role, its admin option and the default role
    rotate(stack)  # back to blue
    current, _ = both(stack)
    assert current["username"] == user
    stack.db.execute("SET DEFAULT ROLE NONE FOR %s@'%%'", (user,))
    stack.db.execute(f"REVOKE `{role}` FROM %s@'%%'", (user,))
    rotate(stack)  # green must lose both
    seen = assert_same_abilities(stack, probes(stack))
    assert seen["SELECT CURRENT_ROLE()"] == "ok [(None,)]"
    assert seen["SELECT COUNT(*) FROM mysql.user"] == "error 1142"
    assert seen[f"SELECT COUNT(*) FROM `{db}`.`items`"] == "ok [(2,)]"


def test_limits_with_max_statement_time_are_copied_compared_and_resynced(stack):
    user, db = stack.app.username, stack.app.dbname
    stack.db.execute("GRANT PROCESS ON *.* TO %s@'%%'", (user,))  # a global privilege, as in the issue
    stack.db.execute(f"CREATE PROCEDURE `{db}`.`touch`() SELECT 1")
    stack.db.execute(f"GRANT EXECUTE ON PROCEDURE `{db}`.`touch` TO %s@'%%'", (user,))  # routine level
    stack.db.execute(
        "ALTER USER %s@'%%' WITH MAX_USER_CONNECTIONS 2 MAX_QUERIES_PER_HOUR 100 MAX_STATEMENT_TIME 1",
        (user,),
    )
    call = f"CALL `{db}`.`touch`()"
    rotate(stack)
    green = f"{user}_green"
    assert create_user_text(stack, green) == create_user_text(stack, user)
    assert "MAX_STATEMENT_TIME 1.000000" in create_user_text(stack, green)
    seen = assert_same_abilities(stack, probes(stack, "SHOW ENGINE INNODB STATUS", call))
    assert seen["SELECT @@max_statement_time"] == "ok [(1.0,)]"
    assert seen["SHOW ENGINE INNODB STATUS"] == "ok"
    assert seen[call] == "ok [(1,)]"
    # The source (now green, the current user) changes: a limit removed, another changed, privileges gone.
    stack.db.execute("ALTER USER %s@'%%' WITH MAX_USER_CONNECTIONS 0 MAX_STATEMENT_TIME 2", (green,))
    stack.db.execute("REVOKE PROCESS ON *.* FROM %s@'%%'", (green,))
    stack.db.execute(f"REVOKE EXECUTE ON PROCEDURE `{db}`.`touch` FROM %s@'%%'", (green,))
    rotate(stack)
    assert create_user_text(stack, user) == create_user_text(stack, green)
    assert "MAX_USER_CONNECTIONS" not in create_user_text(stack, user)
    seen = assert_same_abilities(stack, probes(stack, "SHOW ENGINE INNODB STATUS", call))
    assert seen["SELECT @@max_statement_time"] == "ok [(2.0,)]"
    assert seen["SHOW ENGINE INNODB STATUS"] == "error 1227"
    assert seen[call] == "error 1370"


def test_password_expire_never_survives_the_global_lifetime(stack):
    user, green = stack.app.username, f"{stack.app.username}_green"
    stack.db.execute("ALTER USER %s@'%%' PASSWORD EXPIRE NEVER", (user,))
    control = f"control{stack.n}"
    stack.db.execute(f"CREATE USER `{control}`@'%' IDENTIFIED BY 'control-Passw0rd'")
    with password_lifetime(stack, 30):
        rotate(stack)
        assert "PASSWORD EXPIRE NEVER" in create_user_text(stack, green)
        assert create_user_text(stack, green) == create_user_text(stack, user)
        # 31 days later (the change dates moved back): the control user, on the global policy,
        # is refused (1820: must change password); the partner still works like the source.
        for who in (user, green, control):
            stack.db.execute(
                "UPDATE mysql.global_priv SET Priv = JSON_SET(Priv, '$.password_last_changed', "
                "UNIX_TIMESTAMP() - 31 * 86400) WHERE User = %s",
                (who,),
            )
        stack.db.execute("FLUSH PRIVILEGES")
        control_secret = {"username": control, "password": "control-Passw0rd"}
        assert outcome(stack, control_secret, "SELECT 1") in ("error 1820", "login error 1862")
        seen = assert_same_abilities(stack, probes(stack))
        assert seen[f"SELECT COUNT(*) FROM `{stack.app.dbname}`.`items`"] == "ok [(2,)]"
    # The source's policy goes back to the default: re-synced at the next rotation.
    stack.db.execute("ALTER USER %s@'%%' PASSWORD EXPIRE DEFAULT", (green,))
    rotate(stack)
    assert "PASSWORD EXPIRE" not in create_user_text(stack, user)


def test_a_global_only_grant_option_is_copied_and_removed(stack):
    user, db = stack.app.username, stack.app.dbname
    stack.db.execute("GRANT GRANT OPTION ON *.* TO %s@'%%'", (user,))
    grantee = f"grantee{stack.n}"
    stack.db.execute(f"CREATE USER `{grantee}`@'%' IDENTIFIED BY 'grantee-Passw0rd'")
    rotate(stack)
    give = f"GRANT SELECT ON `{db}`.* TO `{grantee}`@'%'"
    seen = assert_same_abilities(stack, [*probes(stack), give])
    assert seen[give] == "ok []"
    current, _ = both(stack)
    stack.db.execute("REVOKE GRANT OPTION ON *.* FROM %s@'%%'", (current["username"],))
    rotate(stack)
    seen = assert_same_abilities(stack, [*probes(stack), give])
    assert seen[give] == "error 1044"


def test_an_ed25519_source_gives_an_ed25519_partner(stack):
    if not stack.db.execute("SELECT 1 FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519'"):
        stack.db.execute("INSTALL SONAME 'auth_ed25519'")  # shipped by Debian's mariadb-server
    user = stack.app.username
    current = secret_value(stack)
    stack.db.execute(
        "ALTER USER %s@'%%' IDENTIFIED VIA ed25519 USING PASSWORD(%s)", (user, current["password"])
    )
    for _ in range(2):
        rotate(stack)
        plugins = stack.db.execute(
            "SELECT User, JSON_VALUE(Priv, '$.plugin') FROM mysql.global_priv WHERE User IN (%s, %s)",
            (user, f"{user}_green"),
        )
        assert {p for _, p in plugins} == {"ed25519"}
        seen = assert_same_abilities(stack, probes(stack))
        assert seen[f"SELECT COUNT(*) FROM `{stack.app.dbname}`.`items`"] == "ok [(2,)]"


def adopted(stack: Any) -> str:
    """Rotates once (adoption: the mirror is complete from now on) and returns the current user."""
    rotate(stack)
    return str(secret_value(stack)["username"])


def test_a_proxy_grant_the_master_lacks_is_refused_then_copied_once_it_holds_it(stack):
    user, target = adopted(stack), f"proxied{stack.n}"
    partner = secret_value(stack, "AWSPREVIOUS")["username"]
    stack.db.execute(f"CREATE USER `{target}`@'%'")
    stack.db.execute(f"GRANT PROXY ON `{target}`@'%%' TO %s@'%%'", (user,))
    error = str(refused_set_secret(stack))
    assert f"GRANT PROXY ON `{target}`@`%` TO '{user}'@'%'" in error
    assert "lacks PROXY ON" in error
    assert "WITH GRANT OPTION" in error
    assert f"REVOKE PROXY ON `{target}`@`%` FROM '{user}'@'%'" in error
    stack.db.execute(f"GRANT PROXY ON `{target}`@'%' TO admin@'%' WITH GRANT OPTION")  # the fix
    finish_pending(stack)
    rows = stack.db.execute("SHOW GRANTS FOR %s@'%%'", (partner,))
    assert f"GRANT PROXY ON `{target}`@`%` TO `{partner}`@`%`" in [r[0] for r in rows]
    assert_same_abilities(stack, probes(stack))


@pytest.mark.parametrize("dropped", ["table", "column"])
def test_a_grant_on_a_dropped_object_is_refused_naming_the_fix(stack, dropped):
    user, db = adopted(stack), stack.app.dbname
    stack.db.execute(f"CREATE TABLE `{db}`.`old` (a INT, c INT)")
    grant = "SELECT" if dropped == "table" else "SELECT (`c`)"
    stack.db.execute(f"GRANT {grant.replace('`', '')} ON `{db}`.`old` TO %s@'%%'", (user,))
    if dropped == "table":
        stack.db.execute(f"DROP TABLE `{db}`.`old`")
    else:
        stack.db.execute(f"ALTER TABLE `{db}`.`old` DROP COLUMN c")
    error = str(refused_set_secret(stack))
    fix = f"REVOKE {grant} ON `{db}`.`old` FROM '{user}'@'%'"
    assert fix in error
    assert ("the table no longer exists" if dropped == "table" else "column 'c'") in error
    stack.db.execute(fix)  # the operator applies the fix the error names
    finish_pending(stack)
    assert_same_abilities(stack, probes(stack))


def test_a_role_the_master_cannot_grant_is_refused(stack):
    user, role = adopted(stack), f"locked{stack.n}"
    stack.db.execute(f"CREATE ROLE `{role}`")  # root holds it; the master user does not
    stack.db.execute(f"GRANT `{role}` TO %s@'%%'", (user,))
    error = str(refused_set_secret(stack))
    assert f"GRANT `{role}` TO '{user}'@'%'" in error
    assert "WITH ADMIN OPTION" in error
    assert f"REVOKE `{role}` FROM '{user}'@'%'" in error


def test_a_partner_with_another_host_part_is_refused_until_it_matches(stack):
    user = adopted(stack)
    partner = secret_value(stack, "AWSPREVIOUS")["username"]
    stack.db.execute("RENAME USER %s@'%%' TO %s@'10.%%'", (partner, partner))
    error = str(refused_set_secret(stack))
    assert f"user '{partner}' exists with host '10.%' but '{user}' has '%'" in error
    stack.db.execute("RENAME USER %s@'10.%%' TO %s@'%%'", (partner, partner))  # the fix the error names
    finish_pending(stack)
    assert_same_abilities(stack, probes(stack))


def test_testsecret_names_a_difference_made_behind_its_back(stack):
    """A partner changed between setSecret and testSecret fails testSecret, naming the property."""
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret", "setSecret"))
    green = f"{stack.app.username}_green"
    stack.db.execute("ALTER USER %s@'%%' WITH MAX_QUERIES_PER_HOUR 7", (green,))
    with pytest.raises(DatabaseError, match=r"limit MAX_QUERIES_PER_HOUR: .* none, .* 7"):
        driver.run_steps(stack.app.secret_arn, token, steps=("testSecret",))
    stack.db.execute(f"GRANT SELECT ON mysql.db TO `{green}`@'%'")
    with pytest.raises(DatabaseError, match=r"privileges on `mysql`.`db`.*session grant only"):
        driver.run_steps(stack.app.secret_arn, token, steps=("testSecret",))


def test_an_outage_of_awscurrent_does_not_block_the_flip_that_ends_it(stack, caplog):
    """AWSCURRENT's password changed by hand (consumers fail): testSecret cannot open a session as it,
    so it compares the account profiles alone, warns, and the rotation moves consumers to the partner."""
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token, steps=("createSecret", "setSecret"))
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (stack.app.username, "changed-by-hand-1"))
    driver.run_steps(stack.app.secret_arn, token, steps=("testSecret", "finishSecret"))
    assert "comparing account profiles only" in caplog.text
    current = secret_value(stack)
    assert current["username"] == f"{stack.app.username}_green"
    assert outcome(stack, current, "SELECT CURRENT_USER()").startswith("ok")
    # The profiles are still compared: with AWSCURRENT broken again, a difference still fails testSecret.
    token2 = driver.start(stack.app.secret_arn)
    driver.run_steps(stack.app.secret_arn, token2, steps=("createSecret", "setSecret"))
    stack.db.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (current["username"], "changed-by-hand-2"))
    stack.db.execute(f"GRANT SELECT ON mysql.db TO `{stack.app.username}`@'%'")
    with pytest.raises(DatabaseError, match=r"privileges on `mysql`.`db`"):
        driver.run_steps(stack.app.secret_arn, token2, steps=("testSecret",))


def test_the_services_configuration_test_only_logs_in_as_the_current_user(stack):
    """RotateImmediately=false: AWSPENDING holds AWSCURRENT's user; testSecret logs in, nothing else
    (not even as the master user, whose secret is made unusable here to prove it)."""
    import json

    rotate(stack)
    current = secret_value(stack)
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    token = driver.start(stack.app.secret_arn)
    stack.secretsmanager.put_secret_value(
        SecretId=stack.app.secret_arn,
        ClientRequestToken=token,
        SecretString=json.dumps(current),
        VersionStages=["AWSPENDING"],
    )
    stack.secretsmanager.put_secret_value(
        SecretId=stack.app.master_arn, SecretString=json.dumps({"username": "admin", "password": "wrong"})
    )
    before = snapshot(stack)
    driver.run_steps(stack.app.secret_arn, token, steps=("testSecret",))
    assert snapshot(stack) == before
