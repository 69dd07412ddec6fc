"""The Django backend with PostgreSQL URLs against a real PostgreSQL 15: ``"ENGINE":
"bluegreen_db_django"`` picks Django's PostgreSQL backend (psycopg 3) by the URL's scheme, persistent
connections follow three played rotations, and a refused password (28P01) refreshes once.

Settings are configured once per process by :mod:`.test_django_rotations` (its ``default`` alias);
these tests build their wrappers from their own settings dicts, as Django does per alias and thread.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.integration.layer.pg_rotations import PgRotations

django = pytest.importorskip("django")

from tests.integration.layer.test_django_rotations import _configure  # noqa: E402

WHO_SQL = "SELECT current_user"


def _settings(ttl: float, **bluegreen: Any) -> dict[str, Any]:
    return {
        "ENGINE": "bluegreen_db_django",
        "NAME": "",  # the URL's database
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "OPTIONS": {},
        "CONN_MAX_AGE": 60,  # persistent: the backend must close old-color sessions itself
        "CONN_HEALTH_CHECKS": False,
        "AUTOCOMMIT": True,
        "ATOMIC_REQUESTS": False,
        "TIME_ZONE": None,
        "TEST": {},
        "BLUEGREEN": {"role": "writer", "ttl": ttl, **bluegreen},
    }


def _wrapper(ttl: float, alias: str, **bluegreen: Any) -> Any:
    from bluegreen_db_django.base import DatabaseWrapper

    return DatabaseWrapper(_settings(ttl, **bluegreen), alias=alias)


def _who(wrapper: Any) -> str:
    with wrapper.cursor() as cur:
        cur.execute(WHO_SQL)
        return str(cur.fetchone()[0])


def test_the_url_scheme_picks_djangos_postgresql_backend(pg_rotations: PgRotations, ttl: float) -> None:
    _configure(ttl)
    from bluegreen_db_django import postgresql

    wrapper = _wrapper(ttl, "pg-scheme")
    try:
        assert isinstance(wrapper, postgresql.DatabaseWrapper)
        assert wrapper.vendor == "postgresql"
        assert _who(wrapper) == pg_rotations.users["blue"]
        assert wrapper.connection.pgconn.ssl_in_use
        assert wrapper.connection.info.dbname == "layerdb"
    finally:
        wrapper.close()


@pytest.mark.slow
def test_django_postgresql_through_three_rotations(
    pg_rotations: PgRotations, ttl: float, no_password_in_pg_logs: list[str]
) -> None:
    rot = pg_rotations
    _configure(ttl)
    seen: list[tuple[float, str]] = []
    errors: list[str] = []
    stop = threading.Event()

    def serve(n: int) -> None:
        wrapper = _wrapper(ttl, f"pg-{n}")  # one per thread, as Django's connections are
        try:
            while not stop.is_set():
                try:
                    seen.append((time.monotonic(), _who(wrapper)))
                    wrapper.close_if_unusable_or_obsolete()  # what the request signals do
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.01)
        finally:
            wrapper.close()

    threads = [threading.Thread(target=serve, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        flags = []
        for _ in range(3):
            # Persistent connections of the old color close at their next query after a refresh, so
            # within the grace period the color about to change has no session left, as
            # ACTIVE_SESSION_POLICY=fail demands.
            flags.append(rot.rotate(require_no_sessions=True))
            no_password_in_pg_logs.append(rot.passwords[rot.color])
        time.sleep(ttl * 2.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    assert errors == []
    assert flags == ["green", "blue", "green"]
    assert {user for _, user in seen} == set(rot.users.values())
    last = rot.last_finished
    assert last is not None
    assert {user for ts, user in seen if ts > last + ttl * 2 + 0.1} == {rot.users["green"]}


def test_django_postgresql_refused_password_refreshes_once_and_retries(
    pg_rotations: PgRotations, ttl: float, count_ssm_calls: Any
) -> None:
    rot = pg_rotations
    _configure(ttl)
    from bluegreen_db_django.follow import consumer_for

    # Counted from the first read: building the wrapper reads the snapshot (its URL's scheme picks it).
    calls = count_ssm_calls(consumer_for({"role": "writer", "ttl": 3600}).client)
    wrapper = _wrapper(3600, "pg-28p01")  # the snapshot never expires by itself
    try:
        assert _who(wrapper) == rot.users["blue"]
        wrapper.close()
        rot.rotate()  # green
        rot.rotate()  # blue gets a new password: the wrapper's snapshot is stale
        assert _who(wrapper) == rot.users["blue"]
        assert calls["GetParameters"] == 2  # the first read and exactly one forced refresh
    finally:
        wrapper.close()
