"""The account profile model on MariaDB 10.11's printed forms (observed on Debian's server)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bluegreen_rotation.engines.mysql.dialects import MariaDBDialect, Statement
from bluegreen_rotation.engines.mysql.plan import plan
from bluegreen_rotation.engines.mysql.profile import (
    Account,
    ProfileError,
    normalize_session_grant,
)

MARIADB = MariaDBDialect()
HASH = "*EC7E07243819C032A596331404674EC263F195D3"
SOURCE_GRANTS = [
    "GRANT `reporting` TO `app`@`%` WITH ADMIN OPTION",
    f"GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '{HASH}' REQUIRE SSL WITH GRANT OPTION "
    "MAX_QUERIES_PER_HOUR 100 MAX_USER_CONNECTIONS 2 MAX_STATEMENT_TIME 1.000000",
    "GRANT SELECT ON `appdb`.* TO `app`@`%` WITH GRANT OPTION",
    "GRANT SELECT (`a`, `b`), INSERT (`a`) ON `appdb`.`t` TO `app`@`%`",
    "GRANT SELECT ON `odd db`.`a TO b` TO `app`@`%`",
    "GRANT EXECUTE ON PROCEDURE `appdb`.`p` TO `app`@`%`",
    "GRANT PROXY ON `target`@`%` TO `app`@`%`",
    "SET DEFAULT ROLE `reporting` FOR `app`@`%`",
]
SOURCE_CREATE = [
    f"CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '{HASH}' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 100 "
    "MAX_USER_CONNECTIONS 2 MAX_STATEMENT_TIME 1.000000 ACCOUNT LOCK PASSWORD EXPIRE",
    "ALTER USER `app`@`%` PASSWORD EXPIRE INTERVAL 30 DAY",
]
PARTNER = Account("app_green", "%")


def test_everything_is_read_and_no_hash_is_kept():
    p = MARIADB.parse(SOURCE_GRANTS, SOURCE_CREATE)
    props = p.properties()
    assert props["privileges on *.* WITH GRANT OPTION"] == "USAGE"
    assert props["privileges on `appdb`.`t`"] == "INSERT (`a`), SELECT (`a`, `b`)"
    assert props["privileges on `odd db`.`a TO b`"] == "SELECT"
    assert props["role `reporting`"] == "granted WITH ADMIN OPTION"
    assert props["default roles"] == "`reporting`"
    assert props["proxy `target`@`%`"] == "granted"
    assert props["TLS requirement"] == "SSL"
    assert props["limit MAX_STATEMENT_TIME"] == "1"
    assert props["limit MAX_QUERIES_PER_HOUR"] == "100"
    assert props["PASSWORD EXPIRE"] == "INTERVAL 30 DAY"  # moved to the second row when expired
    assert props["ACCOUNT"] == "LOCK"
    assert props["authentication plugin"] == "mysql_native_password"
    assert p.expired
    assert HASH[1:9] not in repr(p)


def test_ed25519_and_chained_plugins():
    ed = MARIADB.parse([], ["CREATE USER `app`@`%` IDENTIFIED VIA ed25519 USING 'TB7OeeLPL56rakA3'"])
    assert ed.plugins == ("ed25519",)
    assert MARIADB.password_statement(PARTNER, "ed25519", "pw") == Statement(
        "ALTER USER %s@%s IDENTIFIED VIA ed25519 USING PASSWORD(%s)", ("app_green", "%", "pw")
    )
    chained = MARIADB.parse(
        [], ["CREATE USER `app`@`%` IDENTIFIED VIA mysql_native_password USING 'x' OR unix_socket"]
    )
    assert chained.plugins == ("mysql_native_password", "unix_socket")
    assert "several plugins" in MARIADB.plugin_problems(chained, Account("app", "%"))[0]
    socket = MARIADB.parse([], ["CREATE USER `app`@`%` IDENTIFIED VIA unix_socket"])
    assert "unix_socket" in MARIADB.plugin_problems(socket, Account("app", "%"))[0]


def test_the_plan_both_ways_aims_only_at_the_partner_with_percent_doubled():
    source = MARIADB.parse(SOURCE_GRANTS, SOURCE_CREATE)
    fresh = MARIADB.parse([f"GRANT USAGE ON *.* TO `app_green`@`%` IDENTIFIED BY PASSWORD '{HASH}'"], [])
    there = [MARIADB.render(c, PARTNER) for c in plan(fresh, source, MARIADB.limit_names)]
    back = [MARIADB.render(c, PARTNER) for c in plan(source, fresh, MARIADB.limit_names)]
    for s in there + back:
        assert s.args[:2] == ("app_green", "%")
        s.sql % tuple("x" for _ in s.args)  # pymysql's formatting accepts every template
    assert Statement("SET DEFAULT ROLE `reporting` FOR %s@%s", ("app_green", "%")) in there
    assert Statement("GRANT PROXY ON `target`@`%%` TO %s@%s", ("app_green", "%")) in there
    assert there[-1] == Statement(
        "ALTER USER %s@%s REQUIRE SSL WITH MAX_QUERIES_PER_HOUR %s MAX_USER_CONNECTIONS %s "
        "MAX_STATEMENT_TIME %s ACCOUNT LOCK PASSWORD EXPIRE INTERVAL 30 DAY",
        ("app_green", "%", 100, 2, 1),
    )
    assert Statement("SET DEFAULT ROLE NONE FOR %s@%s", ("app_green", "%")) in back
    assert back[-1].args == ("app_green", "%", 0, 0, 0)
    # Roles are granted before they become default and revoked after the default is cleared.
    kinds = [c.kind for c in plan(source, fresh, MARIADB.limit_names)]
    assert kinds.index("default_roles") < kinds.index("revoke_role")


def test_a_fractional_statement_time_is_bound_as_a_decimal():
    p = MARIADB.parse([], ["CREATE USER `a`@`%` WITH MAX_STATEMENT_TIME 0.500000"])
    assert p.limits == {"MAX_STATEMENT_TIME": Decimal("0.5")}
    (change,) = plan(MARIADB.parse([], []), p, MARIADB.limit_names)
    assert MARIADB.render(change, PARTNER).args == ("app_green", "%", Decimal("0.500000"))


def test_unknown_output_is_refused_without_quoting_it():
    with pytest.raises(ProfileError, match="unexpected clause 'SOMETHING'"):
        MARIADB.parse([], [f"CREATE USER `a`@`%` IDENTIFIED BY PASSWORD '{HASH}' SOMETHING NEW"])
    with pytest.raises(ProfileError) as info:
        MARIADB.parse([f"GRANT USAGE ON *.* `a`@`%` IDENTIFIED BY PASSWORD '{HASH}'"], [])
    assert HASH[1:9] not in str(info.value)


def test_session_grants_compare_across_users():
    line = f"GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '{HASH}' WITH MAX_USER_CONNECTIONS 2"
    assert normalize_session_grant(line, Account("app", "%")) == (
        "GRANT USAGE ON *.* TO {user} WITH MAX_USER_CONNECTIONS 2"
    )
    assert normalize_session_grant("SET DEFAULT ROLE `r` FOR `app`@`%`", Account("app", "%")) == (
        "SET DEFAULT ROLE `r` FOR {user}"
    )
    assert normalize_session_grant("GRANT SELECT ON `appdb`.* TO `r`", Account("app", "%")) == (
        "GRANT SELECT ON `appdb`.* TO `r`"
    )
