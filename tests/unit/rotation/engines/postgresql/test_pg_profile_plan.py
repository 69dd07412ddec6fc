"""The PostgreSQL profile model and its plan, without a server: rows in, statements out."""

from __future__ import annotations

import pytest

from bluegreen_rotation.engines.postgresql.plan import plan, split_list_setting
from bluegreen_rotation.engines.postgresql.profile import (
    SELF,
    DefaultPrivilege,
    Policy,
    Privilege,
    RoleProfile,
    Setting,
    attributes_from_row,
    default_privileges_from_rows,
    privileges_from_rows,
    settings_from_rows,
)

PLAIN = attributes_from_row([False, True, False, False, False, False, -1, None])


def statements(target: RoleProfile, source: RoleProfile) -> list[str]:
    return [
        c.statement.as_string(None) for c in plan(target, source, target_role="app_green", source_role="app")
    ]


def test_equal_profiles_plan_nothing_and_show_no_difference() -> None:
    profile = RoleProfile(PLAIN, privileges=frozenset({Privilege("table", ("public", "t"), "SELECT")}))
    assert statements(profile, profile) == []
    assert profile.differences(profile, mine="app", theirs="app_green") == []


def test_attributes_are_planned_in_one_statement_and_login_is_left_alone() -> None:
    source = RoleProfile(
        attributes_from_row([False, False, True, True, False, False, 5, "2100-01-01T00:00:00.000000+00:00"])
    )
    assert statements(RoleProfile(PLAIN), source) == [
        "ALTER ROLE \"app_green\" NOINHERIT CREATEROLE CREATEDB CONNECTION LIMIT 5 VALID UNTIL '2100-01-01T00:00:00.000000+00:00'"
    ]
    diffs = source.differences(RoleProfile(PLAIN), mine="app", theirs="app_green")
    assert "attribute CREATEDB: app CREATEDB, app_green NOCREATEDB" in diffs


def test_no_expiry_and_infinity_are_the_same() -> None:
    assert attributes_from_row([False] * 6 + [-1, None]) == attributes_from_row(
        [False] * 6 + [-1, "infinity"]
    )


def test_settings_are_set_per_database_and_reset_when_only_the_partner_has_them() -> None:
    source = RoleProfile(
        PLAIN,
        settings=settings_from_rows([("", ["statement_timeout=5s"]), ("appdb", ["work_mem=8MB"])], "app"),
    )
    target = RoleProfile(PLAIN, settings=frozenset({Setting("", "lock_timeout", "1s")}))
    assert statements(target, source) == [
        'ALTER ROLE "app_green" SET "statement_timeout" = \'5s\'',
        'ALTER ROLE "app_green" IN DATABASE "appdb" SET "work_mem" = \'8MB\'',
        'ALTER ROLE "app_green" RESET "lock_timeout"',
    ]


def test_search_path_is_set_element_by_element() -> None:
    source = RoleProfile(
        PLAIN, settings=settings_from_rows([("", ['search_path="$user", public, "My Schema"'])], "app")
    )
    assert statements(RoleProfile(PLAIN), source) == [
        "ALTER ROLE \"app_green\" SET \"search_path\" = '$user', 'public', 'My Schema'"
    ]


@pytest.mark.parametrize(
    ("stored", "elements"),
    [('"$user", public', ["$user", "public"]), ('a,"b,c" , "d""e"', ["a", "b,c", 'd"e']), ('""', [""])],
)
def test_list_settings_split_as_stored(stored: str, elements: list[str]) -> None:
    assert split_list_setting(stored) == elements


def test_a_setting_naming_the_role_itself_is_normalised() -> None:
    mine = settings_from_rows([("", ["role=app"])], "app")
    theirs = settings_from_rows([("", ["role=app_green"])], "app_green")
    assert mine == theirs == frozenset({Setting("", "role", SELF)})


def test_privileges_at_every_level_render_as_grants() -> None:
    rows = [
        ("database", "appdb", None, None, "CONNECT", False),
        ("schema", "s", None, None, "USAGE", False),
        ("table", "s", "t", None, "SELECT", True),
        ("column", "s", "t", "a", "UPDATE", False),
        ("sequence", "s", "q", None, "USAGE", False),
        ("function", "s", "f", "integer, text", "EXECUTE", False),
        ("procedure", "s", "p", "", "EXECUTE", False),
        ("large object", "16400", None, None, "SELECT", False),
        ("type", "s", "d", None, "USAGE", False),
        ("foreign server", "srv", None, None, "USAGE", False),
        ("parameter", "log_min_duration_statement", None, None, "SET", False),
    ]
    source = RoleProfile(PLAIN, privileges=privileges_from_rows(rows))
    assert sorted(statements(RoleProfile(PLAIN), source)) == sorted(
        [
            'GRANT CONNECT ON DATABASE "appdb" TO "app_green"',
            'GRANT USAGE ON SCHEMA "s" TO "app_green"',
            'GRANT SELECT ON TABLE "s"."t" TO "app_green" WITH GRANT OPTION',
            'GRANT UPDATE ("a") ON TABLE "s"."t" TO "app_green"',
            'GRANT USAGE ON SEQUENCE "s"."q" TO "app_green"',
            'GRANT EXECUTE ON FUNCTION "s"."f"(integer, text) TO "app_green"',
            'GRANT EXECUTE ON PROCEDURE "s"."p"() TO "app_green"',
            'GRANT SELECT ON LARGE OBJECT 16400 TO "app_green"',
            'GRANT USAGE ON TYPE "s"."d" TO "app_green"',
            'GRANT USAGE ON FOREIGN SERVER "srv" TO "app_green"',
            'GRANT SET ON PARAMETER "log_min_duration_statement" TO "app_green"',
        ]
    )


def test_partner_only_privileges_and_grant_options_are_revoked() -> None:
    source = RoleProfile(
        PLAIN, privileges=frozenset({Privilege("table", ("s", "t"), "SELECT", grantable=False)})
    )
    target = RoleProfile(
        PLAIN,
        privileges=frozenset(
            {
                Privilege("table", ("s", "t"), "SELECT", grantable=True),
                Privilege("table", ("s", "u"), "DELETE"),
            }
        ),
    )
    assert statements(target, source) == [
        'REVOKE GRANT OPTION FOR SELECT ON TABLE "s"."t" FROM "app_green"',
        'REVOKE DELETE ON TABLE "s"."u" FROM "app_green"',
    ]


def test_an_unknown_privilege_name_is_never_rendered() -> None:
    source = RoleProfile(PLAIN, privileges=frozenset({Privilege("table", ("s", "t"), "SELECT; DROP")}))
    with pytest.raises(ValueError, match="unknown privilege"):
        statements(RoleProfile(PLAIN), source)


def test_default_privileges_for_and_to_the_role() -> None:
    rows = [
        ("app", "s", "r", "reader", "SELECT", False),  # FOR the role
        ("owner", "", "S", "app", "USAGE", False),  # granting TO the role
        ("app", "", "r", "app", "SELECT", False),  # the owner's implicit privileges: not a profile fact
    ]
    source = RoleProfile(PLAIN, default_privileges=default_privileges_from_rows(rows, "app"))
    assert source.default_privileges == frozenset(
        {
            DefaultPrivilege(SELF, "s", "TABLES", "reader", "SELECT"),
            DefaultPrivilege("owner", "", "SEQUENCES", SELF, "USAGE"),
        }
    )
    changes = plan(RoleProfile(PLAIN), source, target_role="app_green", source_role="app")
    rendered = {c.statement.as_string(None): c.as_member_of for c in changes}
    assert rendered == {
        'ALTER DEFAULT PRIVILEGES FOR ROLE "app_green" IN SCHEMA "s" GRANT SELECT ON TABLES TO "reader"': "app_green",
        'ALTER DEFAULT PRIVILEGES FOR ROLE "owner" GRANT USAGE ON SEQUENCES TO "app_green"': "owner",
    }


def test_policies_gain_the_partner_and_lose_it_without_falling_back_to_public() -> None:
    source = RoleProfile(PLAIN, policies=frozenset({Policy("s", "t", "p", ("app", "auditor"))}))
    assert statements(RoleProfile(PLAIN), source) == [
        'ALTER POLICY "p" ON "s"."t" TO "app", "app_green", "auditor"'
    ]
    lonely = RoleProfile(PLAIN, policies=frozenset({Policy("s", "u", "q", ("app_green",))}))
    with pytest.raises(ValueError, match="PUBLIC"):
        statements(lonely, RoleProfile(PLAIN))


def test_one_color_is_never_made_a_member_of_the_other() -> None:
    from bluegreen_rotation.engines.postgresql.profile import Membership

    source = RoleProfile(
        PLAIN, memberships=frozenset({Membership("app_green", admin=False), Membership("r", admin=False)})
    )
    assert statements(RoleProfile(PLAIN), source) == ['GRANT "r" TO "app_green"']


def test_differences_name_each_property() -> None:
    source = RoleProfile(PLAIN, privileges=frozenset({Privilege("column", ("s", "t", "a"), "SELECT")}))
    assert source.differences(RoleProfile(PLAIN), mine="app", theirs="app_green") == [
        "privilege only app has: SELECT (a) ON TABLE s.t"
    ]
