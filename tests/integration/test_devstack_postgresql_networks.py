"""The PostgreSQL stand-in admits the client networks it is given (``make invoke``'s container bridge)
besides its own address, always with a SCRAM password, and nothing else."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from bluegreen_ops.devstack.postgresql import PG_BIN, PostgreSQL
from tests.availability import skip_unless_available


@pytest.fixture(scope="module")
def pg_with_bridge() -> Iterator[PostgreSQL]:
    if not (PG_BIN / "postgres").exists():
        skip_unless_available(f"{PG_BIN}/postgres is missing: install Debian's postgresql-15")
    server = PostgreSQL(client_networks=("172.28.14.0/24",)).start()
    yield server
    server.stop()


def test_the_bridge_network_may_log_in_with_scram_only(pg_with_bridge: PostgreSQL) -> None:
    rules = pg_with_bridge.execute(
        "SELECT type, address, netmask, auth_method FROM pg_hba_file_rules WHERE address IS NOT NULL"
    )
    networks = {
        (kind, str(ipaddress.ip_network(f"{address}/{netmask}")), auth)
        for kind, address, netmask, auth in rules
    }
    assert networks == {
        ("hostssl", "127.0.0.1/32", "scram-sha-256"),
        ("host", "127.0.0.1/32", "scram-sha-256"),
        ("hostssl", "172.28.14.0/24", "scram-sha-256"),
        ("host", "172.28.14.0/24", "scram-sha-256"),
    }
