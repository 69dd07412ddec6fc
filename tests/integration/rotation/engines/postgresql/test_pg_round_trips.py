"""The engine's reads and its plan in few round trips, with nothing lost: one query reads both roles'
whole profiles, the plan goes in one message, and a plan statement the server refuses is still named."""

from __future__ import annotations

import pytest

from bench.instrument import counting
from bluegreen_rotation.engines.postgresql import ENGINE
from bluegreen_rotation.errors import DatabaseError

from .conftest import Pair


def test_both_profiles_with_owned_objects_and_memberships_are_one_query(pair: Pair) -> None:
    reader, table = pair.name("rt_reader"), pair.name("rt_t")
    pair.sql(f"CREATE ROLE {reader} NOLOGIN")
    pair.own(f"CREATE TABLE {table} (x int)")
    pair.own(f"GRANT SELECT ON {table} TO {reader}")
    pair.create_source()
    pair.sql(f"GRANT {reader} TO {pair.source}")
    pair.sql(f"ALTER ROLE {pair.source} SET work_mem = '8MB'")
    pair.rotate()
    with pair.admin() as admin, counting([]) as counters:
        states = admin.account_states(pair.source, pair.partner)
    assert counters.db_commands == 1
    source, partner = states[pair.source], states[pair.partner]
    assert source is not None and partner is not None
    assert {m.role for m in source.profile.memberships} == {reader}
    assert source.profile.differences(partner.profile, mine=pair.source, theirs=pair.partner) == []


def test_a_session_probe_is_one_message_and_sees_the_role_default_not_the_engine_bound(pair: Pair) -> None:
    pair.create_source()
    pair.sql(f"ALTER ROLE {pair.source} SET statement_timeout = '4321ms'")
    with counting([]) as counters:
        facts = ENGINE.session_facts(pair.endpoint, pair.source, pair.source_password, pair.database)
    assert (counters.db_connections, counters.db_commands) == (1, 1)
    assert facts.values["statement_timeout"] == "4321ms"


def test_a_plan_statement_the_server_refuses_is_named(pair: Pair) -> None:
    table = pair.name("rt_gone")
    pair.own(f"CREATE TABLE {table} (x int)")
    pair.create_source()
    pair.own(f"GRANT SELECT ON {table} TO {pair.source}")
    with pair.admin() as admin:
        states = admin.account_states(pair.source)
        source = states[pair.source]
        assert source is not None
        partner = admin.create_partner(source, pair.partner)
        pair.sql(f"DROP TABLE {table}")  # the plan, read before, now grants on a table that is gone
        with pytest.raises(
            DatabaseError,
            match=rf'cannot give {pair.partner} what {pair.source} has: GRANT SELECT ON TABLE "public"."{table}"',
        ):
            admin.clone_profile(source, partner)
