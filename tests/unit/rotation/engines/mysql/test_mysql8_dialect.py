"""The MySQL 8.0 / Aurora MySQL 3 dialect against recorded server output.

MySQL 8 cannot run on these machines, so tests/fixtures/mysql8/*.result hold its output in the format
of MySQL's own test suite, each citing the mysql-test file and manual page it follows (see that
folder's README). Each test parses a fixture's output into account profiles and checks what the
dialect would send: default roles set FOR the partner, partial revokes re-applied to the partner after
its global grants, the source's authentication plugin kept, limits and policies re-synced, and never a
statement aimed at the source or a hash in a profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bluegreen_rotation.engines.base import SessionFacts
from bluegreen_rotation.engines.mysql.dialects import MariaDBDialect, MySQL8Dialect, Statement, dialect_for
from bluegreen_rotation.engines.mysql.dialects.mysql8 import role_name
from bluegreen_rotation.engines.mysql.plan import plan
from bluegreen_rotation.engines.mysql.profile import (
    Account,
    AccountProfile,
    Priv,
    as_set,
    normalize_session_grant,
)

FIXTURES = Path(__file__).resolve().parents[4] / "fixtures" / "mysql8"
MYSQL = MySQL8Dialect()
BLUE, GREEN = Account("app_blue", "%"), Account("app_green", "%")


@dataclass
class Result:
    connection: str
    statement: str
    header: list[str] | None = None
    rows: list[list[str]] = field(default_factory=list)
    error: str | None = None


def read_result(name: str) -> list[Result]:
    """A .result file as (statement, output) pairs, per the format in the folder's README."""
    lines = (FIXTURES / name).read_text().splitlines()
    out: list[Result] = []
    connection, i = "default", 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("[connection "):
            connection = line[len("[connection ") : -1]
            continue
        assert line.endswith(";"), f"{name}: expected a statement, got {line!r}"
        block = []
        while i < len(lines) and lines[i] and not lines[i].startswith(("#", "[connection ")):
            if lines[i].endswith(";"):
                break
            block.append(lines[i])
            i += 1
        result = Result(connection, line[:-1])
        if block and block[0].startswith("ERROR "):
            result.error = block[0]
        elif block and line.upper().startswith(("SELECT", "SHOW")):
            body = block[1:]
            if "Warnings:" in body:
                body = body[: body.index("Warnings:")]
            result.header = block[0].split("\t")
            result.rows = [r.split("\t") for r in body]
        out.append(result)
    return out


def outputs(name: str, statement: str) -> list[list[str]]:
    """The first column of each result of ``statement`` (in file order)."""
    return [[r[0] for r in res.rows] for res in read_result(name) if res.statement == statement]


def default_role_rows(name: str, user: str) -> list[str]:
    """Default roles from ``SELECT * FROM mysql.default_roles`` rows, as the accounts query reads them."""
    for res in read_result(name):
        if res.statement.startswith("SELECT * FROM mysql.default_roles") and res.header:
            cols = res.header
            return [
                role_name(r[cols.index("DEFAULT_ROLE_USER")], r[cols.index("DEFAULT_ROLE_HOST")])
                for r in res.rows
                if r[cols.index("USER")] == user
            ]
    return []


def profile(name: str, account: Account, grants_at: int = 0, create_at: int = 0) -> AccountProfile:
    grants = outputs(name, f"SHOW GRANTS FOR `{account.user}`@`{account.host}`")
    created = outputs(name, f"SHOW CREATE USER `{account.user}`@`{account.host}`")
    return MYSQL.parse(
        grants[grants_at] if grants else ["GRANT USAGE ON *.* TO `x`@`%`"],
        created[create_at] if created else [],
    )


def statements(have: AccountProfile, want: AccountProfile, target: Account = GREEN) -> list[Statement]:
    return [MYSQL.render(c, target) for c in plan(have, want, MYSQL.limit_names)]


def fresh_partner() -> AccountProfile:
    return MYSQL.parse(["GRANT USAGE ON *.* TO `app_green`@`%`"], [])


def assert_aimed_at_partner(sql: list[Statement]) -> None:
    for s in sql:
        assert s.args[:2] == ("app_green", "%"), s
        assert "app_blue" not in s.sql, s


def test_both_servers_are_told_apart_by_their_version_string():
    versions = [
        res.rows[0][0]
        for name in ("variables_aurora3.result", "variables_mysql80.result")
        for res in read_result(name)
        if res.statement.startswith("SELECT VERSION()") and res.rows
    ]
    assert len(versions) == 2
    for version in versions:
        assert isinstance(dialect_for(version), MySQL8Dialect)
    assert isinstance(dialect_for("5.5.5-10.11.6-MariaDB-0+deb12u1"), MariaDBDialect)
    with pytest.raises(ValueError, match="unsupported"):
        dialect_for("5.7.44")


def test_default_roles_are_read_from_mysql_default_roles_and_set_for_the_partner():
    name = "show_grants_roles_default_role.result"
    blue_grants = outputs(name, "SHOW GRANTS FOR `app_blue`@`%`")[0]
    blue = MYSQL.parse(blue_grants, [], default_role_rows(name, "app_blue"))
    assert blue.roles == {"`reporting`@`%`": False}
    assert blue.default_roles == ("`reporting`@`%`",)
    # The same default role from SHOW CREATE USER's DEFAULT ROLE clause.
    assert profile(name, BLUE).default_roles == ("`reporting`@`%`",)
    # The partner rebuilt from SHOW GRANTS text: same text, no default role; named as a difference.
    green = profile(name, GREEN)
    assert green.roles == blue.roles
    assert green.default_roles == ()
    assert any(d.startswith("default roles:") for d in blue.differences(green, mine="a", theirs="b"))
    sql = statements(green, blue)
    assert sql == [Statement("ALTER USER %s@%s DEFAULT ROLE `reporting`@`%%`", ("app_green", "%"))]
    assert_aimed_at_partner(sql)
    # After the fix, the recorded partner equals the source; a role dropped from the source is cleared.
    fixed = profile(name, GREEN, create_at=1)
    assert not profile(name, BLUE).differences(fixed, mine="a", theirs="b")
    assert statements(fixed, MYSQL.parse(blue_grants, [])) == [
        Statement("ALTER USER %s@%s DEFAULT ROLE NONE", ("app_green", "%"))
    ]


def test_roles_with_admin_option_and_set_default_role_all():
    name = "role_with_admin_option.result"
    blue = MYSQL.parse(
        outputs(name, "SHOW GRANTS FOR `app_blue`@`%`")[0],
        outputs(name, "SHOW CREATE USER `app_blue`@`%`")[0],
        default_role_rows(name, "app_blue"),
    )
    assert blue.roles == {"`reporting`@`%`": False, "`writer`@`%`": False, "`ops_admin`@`%`": True}
    # ALL is stored as one row per role: the rows are copied, not the word.
    assert blue.default_roles == ("`ops_admin`@`%`", "`reporting`@`%`", "`writer`@`%`")
    sql = statements(fresh_partner(), blue)
    assert Statement("GRANT `ops_admin`@`%%` TO %s@%s WITH ADMIN OPTION", ("app_green", "%")) in sql
    assert Statement("GRANT `writer`@`%%` TO %s@%s", ("app_green", "%")) in sql
    default = [s for s in sql if "DEFAULT ROLE" in s.sql]
    assert default == [
        Statement(
            "ALTER USER %s@%s DEFAULT ROLE `ops_admin`@`%%`, `reporting`@`%%`, `writer`@`%%`",
            ("app_green", "%"),
        )
    ]
    assert sql.index(default[0]) > max(i for i, s in enumerate(sql) if s.sql.startswith("GRANT `"))
    assert_aimed_at_partner(sql)


def test_a_master_without_role_admin_cannot_grant_an_admin_role():
    master = MYSQL.parse(["GRANT SELECT, CREATE USER ON *.* TO `rotator`@`%` WITH GRANT OPTION"], [])
    assert MYSQL.master_can_grant_role(master, "`ops_admin`@`%`") is False
    aurora_master = MYSQL.parse(
        [
            "GRANT SELECT ON *.* TO `admin`@`%` WITH GRANT OPTION",
            "GRANT `rds_superuser_role`@`%` TO `admin`@`%`",
        ],
        [],
    )
    assert MYSQL.master_can_grant_role(aurora_master, "`ops_admin`@`%`") is None  # cannot tell
    role_admin = MYSQL.parse(["GRANT ROLE_ADMIN ON *.* TO `rotator`@`%`"], [])
    assert MYSQL.master_can_grant_role(role_admin, "`ops_admin`@`%`") is True


def test_partial_revokes_are_reapplied_to_the_partner_after_its_global_grant():
    name = "partial_revokes.result"
    blue = profile(name, BLUE, grants_at=1)
    assert blue.partial_revokes == {
        "`billing`.*": frozenset({Priv("SELECT"), Priv("INSERT")}),
        "`mysql`.*": frozenset({Priv("INSERT")}),
    }
    sql = statements(fresh_partner(), blue)
    assert sql == [
        Statement("GRANT INSERT, SELECT ON *.* TO %s@%s", ("app_green", "%")),
        Statement("GRANT UPDATE ON `appdb`.* TO %s@%s", ("app_green", "%")),
        Statement("REVOKE INSERT, SELECT ON `billing`.* FROM %s@%s", ("app_green", "%")),
        Statement("REVOKE INSERT ON `mysql`.* FROM %s@%s", ("app_green", "%")),
    ]
    assert_aimed_at_partner(sql)
    # The partner as recorded after the replay equals the source's first state.
    first = profile(name, BLUE, grants_at=0)
    replayed = profile(name, GREEN, grants_at=0)
    assert not first.differences(replayed, mine="a", theirs="b")
    # A restriction the source no longer has is lifted with a schema GRANT (recorded: it lifts it).
    unrestricted = profile(name, GREEN, grants_at=1)
    assert statements(replayed, unrestricted) == [
        Statement("GRANT INSERT ON `mysql`.* TO %s@%s", ("app_green", "%"))
    ]
    # A restriction whose global privilege is revoked vanishes with it: nothing to lift.
    nothing = MYSQL.parse(["GRANT USAGE ON *.* TO `app_blue`@`%`"], [])
    assert [s.sql for s in statements(replayed, nothing)] == ["REVOKE INSERT, SELECT ON *.* FROM %s@%s"]


def test_the_source_plugin_is_kept_and_never_its_hash():
    name = "show_create_user_aurora_auth.result"
    blue = profile(name, BLUE)
    assert blue.plugins == ("mysql_native_password",)  # Aurora MySQL 3's default
    sha2 = MYSQL.parse([], ["CREATE USER `app_blue`@`%` IDENTIFIED WITH 'caching_sha2_password' AS 'x'"])
    partner = profile(name, GREEN)  # created with the server default
    assert any(d.startswith("authentication plugin") for d in sha2.differences(partner, mine="a", theirs="b"))
    assert MYSQL.password_statement(GREEN, MYSQL.plugin_of(sha2), "pw") == Statement(
        "ALTER USER %s@%s IDENTIFIED WITH caching_sha2_password BY %s", ("app_green", "%", "pw")
    )
    assert not blue.differences(profile(name, GREEN, create_at=0), mine="a", theirs="b")
    assert profile(name, GREEN, create_at=1).plugins == ("caching_sha2_password",)
    for n in FIXTURES.glob("*.result"):
        for res in read_result(n.name):
            if res.statement.startswith("SHOW CREATE USER") and res.rows:
                parsed = MYSQL.parse([], [r[0] for r in res.rows])
                assert "FIXTURE-FAKE" not in repr(parsed)
                assert "*0000" not in repr(parsed)


def test_caching_sha2_forms_hex_escaped_and_without_password_parse():
    for rows in outputs("show_create_user_caching_sha2.result", "SHOW CREATE USER `app_blue`@`%`"):
        parsed = MYSQL.parse([], rows)
        assert parsed.plugins == ("caching_sha2_password",)
        assert parsed.policy == MYSQL.policy_defaults


def test_an_iam_account_is_refused_with_the_fix_named():
    iam = profile("show_create_user_aurora_auth.result", Account("app_iam", "%"))
    assert iam.plugins == ("AWSAuthenticationPlugin",)
    problems = MYSQL.plugin_problems(iam, Account("app_iam", "%"))
    assert problems
    assert "AWSAuthenticationPlugin" in problems[0]
    assert "IDENTIFIED WITH" in problems[0]


def test_tls_requirements_are_copied_with_bound_values():
    name = "show_create_user_tls.result"
    forms = [MYSQL.parse([], rows) for rows in outputs(name, "SHOW CREATE USER `app_blue`@`%`")]
    assert [f.require for f in forms] == [
        (("SSL", ""),),
        (("X509", ""),),
        (
            ("SUBJECT", "/C=US/O=Example Corp/CN=app_blue"),
            ("ISSUER", "/C=US/O=Example Corp/CN=Example Issuing CA"),
            ("CIPHER", "ECDHE-RSA-AES256-GCM-SHA384"),
        ),
        (("CIPHER", "ECDHE-RSA-AES256-GCM-SHA384"),),
        (),
    ]
    sql = statements(fresh_partner(), forms[2])
    assert sql == [
        Statement(
            "ALTER USER %s@%s REQUIRE SUBJECT %s AND ISSUER %s AND CIPHER %s",
            (
                "app_green",
                "%",
                "/C=US/O=Example Corp/CN=app_blue",
                "/C=US/O=Example Corp/CN=Example Issuing CA",
                "ECDHE-RSA-AES256-GCM-SHA384",
            ),
        )
    ]
    assert statements(forms[2], forms[4]) == [Statement("ALTER USER %s@%s REQUIRE NONE", ("app_green", "%"))]


def test_limits_are_copied_and_a_removed_limit_is_set_to_zero():
    forms = [
        MYSQL.parse([], rows)
        for rows in outputs("show_create_user_limits.result", "SHOW CREATE USER `app_blue`@`%`")
    ]
    assert forms[0].limits == {"MAX_QUERIES_PER_HOUR": 100, "MAX_USER_CONNECTIONS": 2}
    assert statements(fresh_partner(), forms[1]) == [
        Statement(
            "ALTER USER %s@%s WITH MAX_QUERIES_PER_HOUR %s MAX_UPDATES_PER_HOUR %s"
            " MAX_CONNECTIONS_PER_HOUR %s MAX_USER_CONNECTIONS %s",
            ("app_green", "%", 100, 50, 20, 2),
        )
    ]
    assert statements(forms[1], forms[2]) == [
        Statement(
            "ALTER USER %s@%s WITH MAX_QUERIES_PER_HOUR %s MAX_UPDATES_PER_HOUR %s MAX_CONNECTIONS_PER_HOUR %s",
            ("app_green", "%", 0, 0, 0),
        )
    ]
    assert forms[3].limits == {}
    assert "MAX_STATEMENT_TIME" not in MYSQL.limit_names  # MariaDB only: a syntax error on MySQL 8


def test_password_policy_lock_and_failed_login_are_copied():
    forms = [
        MYSQL.parse([], rows)
        for rows in outputs("show_create_user_password_policy.result", "SHOW CREATE USER `app_blue`@`%`")
    ]
    assert forms[0].policy["PASSWORD EXPIRE"] == "NEVER"
    assert forms[1].policy["PASSWORD EXPIRE"] == "INTERVAL 90 DAY"
    assert forms[2].policy["ACCOUNT"] == "LOCK"
    assert forms[3].policy["PASSWORD HISTORY"] == "5"
    assert forms[3].policy["PASSWORD REUSE INTERVAL"] == "365 DAY"
    assert forms[3].policy["PASSWORD REQUIRE CURRENT"] == ""
    assert forms[4].policy["PASSWORD REQUIRE CURRENT"] == "OPTIONAL"
    assert (forms[5].policy["FAILED_LOGIN_ATTEMPTS"], forms[5].policy["PASSWORD_LOCK_TIME"]) == ("3", "2")
    assert forms[6].policy["PASSWORD_LOCK_TIME"] == "UNBOUNDED"
    assert forms[7].policy == forms[6].policy  # COMMENT / ATTRIBUTE: metadata, not compared
    assert forms[8].expired  # an expired password: state, not profile (a new password clears it)
    sql = statements(fresh_partner(), forms[6])
    assert sql == [
        Statement("ALTER USER %s@%s FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME UNBOUNDED", GREEN_ARGS)
    ]
    sql = statements(forms[6], forms[3])
    assert sql == [
        Statement(
            "ALTER USER %s@%s FAILED_LOGIN_ATTEMPTS 0 PASSWORD HISTORY 5 PASSWORD REQUIRE CURRENT"
            " PASSWORD REUSE INTERVAL 365 DAY PASSWORD_LOCK_TIME 0",
            GREEN_ARGS,
        )
    ]
    assert statements(fresh_partner(), forms[0]) == [
        Statement("ALTER USER %s@%s PASSWORD EXPIRE NEVER", GREEN_ARGS)
    ]


GREEN_ARGS = ("app_green", "%")


def test_every_privilege_level_is_copied_line_for_line():
    name = "show_grants_privilege_levels.result"
    blue = profile(name, BLUE, grants_at=1)
    props = blue.properties()
    assert props["privileges on *.*"] == "BACKUP_ADMIN, CONNECTION_ADMIN, PROCESS"
    assert props["privileges on *.* WITH GRANT OPTION"] == "XA_RECOVER_ADMIN"
    assert props["privileges on `appdb_archive`.*"] == "ALL PRIVILEGES"
    assert props["privileges on `app\\_%`.*"] == "SELECT"
    assert props["privileges on `appdb`.`orders`"] == "SELECT, UPDATE (`status`)"
    assert props["privileges on PROCEDURE `appdb`.`refresh_totals`"] == "EXECUTE"
    assert props["proxy `app_proxied`@`%`"] == "granted"
    assert props["role `ops_admin`@`%`"] == "granted WITH ADMIN OPTION"
    sql = statements(fresh_partner(), blue)
    assert sql[0] == Statement("GRANT BACKUP_ADMIN, CONNECTION_ADMIN, PROCESS ON *.* TO %s@%s", GREEN_ARGS)
    assert sql[1] == Statement("GRANT XA_RECOVER_ADMIN ON *.* TO %s@%s WITH GRANT OPTION", GREEN_ARGS)
    assert Statement("GRANT SELECT ON `app\\_%%`.* TO %s@%s", GREEN_ARGS) in sql
    assert Statement("GRANT SELECT, UPDATE (`status`) ON `appdb`.`orders` TO %s@%s", GREEN_ARGS) in sql
    assert Statement("GRANT PROXY ON `app_proxied`@`%%` TO %s@%s", GREEN_ARGS) in sql
    assert_aimed_at_partner(sql)
    # The grant on the dropped table is still printed: it is checked before anything changes.
    dropped = profile(name, BLUE, grants_at=2)
    from bluegreen_rotation.engines.mysql.profile import referenced_objects

    refs = {(r.kind, r.schema, r.name, r.column) for r in referenced_objects(dropped)}
    assert ("table", "appdb", "orders_old", "") in refs
    assert ("column", "billing", "invoices", "total") in refs
    assert ("procedure", "appdb", "refresh_totals", "") in refs
    assert ("function", "appdb", "order_total", "") in refs
    rotator = MYSQL.parse(["GRANT SELECT, CREATE USER ON *.* TO `rotator`@`%` WITH GRANT OPTION"], [])
    assert not MYSQL.master_can_grant_proxy(rotator, "`app_proxied`@`%`")
    root = MYSQL.parse(["GRANT PROXY ON ``@`` TO `root`@`localhost` WITH GRANT OPTION"], [])
    assert MYSQL.master_can_grant_proxy(root, "`app_proxied`@`%`")


def _grant_level(on: str) -> int:
    """Where mysql_show_grants prints an object grant: its make_*_privilege_statement call's rank."""
    if on == "*.*":
        return 0
    if on.startswith("PROCEDURE "):
        return 3
    if on.startswith("FUNCTION "):
        return 4
    return 1 if on.endswith("`.*") else 2


def test_schema_lines_are_parsed_in_the_order_mysql_prints_them():
    """MySQL prints the schemas without '_' or '%' in their stored name first, then those with
    (wildcards under partial_revokes=OFF, a real '_' included), each group sorted bytewise by that
    name (sql/auth/sql_authorization.cc: get_database_access_map, make_database_privilege_statement).
    The parser keeps the lines' order, so every SHOW GRANTS of the fixture must come out that way."""
    name = "show_grants_privilege_levels.result"
    outs = outputs(name, "SHOW GRANTS FOR `app_blue`@`%`")
    assert len(outs) == 3
    for rows in outs:
        parsed = MYSQL.parse(rows, [])
        schemas = [on[1:-3] for on, _option in parsed.grants if on.endswith("`.*")]
        plain = sorted((s for s in schemas if not {"_", "%"} & set(s)), key=str.encode)
        wild = sorted((s for s in schemas if {"_", "%"} & set(s)), key=str.encode)
        assert schemas == plain + wild == ["appdb", "app\\_%", "appdb_archive"], rows
        # and the levels in MySQL's call order: global, schemas, tables, procedures, functions
        levels = [_grant_level(on) for on, _option in parsed.grants]
        assert levels == sorted(levels), list(parsed.grants)


def test_a_global_only_grant_option_is_a_privilege():
    outs = outputs("show_grants_global_grant_option.result", "SHOW GRANTS FOR `app_blue`@`%`")
    forms = [MYSQL.parse(rows, []) for rows in outs]
    assert forms[1].properties()["privileges on *.* WITH GRANT OPTION"] == "USAGE"
    assert statements(forms[0], forms[1]) == [
        Statement("GRANT USAGE ON *.* TO %s@%s WITH GRANT OPTION", GREEN_ARGS)
    ]
    assert statements(forms[2], forms[3]) == [Statement("REVOKE GRANT OPTION ON *.* FROM %s@%s", GREEN_ARGS)]


def session_of(results: list[Result], connection: str) -> SessionFacts:
    mine = [r for r in results if r.connection == connection]
    probe = next(r for r in mine if r.statement.startswith("SELECT CURRENT_USER(), CURRENT_ROLE()"))
    user, role = probe.rows[0]
    name, _, host = user.rpartition("@")
    grants = [g[0] for r in mine if r.statement == "SHOW GRANTS" for g in r.rows]
    lines = frozenset(normalize_session_grant(g, Account(name, host)) for g in grants)
    return SessionFacts({"active roles": as_set(role)}, lines)


def test_sessions_of_a_partner_without_its_default_role_differ():
    results = read_result("session_roles.result")
    blue, green = session_of(results, "app_blue"), session_of(results, "app_green")
    diffs = blue.differences(green, mine="'app_blue'", theirs="'app_green'")
    assert "session active roles: 'app_blue' `reporting`@`%`, 'app_green' NONE" in diffs
    assert "session grant only 'app_blue' has: GRANT SELECT ON `appdb`.* TO {user}" in diffs
    # With every granted role active at login the two sessions report the same roles.
    assert session_of(results, "app_green_2").values == blue.values
    assert as_set("`writer`@`%`,`reporting`@`%`") == as_set("`reporting`@`%`,`writer`@`%`")
