"""PostgreSQL 16 behaviour, recorded (tests/fixtures/postgresql16/*.out), fed to the engine's code."""

from __future__ import annotations

import re

from bluegreen_rotation.engines.postgresql.password import iterations_problem, scram_iterations
from bluegreen_rotation.engines.postgresql.plan import plan
from bluegreen_rotation.engines.postgresql.profile import (
    Membership,
    RoleProfile,
    attributes_from_row,
    memberships_from_rows,
)
from bluegreen_rotation.engines.postgresql.rules import (
    MasterFacts,
    alter_problems,
    attribute_problems,
    membership_problems,
)
from bluegreen_rotation.engines.postgresql.session import membership_grants

from .regress_out import Step, flag, read

PG16 = 160004
_ALTER_RE = re.compile(r"^ALTER ROLE regress_partner (REPLICATION|BYPASSRLS|SUPERUSER|CREATEDB|CREATEROLE);$")
_GRANT_RE = re.compile(r"^GRANT (\w+) TO regress_partner;$")


def _master_from(steps: list[Step]) -> MasterFacts:
    attrs = next(s for s in steps if s.columns and s.columns[0] == "current_user").dicts()[0]
    roles = next(s for s in steps if s.columns == ["rolname", "rolsuper", "admin"]).dicts()
    return MasterFacts(
        name=attrs["current_user"],
        server_version=PG16,
        superuser=flag(attrs["rolsuper"]),
        createrole=flag(attrs["rolcreaterole"]),
        createdb=flag(attrs["rolcreatedb"]),
        replication=flag(attrs["rolreplication"]),
        bypassrls=flag(attrs["rolbypassrls"]),
        admin_of=frozenset(r["rolname"] for r in roles if flag(r["admin"])),
        superuser_roles=frozenset(r["rolname"] for r in roles if flag(r["rolsuper"])),
    )


def test_createrole_rules_refuse_exactly_the_attributes_postgresql_16_refused() -> None:
    steps = read("createrole_rules.out")
    master = _master_from(steps)
    checked = 0
    for step in steps:
        m = _ALTER_RE.match(step.statement)
        if not m:
            continue
        attribute = m.group(1)
        flags = dict.fromkeys(
            ("SUPERUSER", "INHERIT", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS"), False
        )
        flags[attribute] = True
        source = dict(attributes_from_row([*flags.values(), -1, None]))
        problems = attribute_problems(source, master, "regress_app")
        assert bool(problems) == (step.error is not None), (step.statement, problems)
        checked += 1
    assert checked == 5


def test_createrole_rules_refuse_exactly_the_memberships_postgresql_16_refused() -> None:
    steps = read("createrole_rules.out")
    master = _master_from(steps)
    grants = [(s, _GRANT_RE.match(s.statement)) for s in steps]
    checked = [(s, m.group(1)) for s, m in grants if m]
    assert len(checked) == 3
    for step, role in checked:
        problems = membership_problems(
            [Membership(role, admin=False, inherit=True, set=True)], master, "regress_app"
        )
        assert bool(problems) == (step.error is not None), (step.statement, problems)
        if problems:
            assert f"GRANT {role} TO regress_master WITH ADMIN OPTION" in problems[0]


def test_createrole_rules_refuse_altering_a_role_the_master_did_not_create() -> None:
    steps = read("createrole_rules.out")
    master = _master_from(steps)
    refused = {
        s.statement.split()[2]: s.error
        for s in steps
        if s.statement.startswith("ALTER ROLE") and "CONNECTION LIMIT" in s.statement
    }
    assert refused == {"regress_other_partner": "permission denied to alter role", "regress_partner": None}
    assert alter_problems("regress_other_partner", master)
    assert alter_problems("regress_partner", master) == []


def test_the_same_master_on_postgresql_15_may_grant_any_non_superuser_role() -> None:
    master = _master_from(read("createrole_rules.out"))
    pg15 = MasterFacts(**{**master.__dict__, "server_version": 150008})
    assert membership_problems([Membership("regress_elsewhere", admin=False)], pg15, "regress_app") == []
    assert alter_problems("regress_other_partner", pg15) == []
    source = dict(attributes_from_row([False, True, False, False, True, False, -1, None]))
    assert any("superuser" in p for p in attribute_problems(source, pg15, "regress_app"))


def test_membership_options_are_or_ed_over_grantors() -> None:
    step = next(s for s in read("membership_options.out") if "pg_auth_members" in s.statement)
    rows = [
        (r["rolname"], flag(r["admin_option"]), flag(r["inherit_option"]), flag(r["set_option"]))
        for r in step.dicts()
    ]
    assert memberships_from_rows(rows) == frozenset(
        {
            Membership("regress_auditor", admin=False, inherit=True, set=True),
            Membership("regress_reader", admin=False, inherit=True, set=False),
            Membership("regress_writer", admin=True, inherit=False, set=True),
        }
    )


def test_membership_options_are_planned_for_the_partner() -> None:
    step = next(s for s in read("membership_options.out") if "pg_auth_members" in s.statement)
    rows = [
        (r["rolname"], flag(r["admin_option"]), flag(r["inherit_option"]), flag(r["set_option"]))
        for r in step.dicts()
    ]
    attrs = attributes_from_row([False, True, False, False, False, False, -1, None])
    source = RoleProfile(attrs, memberships=memberships_from_rows(rows))
    statements = [
        c.statement.as_string(None)
        for c in plan(RoleProfile(attrs), source, target_role="app_green", source_role="app")
    ]
    assert statements == [
        'GRANT "regress_auditor" TO "app_green" WITH ADMIN FALSE, INHERIT TRUE, SET TRUE',
        'GRANT "regress_reader" TO "app_green" WITH ADMIN FALSE, INHERIT TRUE, SET FALSE',
        'GRANT "regress_writer" TO "app_green" WITH ADMIN TRUE, INHERIT FALSE, SET TRUE',
    ]
    # options the partner has and the source lacks are revoked, one by one
    partner = RoleProfile(
        attrs, memberships=frozenset({Membership("regress_reader", admin=True, inherit=True, set=True)})
    )
    only_reader = RoleProfile(
        attrs, memberships=frozenset(m for m in source.memberships if m.role == "regress_reader")
    )
    fixes = [
        c.statement.as_string(None)
        for c in plan(partner, only_reader, target_role="app_green", source_role="app")
    ]
    assert fixes == [
        'REVOKE ADMIN OPTION FOR "regress_reader" FROM "app_green"',
        'REVOKE SET OPTION FOR "regress_reader" FROM "app_green"',
    ]


def test_session_membership_facts_match_what_set_role_allowed() -> None:
    steps = read("membership_options.out")
    session = next(s for s in steps if s.columns == ["rolname", "usage", "set"])
    grants = membership_grants(
        [(r["rolname"], flag(r["usage"]), flag(r["set"])) for r in session.dicts()], "regress_app"
    )
    assert grants == frozenset(
        {
            "role regress_auditor: MEMBER USAGE SET",
            "role regress_reader: MEMBER USAGE",
            "role regress_writer: MEMBER SET",
        }
    )
    for step in steps:
        if step.statement.startswith("SET ROLE "):
            role = step.statement.removeprefix("SET ROLE ").rstrip(";")
            can_set = f"role {role}: MEMBER USAGE SET" in grants or f"role {role}: MEMBER SET" in grants
            assert can_set == (step.error is None), step.statement


def test_scram_iterations_of_stored_verifiers_are_read_and_checked() -> None:
    steps = read("scram_iterations.out")
    stored = next(s for s in steps if s.columns == ["rolname", "rolpassword_masked"]).dicts()
    by_role = {r["rolname"]: r["rolpassword_masked"] for r in stored}
    settings = [s.rows[0][0] for s in steps if s.statement == "SHOW scram_iterations;"]
    assert settings == ["4096", "1024"]
    assert scram_iterations(by_role["regress_passwd_1024"]) == 1024
    assert scram_iterations(by_role["regress_passwd_default"]) == 4096
    assert iterations_problem(by_role["regress_passwd_1024"], "1024") is None
    problem = iterations_problem(by_role["regress_passwd_default"], "1024")
    assert problem is not None and "libpq" in problem
    assert iterations_problem(by_role["regress_passwd_default"], None) is None  # PostgreSQL 15: no setting


def test_restricted_password_commands_need_rds_password() -> None:
    from bluegreen_rotation.engines.postgresql.rules import password_problems

    restricted = MasterFacts(
        name="master", server_version=PG16, createrole=True, restrict_password_commands=True
    )
    assert "GRANT rds_password TO master" in password_problems(restricted)[0]
    member = MasterFacts(**{**restricted.__dict__, "rds_password_member": True})
    assert password_problems(member) == []
    assert password_problems(MasterFacts(name="master", server_version=PG16)) == []
