"""Grant text handling on the shapes MariaDB 10.11 and MySQL 8 / Aurora MySQL 3 print."""

from __future__ import annotations

import pytest

from bluegreen_rotation.database import Account, normalize_grant, revoke_statements

APP = Account("app", "%")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # MariaDB: the USAGE line carries the password hash and TLS/limits; all cut.
        (
            "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*0123456789ABCDEF'",
            "GRANT USAGE ON *.* TO {grantee}",
        ),
        (
            "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*ABC' REQUIRE SSL",
            "GRANT USAGE ON *.* TO {grantee}",
        ),
        (
            "GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED VIA ed25519 USING 'xyz' WITH MAX_USER_CONNECTIONS 5",
            "GRANT USAGE ON *.* TO {grantee}",
        ),
        # MySQL 8: no IDENTIFIED clause at all.
        ("GRANT USAGE ON *.* TO `app`@`%`", "GRANT USAGE ON *.* TO {grantee}"),
        # Escaped wildcard databases stay exactly as the server printed them.
        ("GRANT SELECT ON `app\\_archive`.* TO `app`@`%`", "GRANT SELECT ON `app\\_archive`.* TO {grantee}"),
        (
            "GRANT SELECT, INSERT ON `db`.* TO `app`@`%` WITH GRANT OPTION",
            "GRANT SELECT, INSERT ON `db`.* TO {grantee} WITH GRANT OPTION",
        ),
        # MySQL 5.7-style quoting.
        ("GRANT SELECT ON `db`.`t` TO 'app'@'%'", "GRANT SELECT ON `db`.`t` TO {grantee}"),
        ("GRANT `reporting` TO `app`@`%`", "GRANT `reporting` TO {grantee}"),
    ],
)
def test_normalize(line, expected):
    assert normalize_grant(line, APP) == expected


def test_a_different_user_is_not_replaced():
    assert normalize_grant("GRANT SELECT ON *.* TO `other`@`%`", APP) == "GRANT SELECT ON *.* TO `other`@`%`"


def test_revoke_statements():
    assert revoke_statements("GRANT USAGE ON *.* TO {grantee}") == []
    assert revoke_statements("GRANT SELECT, INSERT ON `db`.* TO {grantee} WITH GRANT OPTION") == [
        "REVOKE SELECT, INSERT ON `db`.* FROM {grantee}",
        "REVOKE GRANT OPTION ON `db`.* FROM {grantee}",
    ]
    assert revoke_statements("GRANT `reporting` TO {grantee}") == ["REVOKE `reporting` FROM {grantee}"]
