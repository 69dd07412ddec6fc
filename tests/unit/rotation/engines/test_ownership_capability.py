"""The shared-owner migration is a capability of the PostgreSQL admin only: MySQL accounts own nothing,
so callers (``bluegreen adopt --shared-owner``) ask ``isinstance(admin, OwnershipMigration)``, never the
engine's name."""

from __future__ import annotations

import pytest

from bluegreen_rotation.engines.base import OwnershipMigration
from bluegreen_rotation.engines.mysql.admin import MySQLAdmin
from bluegreen_rotation.engines.postgresql.admin import PostgreSQLAdmin
from bluegreen_rotation.engines.postgresql.ownership import validate_owner_name
from bluegreen_rotation.errors import InvalidInputError


def test_only_the_postgresql_admin_offers_the_migration() -> None:
    assert issubclass(PostgreSQLAdmin, OwnershipMigration)
    assert not issubclass(MySQLAdmin, OwnershipMigration)


@pytest.mark.parametrize("name", ["", "pg_owner", "PG_owner", "x" * 64, "a\x00b"])
def test_owner_names_postgresql_would_refuse_are_refused_first(name: str) -> None:
    with pytest.raises(InvalidInputError):
        validate_owner_name(name)


@pytest.mark.parametrize("name", ["app_owner", "x" * 63, "Owner With Space", "é" * 31])
def test_owner_names_postgresql_accepts_pass(name: str) -> None:
    validate_owner_name(name)
