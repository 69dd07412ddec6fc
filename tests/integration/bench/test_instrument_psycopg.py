"""The rotation benchmark counts psycopg's work as it counts pymysql's: every connection attempt
(a refused login too) and every statement sent, by the step it belongs to, on a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest

from bench.instrument import counting, mark_step
from bluegreen_ops.devstack.postgresql import MASTER_USER, PostgreSQL


def _connect(pg: PostgreSQL, password: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=pg.host,
        port=pg.port,
        user=MASTER_USER,
        password=password,
        dbname="postgres",
        sslmode="verify-full",
        sslrootcert=pg.ca_file,
        connect_timeout=5,
    )


def test_connections_and_statements_are_counted_by_step(postgresql_server: PostgreSQL) -> None:
    pg = postgresql_server
    with counting([]) as counters:
        mark_step("setSecret")
        with _connect(pg, pg.master_password) as conn:
            conn.execute("SELECT 1")
            with conn.cursor() as cur:
                cur.execute("SELECT %s::int", (2,))
                cur.executemany("SELECT %s::int", [(3,), (4,)])
            conn.commit()  # the transaction's COMMIT is a round trip too
        mark_step("testSecret")
        with pytest.raises(psycopg.OperationalError):
            _connect(pg, "not-the-password")
        mark_step("")
    assert counters.connections_by_step == {"setSecret": 1, "testSecret": 1}
    assert counters.db_connections == 2
    # SELECT 1, SELECT 2, one executemany, and the BEGIN and COMMIT of the implicit transaction.
    assert counters.commands_by_step["setSecret"] == counters.db_commands == 5


def test_counting_stops_when_the_block_ends(postgresql_server: PostgreSQL) -> None:
    with counting([]) as counters:
        pass
    with _connect(postgresql_server, postgresql_server.master_password) as conn:
        conn.execute("SELECT 1")
    assert counters.db_connections == 0 and counters.db_commands == 0
